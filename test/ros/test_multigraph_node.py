"""vla_node running the multi-graph package kinds in real processes: a flow_matching package under real-time
chunking and an autoregressive_tokens package, each commanding the robot with its stage timings in /vla/status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vla_ros.training.ar_package import build_ar_example
from vla_ros.training.flow_package import build_flow_example

from ros_harness import JOINTS, NodeProcess, RobotStub

pytestmark = pytest.mark.ros

HOME = np.array([0.0, 0.4, 1.6, 0.0, 1.0, 0.0])


def _run_node(package: Path, expected_timings: set[str], **params: object) -> dict:
    robot = RobotStub("joint_position")
    robot.positions = HOME.copy()
    node = NodeProcess({"model_path": str(package), "command_interface": "joint_position", "control_rate_hz": 50.0,
                        "joint_names": JOINTS, "safety.image_timeout": 1.0, "safety.state_timeout": 0.5,
                        "safety.inference_timeout": 2.0, "warmup_inferences": 1, **params})
    try:
        robot.wait_for_node(60)
        robot.instruct("touch the red cube")
        status = robot.wait_for_status(lambda s: s.get("state") == "RUNNING" and s.get("inferences", 0) > 3, 60,
                                       "RUNNING with chunks")
        assert expected_timings <= set(status["timings_ms"]), status["timings_ms"]
        assert robot.received.commands_since(0.0), "no command reached the robot"
        return status
    finally:
        node.stop()
        robot.close()


@pytest.mark.parametrize("build, params, timings", [
    (lambda d: build_flow_example(d, seed=4), {"execution.blending": "rtc", "execution.injected_delay_s": 0.15},
     {"prefix_ms", "denoise_step_ms", "denoise_steps"}),
    (lambda d: build_ar_example(d, seed=4, horizon=5), {}, {"prefill_ms", "decode_token_ms", "decoded_tokens"}),
], ids=["flow_matching_rtc", "autoregressive_tokens"])
def test_when_multigraph_package_runs_in_vla_node_expect_commands_and_stage_timings(
        tmp_path: Path, build: Callable[[Path], Path], params: dict, timings: set[str]) -> None:
    status = _run_node(build(tmp_path / "package"), timings, **params)
    assert status["backend"] == "onnxruntime"
    if params.get("execution.blending") == "rtc":  # the frozen actions reached the model in its own process
        assert status["timings_ms"]["frozen_steps"] >= 1, status["timings_ms"]
