"""execution.inference_interval_s: how far apart the observations of consecutive inferences are, and the cap that
keeps the executing chunk from running out before the next one is due."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import build_node_config
from vla_ros.model import load_model_package
from vla_ros.pipeline import FakePolicy, Pipeline
from vla_ros.pipeline.pacing import InferencePacing, pacing_advice

MODEL = Path(__file__).resolve().parents[2] / "models" / "act_example"  # 10 steps of 0.1 s: a 0.9 s span
JOINTS = [f"joint_{i}" for i in range(1, 7)]
IMAGE = np.full((96, 96, 3), 120, dtype=np.uint8)
PERIOD = 0.01


def _inferred_stamps(interval_s: float, delay_s: float = 0.0, seconds: float = 2.0,
                     second_instruction_at: float | None = None, inference_timeout: float = 1.0) -> list[float]:
    """Seconds since the start of each observation the model ran on, frames arriving on every 10 ms tick."""
    config = build_node_config({"model_path": str(MODEL), "command_interface": "joint_position",
                                "control_rate_hz": 1.0 / PERIOD, "joint_names": JOINTS,
                                "execution.inference_interval_s": interval_s,
                                "execution.injected_delay_s": delay_s, "safety.inference_timeout": inference_timeout})
    package = load_model_package(MODEL)
    policy = FakePolicy(lambda obs: np.full((package.horizon, 6), 0.01))
    start = 50.0
    now = [start]
    pipeline = Pipeline(config, package, policy, "fake", lambda: now[0], logging.getLogger("t"))
    pipeline.activate(now[0], hand_driven=True)
    pipeline.on_instruction("touch the red cube")
    for tick in range(round(seconds / PERIOD)):
        now[0] = round(start + (tick + 1) * PERIOD, 9)
        if second_instruction_at is not None and abs(now[0] - start - second_instruction_at) < PERIOD / 2:
            pipeline.on_instruction("touch the blue cube")
        pipeline.on_joint_state(JOINTS, [0.0] * 6, now[0])
        pipeline.on_image("front", IMAGE, now[0], now[0])
        pipeline.run_inference_once(now[0])
        pipeline.control_tick(now[0])
    return [round(o.stamp - start, 6) for o in policy.observations]


def test_when_interval_is_zero_expect_every_new_frame_inferred() -> None:
    stamps = _inferred_stamps(0.0, seconds=0.5)
    assert len(stamps) == 50


def test_when_interval_is_set_expect_inferred_observations_that_far_apart() -> None:
    stamps = _inferred_stamps(0.3)
    assert stamps == pytest.approx([0.01, 0.31, 0.61, 0.91, 1.21, 1.51, 1.81], abs=1e-6)


@pytest.mark.parametrize(("delay_s", "expected_gap_s"), [(0.0, 0.8), (0.2, 0.6)])
def test_when_interval_exceeds_what_the_chunk_covers_expect_it_capped_by_the_measured_delay(
        delay_s: float, expected_gap_s: float) -> None:
    # A 0.9 s chunk span less the delay and one 0.1 s step of margin: each chunk arrives a step before its
    # predecessor's last one. The held chunk is released on the first 10 ms tick at or after its due time, so a
    # measured delay can be one tick longer.
    gaps = np.diff(_inferred_stamps(10.0, delay_s=delay_s, seconds=3.0))
    assert len(gaps) >= 3
    assert gaps == pytest.approx([expected_gap_s] * len(gaps), abs=PERIOD + 1e-6)


def test_when_the_inference_timeout_is_shorter_than_the_chunk_expect_interval_kept_a_step_below_it() -> None:
    gaps = np.diff(_inferred_stamps(10.0, seconds=2.0, inference_timeout=0.5))
    assert gaps == pytest.approx([0.4] * len(gaps), abs=1e-6)
    assert len(gaps) >= 3


def test_when_a_new_instruction_arrives_expect_inference_without_waiting_for_the_interval() -> None:
    stamps = _inferred_stamps(0.5, seconds=1.0, second_instruction_at=0.2)
    assert stamps == pytest.approx([0.01, 0.2, 0.7], abs=1e-6)


def test_when_the_stamp_goes_backwards_expect_inference_at_once() -> None:
    pacing = InferencePacing(0.5, chunk_span_s=0.9, step_s=0.1)
    pacing.started(sequence=1, instruction_id=1, stamp=10.0)
    assert not pacing.due(sequence=2, instruction_id=1, stamp=10.2)
    assert pacing.due(sequence=3, instruction_id=1, stamp=0.1)  # a reset simulation's clock


def test_when_the_same_frame_comes_again_expect_no_second_inference() -> None:
    pacing = InferencePacing(0.0, chunk_span_s=0.9, step_s=0.1)
    pacing.started(sequence=4, instruction_id=1, stamp=1.0)
    assert not pacing.due(sequence=4, instruction_id=1, stamp=1.0)
    assert pacing.due(sequence=4, instruction_id=2, stamp=1.0)


def test_when_the_delay_leaves_no_room_expect_interval_zero() -> None:
    pacing = InferencePacing(0.5, chunk_span_s=0.9, step_s=0.1)
    pacing.chunk_accepted(obs_stamp=1.0, handed_over=2.0)
    assert pacing.effective_interval() == 0.0


@pytest.mark.parametrize("value", [-0.1, 11.0])
def test_when_interval_is_out_of_range_expect_error_naming_the_parameter(value: float) -> None:
    with pytest.raises(ConfigError, match=r"execution\.inference_interval_s"):
        build_node_config({"model_path": str(MODEL), "execution.inference_interval_s": value})


@pytest.mark.parametrize(("blending", "interval_s", "warned"), [("rtc", 0.0, True), ("rtc", 1.0, False),
                                                               ("latest", 0.0, False)])
def test_when_rtc_replans_on_every_frame_expect_a_warning_naming_the_interval(blending: str, interval_s: float,
                                                                            warned: bool) -> None:
    config = build_node_config({"model_path": str(MODEL.parent / "sim_flow"), "execution.blending": blending,
                                "execution.inference_interval_s": interval_s})
    advice = pacing_advice(config)
    assert (advice is not None and "execution.inference_interval_s" in advice) == warned
