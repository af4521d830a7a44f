"""Every Policy implementation of vla_ros.model satisfies core.types.Policy: infer, reset, close, timings_ms."""

from __future__ import annotations

from pathlib import Path

from vla_ros.core.types import Policy
from vla_ros.model import ModelPolicy, RuntimeOptions, create_policy, load_model_package
from vla_ros.model.process_policy import ProcessPolicy, create_process_policy
from vla_ros.training.export import random_observations


def test_when_model_policy_is_created_expect_it_satisfies_the_policy_protocol(act_package_dir: Path) -> None:
    package = load_model_package(act_package_dir)
    policy, _ = create_policy(package, "onnxruntime", RuntimeOptions(intra_op_threads=1))
    assert isinstance(policy, ModelPolicy)
    assert isinstance(policy, Policy)
    assert policy.timings_ms == {}
    [obs] = random_observations(package.manifest, 1, seed=3)
    policy.infer(obs)
    assert {"preprocess", "inference", "postprocess", "total"} <= set(policy.timings_ms)
    policy.reset()
    assert policy.timings_ms == {}


def test_when_model_policy_is_closed_twice_expect_no_error(act_package_dir: Path) -> None:
    policy, _ = create_policy(load_model_package(act_package_dir), "onnxruntime", RuntimeOptions(intra_op_threads=1))
    policy.close()
    policy.close()


def test_when_process_policy_is_closed_twice_expect_no_error_and_the_child_gone(act_package_dir: Path) -> None:
    policy, _ = create_process_policy(act_package_dir, "onnxruntime", RuntimeOptions(intra_op_threads=1))
    try:
        assert isinstance(policy, ProcessPolicy)
        assert isinstance(policy, Policy)
        package = load_model_package(act_package_dir)
        [obs] = random_observations(package.manifest, 1, seed=5)
        policy.infer(obs)
        assert "ipc" in policy.timings_ms
        policy.reset()
        assert policy.timings_ms == {}
    finally:
        policy.close()
    assert policy.pid is None
    policy.close()
    assert policy.pid is None
