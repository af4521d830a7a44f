"""execution.injected_delay_s: a chunk reaches execution exactly `delay` after its observation on the pipeline's
clock, and the model stays busy meanwhile, as a slow model's would."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import build_node_config
from vla_ros.model import load_model_package
from vla_ros.pipeline import FakePolicy, Pipeline

MODEL = Path(__file__).resolve().parents[2] / "models" / "act_example"
JOINTS = [f"joint_{i}" for i in range(1, 7)]
HOME = np.zeros(6)
IMAGE = np.full((96, 96, 3), 120, dtype=np.uint8)
PERIOD = 0.01


def _pipeline(delay_s: float, policy: FakePolicy) -> tuple[Pipeline, list[float]]:
    config = build_node_config({"model_path": str(MODEL), "command_interface": "joint_position",
                                "control_rate_hz": 1.0 / PERIOD, "joint_names": JOINTS,
                                "execution.injected_delay_s": delay_s, "execution.crossfade_s": 0.0})
    now = [50.0]
    pipeline = Pipeline(config, load_model_package(MODEL), policy, "fake", lambda: now[0], logging.getLogger("t"))
    pipeline.activate(now[0], hand_driven=True)
    pipeline.on_instruction("touch the red cube")
    return pipeline, now


def _first_chunk_tick(delay_s: float) -> tuple[float, int]:
    """(sim seconds from the first observation until the scheduler holds its chunk, inferences by then)"""
    horizon = load_model_package(MODEL).horizon
    policy = FakePolicy(lambda obs: np.full((horizon, 6), 0.01))
    pipeline, now = _pipeline(delay_s, policy)
    first_obs = None
    for _ in range(100):
        now[0] = round(now[0] + PERIOD, 9)
        pipeline.on_joint_state(JOINTS, HOME.tolist(), now[0])
        pipeline.on_image("front", IMAGE, now[0], now[0])
        pipeline.run_inference_once(now[0])
        if first_obs is None and policy.observations:
            first_obs = policy.observations[0].stamp
        pipeline.control_tick(now[0])
        if pipeline.inference_count:  # counts chunks the scheduler accepted
            assert first_obs is not None
            return round(now[0] - first_obs, 6), len(policy.observations)
    raise AssertionError("the chunk never reached the scheduler")


@pytest.mark.parametrize("delay_s", [0.05, 0.2])
def test_when_delay_is_injected_expect_chunk_scheduled_exactly_that_late_and_model_busy(delay_s: float) -> None:
    waited, inferences = _first_chunk_tick(delay_s)
    assert waited == pytest.approx(delay_s, abs=1e-6)
    assert inferences == 1  # no newer observation was inferred while the slow "model" ran


def test_when_no_delay_expect_chunk_scheduled_on_the_observation_tick() -> None:
    waited, _ = _first_chunk_tick(0.0)
    assert waited == 0.0


def test_when_delay_is_negative_expect_error_naming_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"execution\.injected_delay_s"):
        build_node_config({"model_path": str(MODEL), "execution.injected_delay_s": -0.1})
