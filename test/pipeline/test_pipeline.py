"""The ROS-free pipeline with a real ONNX model on onnxruntime and a hand-driven clock."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.parameters import build_node_config
from vla_ros.core.types import NodeState
from vla_ros.model import create_policy, load_model_package
from vla_ros.model.options import RuntimeOptions
from vla_ros.pipeline import Pipeline, PipelineError

MODEL = Path(__file__).resolve().parents[2] / "models" / "act_example"
JOINTS = [f"joint_{i}" for i in range(1, 7)]
HOME = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
IMAGE = np.full((96, 96, 3), 120, dtype=np.uint8)


class Clock:
    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _pipeline(**params) -> tuple[Pipeline, Clock]:
    config = build_node_config({"model_path": str(MODEL), "command_interface": "joint_position",
                                "control_rate_hz": 50.0, "joint_names": JOINTS, **params})
    package = load_model_package(MODEL)
    policy, selection = create_policy(package, "onnxruntime", RuntimeOptions(intra_op_threads=1))
    clock = Clock()
    pipeline = Pipeline(config, package, policy, selection.name, clock, logging.getLogger("test"))
    pipeline.activate(clock.now, hand_driven=True)
    return pipeline, clock


def _feed(pipeline: Pipeline, clock: Clock, image_stamp: float | None = None) -> None:
    pipeline.on_joint_state(JOINTS, HOME.tolist(), clock.now)
    stamp = clock.now if image_stamp is None else image_stamp
    pipeline.on_image("front", IMAGE, stamp, clock.now)


def test_when_model_outputs_wrong_dimension_for_robot_expect_configure_error() -> None:
    with pytest.raises(PipelineError, match="outputs 6 action dims but joint_names has 7"):
        _pipeline(joint_names=[*JOINTS, "joint_7"], **{f"joint_limits.{k}": [v] * 7 for k, v in
                                                       {"lower": -3.0, "upper": 3.0, "max_velocity": 1.0,
                                                        "max_acceleration": 5.0}.items()})


def test_when_instruction_and_fresh_inputs_expect_running_commands_near_measured() -> None:
    pipeline, clock = _pipeline()
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock)
    assert pipeline.run_inference_once(clock.now)
    for _ in range(10):
        clock.now += 0.02
        _feed(pipeline, clock)
        output = pipeline.control_tick(clock.now)
    assert output.decision.state is NodeState.RUNNING
    assert np.max(np.abs(output.decision.command - HOME)) <= pipeline.config.safety.max_delta + 1e-9


def test_when_same_frame_and_instruction_expect_model_not_run_twice() -> None:
    pipeline, clock = _pipeline()
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock)
    assert pipeline.run_inference_once(clock.now)
    assert not pipeline.run_inference_once(clock.now)


def test_when_instruction_changes_expect_old_chunks_dropped_and_next_from_new_instruction() -> None:
    pipeline, clock = _pipeline()
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock)
    pipeline.run_inference_once(clock.now)
    clock.now += 0.02
    assert pipeline.scheduler.sample(clock.now) is not None
    pipeline.on_instruction("push the blue cylinder to the left")
    assert pipeline.scheduler.sample(clock.now) is None  # flushed at once, before any new inference
    pipeline.run_inference_once(clock.now)  # same frame, new instruction: the model runs again
    assert pipeline.scheduler.sample(clock.now + 0.01) is not None
    assert pipeline.scheduler.stats["instruction_id"] == pipeline.status(clock.now)["instruction_id"]


def test_when_observation_older_than_max_age_expect_not_inferred() -> None:
    pipeline, clock = _pipeline(**{"safety.max_observation_age": 0.2})
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock, image_stamp=clock.now - 0.3)
    assert not pipeline.run_inference_once(clock.now)
    assert pipeline.inference_count == 0


def test_when_inference_late_expect_past_steps_skipped() -> None:
    pipeline, clock = _pipeline()
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock)
    stamp = clock.now
    clock.now += 0.35  # the chunk becomes available 350 ms after its image (model period 0.1 s)
    pipeline.run_inference_once(stamp + 0.01)
    assert pipeline.timings_ms["skipped_steps"] >= 3


def test_when_image_stops_expect_stale_image_hold_at_measured_position() -> None:
    pipeline, clock = _pipeline(**{"safety.image_timeout": 0.25})
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock)
    pipeline.run_inference_once(clock.now)
    for _ in range(20):  # 0.4 s with joint states but no images
        clock.now += 0.02
        pipeline.on_joint_state(JOINTS, HOME.tolist(), clock.now)
        output = pipeline.control_tick(clock.now)
    assert output.decision.state is NodeState.HOLD_STALE_IMAGE
    np.testing.assert_allclose(output.decision.command, HOME)


def test_when_measured_state_far_outside_limits_expect_rejected_as_input_error() -> None:
    pipeline, clock = _pipeline()
    pipeline.on_joint_state(JOINTS, [100.0, 0, 0, 0, 0, 0], clock.now)
    assert pipeline._measured is None
    assert "outside the joint limits" in (pipeline._state_error or "")


def test_when_hold_requested_expect_no_instruction_and_flushed_queue() -> None:
    pipeline, clock = _pipeline()
    pipeline.on_instruction("touch the red cube")
    _feed(pipeline, clock)
    pipeline.run_inference_once(clock.now)
    pipeline.request_hold()
    clock.now += 0.02
    output = pipeline.control_tick(clock.now)
    assert output.decision.state is NodeState.HOLD_NO_INSTRUCTION
    assert pipeline.scheduler.sample(clock.now) is None
