"""The hand-driven pipeline with FakePolicy: what reaches the robot when the policy misbehaves, without a model."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from vla_ros.core.parameters import build_node_config
from vla_ros.core.types import NodeState
from vla_ros.model import load_model_package
from vla_ros.pipeline import FakePolicy, Pipeline

MODEL = Path(__file__).resolve().parents[2] / "models" / "act_example"
JOINTS = [f"joint_{i}" for i in range(1, 7)]
HOME = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
IMAGE = np.full((96, 96, 3), 120, dtype=np.uint8)
PERIOD = 0.02


def _hand_driven(policy: FakePolicy) -> tuple[Pipeline, list[float]]:
    config = build_node_config({"model_path": str(MODEL), "command_interface": "joint_position",
                                "control_rate_hz": 1.0 / PERIOD, "joint_names": JOINTS})
    package = load_model_package(MODEL)
    now = [100.0]
    pipeline = Pipeline(config, package, policy, "fake", lambda: now[0], logging.getLogger("test"))
    pipeline.activate(now[0], hand_driven=True)
    return pipeline, now


def _run_ticks(pipeline: Pipeline, now: list[float], ticks: int) -> list:
    outputs = []
    for _ in range(ticks):
        now[0] += PERIOD
        pipeline.on_joint_state(JOINTS, HOME.tolist(), now[0])
        pipeline.on_image("front", IMAGE, now[0], now[0])
        pipeline.run_inference_once(now[0])
        outputs.append(pipeline.control_tick(now[0]))
    return outputs


def test_when_hand_driven_expect_no_inference_thread_and_policy_gets_the_instruction() -> None:
    package_horizon = load_model_package(MODEL).horizon
    policy = FakePolicy(np.zeros((package_horizon, len(JOINTS))))
    pipeline, now = _hand_driven(policy)
    pipeline.on_instruction("touch the red cube")
    outputs = _run_ticks(pipeline, now, 5)
    assert not [t for t in threading.enumerate() if t.name == "vla_inference"]
    assert policy.observations and policy.observations[0].instruction == "touch the red cube"
    assert outputs[-1].decision.state is NodeState.RUNNING


def test_when_policy_raises_expect_fault_hold_at_measured_position() -> None:
    policy = FakePolicy(np.zeros((1, 1)), error=RuntimeError("CUDA error: an illegal memory access"))
    pipeline, now = _hand_driven(policy)
    pipeline.on_instruction("touch the red cube")
    last = _run_ticks(pipeline, now, 3)[-1].decision
    assert last.state is NodeState.FAULT
    assert "illegal memory access" in last.reason
    np.testing.assert_allclose(last.command, HOME)


def test_when_policy_returns_nan_expect_invalid_action_hold_and_nothing_of_it_commanded() -> None:
    package = load_model_package(MODEL)
    policy = FakePolicy(lambda obs: np.full((package.horizon, package.action_dim), np.nan))
    pipeline, now = _hand_driven(policy)
    pipeline.on_instruction("touch the red cube")
    outputs = _run_ticks(pipeline, now, 3)
    assert outputs[-1].decision.state is NodeState.HOLD_INVALID_ACTION
    assert all(np.all(np.isfinite(o.decision.command)) for o in outputs)


def test_when_pipeline_closes_policy_through_protocol_expect_fake_closed() -> None:
    policy = FakePolicy(np.zeros((1, 1)))
    pipeline, _ = _hand_driven(policy)
    pipeline.policy.close()
    assert policy.closed
