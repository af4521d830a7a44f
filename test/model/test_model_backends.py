"""Backends behind one interface: torch vs onnxruntime parity, auto fallback order, input errors, timings."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vla_ros.core.types import Observation
from vla_ros.model import (
    BackendUnavailable,
    InputError,
    ModelPackageError,
    RuntimeOptions,
    create_policy,
    load_model_package,
)
from vla_ros.training.export import cosine_similarity, random_observations
from vla_ros.training.package_builder import build_torch_package

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
TEST_MODULES = "vla_model_test_modules"


def observation(instruction: str = "pick up the cube", state: np.ndarray | None = None) -> Observation:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    return Observation({"front": image}, 1.0, instruction, np.zeros(6) if state is None else state)


@pytest.mark.parametrize("family", ["act", "rt2"])
def test_when_same_observations_run_on_torch_and_onnxruntime_expect_parity(
        family: str, act_package_dir: Path, rt2_package_dir: Path) -> None:
    pkg = load_model_package(act_package_dir if family == "act" else rt2_package_dir)
    torch_policy, torch_sel = create_policy(pkg, "torch")
    ort_policy, ort_sel = create_policy(pkg, "onnxruntime")
    assert (torch_sel.name, ort_sel.name) == ("torch", "onnxruntime")
    observations = random_observations(pkg.manifest, 6, seed=7)
    ref = np.stack([torch_policy.infer(o) for o in observations])
    got = np.stack([ort_policy.infer(o) for o in observations])
    assert ref.shape == (6, pkg.horizon, pkg.action_dim) and ref.dtype == np.float64
    assert np.max(np.abs(ref - got)) <= 1e-4
    assert cosine_similarity(ref, got) >= 0.999
    assert np.ptp(ref) > 0  # the model output really depends on its inputs


@pytest.mark.skipif(HAS_TENSORRT, reason="on a TensorRT machine auto must pick tensorrt")
def test_when_auto_on_cpu_machine_expect_tensorrt_and_gpu_skipped_with_reasons(
        act_package_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vla_ros.model"):
        policy, selection = create_policy(load_model_package(act_package_dir), "auto")
    assert selection.name == "onnxruntime" and selection.providers == ["CPUExecutionProvider"]
    assert [name for name, _ in selection.skipped] == ["tensorrt", "onnxruntime_gpu"]
    assert "TensorRT is not installed: pip install tensorrt" in selection.skipped[0][1]
    assert "CUDA/TensorRT execution provider" in selection.skipped[1][1]
    assert "skipping tensorrt: TensorRT is not installed" in caplog.text
    assert policy.infer(observation()).shape == (10, 6)


def test_when_package_is_torch_only_expect_auto_falls_through_to_torch(tmp_path: Path) -> None:
    pkg = load_model_package(build_torch_package(tmp_path / "slow", f"{TEST_MODULES}:SlowActPolicy",
                                                 {"delay_s": 0.0}))
    policy, selection = create_policy(pkg, "auto")
    assert selection.name == "torch"
    assert [name for name, _ in selection.skipped] == ["tensorrt", "onnxruntime_gpu", "onnxruntime_cpu"]
    assert all("needs ONNX weights" in why for _, why in selection.skipped)
    assert policy.infer(observation()).shape == (10, 6)


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here")
def test_when_tensorrt_requested_without_tensorrt_expect_clear_error(act_package_dir: Path) -> None:
    with pytest.raises(BackendUnavailable, match=r"TensorRT is not installed: pip install tensorrt \(GPU machines"):
        create_policy(load_model_package(act_package_dir), "tensorrt")


def test_when_torch_requested_for_onnx_only_package_expect_error(edited_act_package: Any) -> None:
    pkg = load_model_package(edited_act_package(lambda d: d["weights"].pop("torch")))
    with pytest.raises(BackendUnavailable, match=r"needs weights\.torch"):
        create_policy(pkg, "torch")


def test_when_unknown_backend_expect_error_listing_choices(act_package_dir: Path) -> None:
    with pytest.raises(ModelPackageError, match=r"backend='cuda': expected one of \['auto', 'tensorrt'"):
        create_policy(load_model_package(act_package_dir), "cuda")


def test_when_explicit_provider_is_missing_expect_backend_unavailable(act_package_dir: Path) -> None:
    options = RuntimeOptions(providers=("CUDAExecutionProvider",))
    with pytest.raises(BackendUnavailable, match="CUDAExecutionProvider"):
        create_policy(load_model_package(act_package_dir), "onnxruntime", options)


def test_when_io_binding_is_enabled_expect_same_actions(act_package_dir: Path) -> None:
    pkg = load_model_package(act_package_dir)
    plain, _ = create_policy(pkg, "onnxruntime")
    bound, _ = create_policy(pkg, "onnxruntime", RuntimeOptions(use_io_binding=True, graph_optimization="basic"))
    np.testing.assert_allclose(bound.infer(observation()), plain.infer(observation()), atol=1e-6)


def test_when_infer_runs_expect_stage_timings(act_package_dir: Path) -> None:
    policy, _ = create_policy(load_model_package(act_package_dir), "onnxruntime")
    policy.infer(observation())
    assert {"preprocess", "inference", "postprocess"} <= set(policy.timings_ms)
    assert all(v >= 0.0 for v in policy.timings_ms.values())
    policy.reset()
    assert policy.infer(observation()).shape == (10, 6)


def test_when_camera_is_missing_expect_input_error_naming_it(act_package_dir: Path) -> None:
    policy, _ = create_policy(load_model_package(act_package_dir), "onnxruntime")
    obs = Observation({"wrist": np.zeros((96, 96, 3), np.uint8)}, 0.0, "go", np.zeros(6))
    with pytest.raises(InputError, match=r"missing image from camera 'front'.*got \['wrist'\]"):
        policy.infer(obs)


def test_when_state_has_wrong_length_expect_input_error(act_package_dir: Path) -> None:
    policy, _ = create_policy(load_model_package(act_package_dir), "onnxruntime")
    with pytest.raises(InputError, match="expected 6 joint positions"):
        policy.infer(observation(state=np.zeros(7)))
    with pytest.raises(InputError, match="non-finite"):
        policy.infer(observation(state=np.array([0, 0, np.inf, 0, 0, 0.0])))


def test_when_input_error_is_raised_expect_value_error_subclass() -> None:
    assert issubclass(InputError, ValueError)


def test_when_torch_model_raises_expect_exception_that_is_not_input_error(tmp_path: Path) -> None:
    pkg = load_model_package(build_torch_package(tmp_path / "raising", f"{TEST_MODULES}:RaisingActPolicy"))
    policy, _ = create_policy(pkg, "torch")
    with pytest.raises(RuntimeError, match="deliberate model fault"):
        policy.infer(observation())


def test_when_torch_module_path_does_not_import_expect_error_naming_field(tmp_path: Path) -> None:
    pkg = load_model_package(build_torch_package(tmp_path / "bad", "no_such_module_xyz:Policy"))
    with pytest.raises(ModelPackageError, match=r"weights\.torch\.module: cannot import 'no_such_module_xyz'"):
        create_policy(pkg, "torch")


@pytest.mark.parametrize(("field", "value"), [("intra_op_threads", 0), ("graph_optimization", "max"),
                                              ("providers", ())])
def test_when_runtime_options_are_invalid_expect_error_naming_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"RuntimeOptions\.{field}="):
        RuntimeOptions(**{field: value})


BUNDLED = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("name", ["act_example", "rt2_example"])
def test_when_bundled_package_is_loaded_expect_valid_and_runnable(name: str) -> None:
    if not (BUNDLED / name / "vla.yaml").is_file():
        pytest.skip(f"models/{name} is not bundled in this checkout")
    pkg = load_model_package(BUNDLED / name)
    policy, _ = create_policy(pkg, "onnxruntime")
    actions = policy.infer(random_observations(pkg.manifest, 1)[0])
    assert actions.shape == (pkg.horizon, pkg.action_dim) and np.all(np.isfinite(actions))
    assert np.max(np.abs(actions)) <= 0.05  # scaled by action_scale=0.01: small motions for demos
