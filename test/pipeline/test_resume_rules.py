"""S14/S15 through the hand-driven pipeline: re-arming never restarts motion; long holds need a new instruction."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.parameters import build_node_config
from vla_ros.core.types import NodeState
from vla_ros.model import load_model_package
from vla_ros.pipeline import FakePolicy, Pipeline
from vla_ros.pipeline.resume import ResumeRule

MODEL = Path(__file__).resolve().parents[2] / "models" / "act_example"
JOINTS = [f"joint_{i}" for i in range(1, 7)]
HOME = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
IMAGE = np.full((96, 96, 3), 120, dtype=np.uint8)
PERIOD = 0.02


class Robot:
    """A hand-driven pipeline with a FakePolicy and switchable inputs."""

    def __init__(self, **params: object) -> None:
        package = load_model_package(MODEL)
        config = build_node_config({"model_path": str(MODEL), "command_interface": "joint_position",
                                    "control_rate_hz": 1.0 / PERIOD, "joint_names": JOINTS, **params})
        self.now = 100.0
        self.camera = True
        self.heartbeat: bool | None = None  # None: nothing sent
        self.pipeline = Pipeline(config, package, FakePolicy(np.zeros((package.horizon, package.action_dim))),
                                 "fake", lambda: self.now, logging.getLogger("test"))
        self.pipeline.activate(self.now, hand_driven=True)

    def run(self, seconds: float):
        output = None
        for _ in range(round(seconds / PERIOD)):
            self.now += PERIOD
            self.pipeline.on_joint_state(JOINTS, HOME.tolist(), self.now)
            if self.camera:
                self.pipeline.on_image("front", IMAGE, self.now, self.now)
            if self.heartbeat is not None:
                self.pipeline.on_heartbeat(self.heartbeat, self.now)
            self.pipeline.run_inference_once(self.now)
            output = self.pipeline.control_tick(self.now)
        return output.decision


def test_when_estop_released_and_reset_expect_hold_no_instruction_saying_rearmed() -> None:
    robot = Robot()
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(0.2).state is NodeState.RUNNING
    robot.pipeline.on_estop(True)
    assert robot.run(0.1).state is NodeState.ESTOP
    robot.pipeline.on_estop(False)
    ok, message = robot.pipeline.request_reset(robot.now)
    assert ok, message
    decision = robot.run(0.5)
    assert decision.state is NodeState.HOLD_NO_INSTRUCTION
    assert "re-armed" in decision.reason and "new instruction" in decision.reason
    np.testing.assert_allclose(decision.command, HOME)
    assert robot.pipeline.status(robot.now)["instruction"] == ""


def test_when_fault_reset_expect_no_motion_until_new_instruction_then_running() -> None:
    robot = Robot()
    robot.pipeline.policy.error = RuntimeError("driver crashed")
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(0.1).state is NodeState.FAULT
    robot.pipeline.policy.error = None
    assert robot.pipeline.request_reset(robot.now)[0]
    assert robot.run(0.3).state is NodeState.HOLD_NO_INSTRUCTION
    robot.pipeline.on_instruction("touch the red cube")
    decision = robot.run(0.2)
    assert decision.state is NodeState.RUNNING and decision.reason == ""


def test_when_camera_gap_shorter_than_auto_resume_expect_running_again_by_itself() -> None:
    robot = Robot(**{"safety.auto_resume_max_s": 1.0})
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(0.2).state is NodeState.RUNNING
    robot.camera = False
    assert robot.run(0.6).state is NodeState.HOLD_STALE_IMAGE  # 0.25 s image timeout, held ~0.35 s
    robot.camera = True
    assert robot.run(0.2).state is NodeState.RUNNING


def test_when_camera_gap_longer_than_auto_resume_expect_instruction_dropped_with_reason() -> None:
    robot = Robot(**{"safety.auto_resume_max_s": 1.0})
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(0.2).state is NodeState.RUNNING
    robot.camera = False
    assert robot.run(1.6).state is NodeState.HOLD_STALE_IMAGE
    robot.camera = True
    decision = robot.run(0.5)
    assert decision.state is NodeState.HOLD_NO_INSTRUCTION
    assert "HOLD_STALE_IMAGE lasted" in decision.reason and "auto_resume_max_s" in decision.reason
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(0.2).state is NodeState.RUNNING


def test_when_instruction_waits_for_first_frames_expect_it_starts_when_they_come() -> None:
    robot = Robot(**{"safety.auto_resume_max_s": 0.5})
    robot.camera = False
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(2.0).state is NodeState.HOLD_STALE_IMAGE
    robot.camera = True
    assert robot.run(0.2).state is NodeState.RUNNING


def test_when_heartbeat_required_expect_hold_until_true_and_on_false_or_silence() -> None:
    robot = Robot(**{"safety.heartbeat_topic": "/vla/heartbeat", "safety.heartbeat_timeout": 0.3,
                     "safety.auto_resume_max_s": 1.0})
    robot.pipeline.on_instruction("touch the red cube")
    decision = robot.run(0.2)
    assert decision.state is NodeState.HOLD_NO_HEARTBEAT and "no heartbeat" in decision.reason
    robot.heartbeat = True
    assert robot.run(0.2).state is NodeState.RUNNING
    robot.heartbeat = False
    decision = robot.run(0.1)
    assert decision.state is NodeState.HOLD_NO_HEARTBEAT and "says stop" in decision.reason
    robot.heartbeat = True
    assert robot.run(0.2).state is NodeState.RUNNING  # a short release resumes
    robot.heartbeat = None  # the publisher died
    decision = robot.run(0.5)
    assert decision.state is NodeState.HOLD_NO_HEARTBEAT and "heartbeat_timeout" in decision.reason
    robot.heartbeat = True
    robot.run(1.0)
    robot.heartbeat = None
    robot.run(2.0)  # a long silence drops the instruction
    robot.heartbeat = True
    assert robot.run(0.2).state is NodeState.HOLD_NO_INSTRUCTION


def test_when_heartbeat_not_configured_expect_it_is_ignored() -> None:
    robot = Robot()
    robot.pipeline.on_instruction("touch the red cube")
    assert robot.run(0.2).state is NodeState.RUNNING


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_when_auto_resume_limit_invalid_expect_error_naming_it(bad: float) -> None:
    with pytest.raises(ValueError, match="auto_resume_max_s"):
        ResumeRule(bad)


def test_when_clock_jumps_back_during_hold_expect_count_restarts_not_drop() -> None:
    rule = ResumeRule(1.0)
    rule.new_instruction()
    assert rule.after_tick(NodeState.RUNNING, 10.0, True) is None
    assert rule.after_tick(NodeState.HOLD_STALE_STATE, 10.5, True) is None
    assert rule.after_tick(NodeState.HOLD_STALE_STATE, 2.0, True) is None  # sim reset
    assert rule.after_tick(NodeState.HOLD_STALE_STATE, 2.9, True) is None
    assert rule.after_tick(NodeState.HOLD_STALE_STATE, 3.1, True) is not None
