"""Real-time chunking in the pipeline (execution.blending: rtc): the model is handed the actions executed while
it infers, and the hand-over to its chunk is continuous; the same scripted model under `latest` jumps."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.parameters import build_node_config
from vla_ros.core.types import Observation
from vla_ros.model import load_model_package
from vla_ros.pipeline import FakePolicy, Pipeline
from vla_ros.pipeline.checks import PipelineError
from vla_ros.pipeline.real_time_chunking import FrozenPrefixPlanner
from vla_ros.training.flow_package import build_flow_example

JOINTS = [f"joint_{i}" for i in range(1, 7)]
IMAGE = np.full((96, 96, 3), 120, dtype=np.uint8)
PERIOD = 0.02
LEVEL_STEP = 0.3  # each new chunk of the scripted model wants to be this much further on
DELAY_S = 0.2
ACT_EXAMPLE = Path(__file__).resolve().parents[2] / "models" / "act_example"


@pytest.fixture(scope="module")
def flow_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_flow_example(tmp_path_factory.mktemp("rtc") / "flow_example", seed=2)


def test_when_planner_asked_expect_executing_chunk_interpolated_over_the_expected_delay_steps() -> None:
    planner = FrozenPrefixPlanner(max_steps=5, period=0.1)
    assert planner.frozen_for(1.0) is None  # nothing executing yet
    chunk = np.arange(10, dtype=float)[:, None] * np.ones((1, 2))
    planner.on_chunk(chunk, obs_stamp=1.0, handed_over=1.25)
    frozen = planner.frozen_for(1.33)
    assert frozen is not None and frozen.shape == (3, 2)  # floor(0.25 / 0.1) + 1 steps
    np.testing.assert_allclose(frozen[:, 0], [3.3, 4.3, 5.3])
    planner.on_chunk(chunk, obs_stamp=2.0, handed_over=2.9)
    assert planner.steps_for(planner.expected_delay or 0.0) == 5  # capped at what the package was trained for
    planner.clear()
    assert planner.frozen_for(2.1) is None


class ScriptedRtcModel:
    """Each chunk moves LEVEL_STEP further than the last one; with frozen actions it starts with them."""

    def __init__(self, horizon: int, honour_frozen: bool) -> None:
        self.horizon, self.honour_frozen, self.count = horizon, honour_frozen, 0

    def __call__(self, obs: Observation) -> np.ndarray:
        self.count += 1
        chunk = np.full((self.horizon, len(JOINTS)), self.count * LEVEL_STEP)
        if self.honour_frozen and obs.frozen_actions is not None:
            chunk[: len(obs.frozen_actions)] = obs.frozen_actions
        return chunk


def _hand_over_steps(package_dir: Path, blending: str, honour_frozen: bool) -> tuple[list[float], FakePolicy]:
    config = build_node_config({"model_path": str(package_dir), "command_interface": "joint_position",
                                "control_rate_hz": 1.0 / PERIOD, "joint_names": JOINTS,
                                "execution.blending": blending, "execution.crossfade_s": 0.0,
                                "execution.injected_delay_s": DELAY_S})
    package = load_model_package(package_dir)
    policy = FakePolicy(ScriptedRtcModel(package.horizon, honour_frozen))
    now = [10.0]
    pipeline = Pipeline(config, package, policy, "fake", lambda: now[0], logging.getLogger("test"))
    pipeline.activate(now[0], hand_driven=True)
    pipeline.on_instruction("touch the red cube")
    steps, previous, chunks = [], None, 0
    for _ in range(150):
        now[0] = round(now[0] + PERIOD, 9)
        pipeline.on_joint_state(JOINTS, [0.0] * 6, now[0])
        pipeline.on_image("front", IMAGE, now[0], now[0])
        pipeline.run_inference_once(now[0])
        pipeline.control_tick(now[0])
        planned = pipeline.scheduler.sample(now[0])
        if pipeline.inference_count != chunks and previous is not None and chunks > 0:
            steps.append(float(np.max(np.abs(planned - previous))))
        chunks = pipeline.inference_count
        previous = planned
    return steps, policy


def test_when_blending_is_rtc_expect_model_given_the_executing_actions_and_a_continuous_hand_over(
        flow_package: Path) -> None:
    steps, policy = _hand_over_steps(flow_package, "rtc", honour_frozen=True)
    assert len(steps) >= 5
    assert max(steps) < 1e-9  # the frozen prefix is what runs at hand-over: executed exactly
    frozen = [o.frozen_actions for o in policy.observations if o.frozen_actions is not None]
    assert frozen and all(f.shape == (3, 6) for f in frozen)  # floor(0.2 s / 0.1 s) + 1 steps


def test_when_same_model_blended_latest_without_crossfade_expect_a_jump_at_every_hand_over(
        flow_package: Path) -> None:
    steps, policy = _hand_over_steps(flow_package, "latest", honour_frozen=True)
    assert min(steps) == pytest.approx(LEVEL_STEP)
    assert all(o.frozen_actions is None for o in policy.observations)


def test_when_rtc_asked_of_a_package_not_trained_for_it_expect_refusal_naming_blending() -> None:
    config = build_node_config({"model_path": str(ACT_EXAMPLE), "command_interface": "joint_position",
                                "joint_names": JOINTS, "execution.blending": "rtc"})
    with pytest.raises(PipelineError, match=r"execution\.blending=rtc needs a package trained for real-time"):
        Pipeline(config, load_model_package(ACT_EXAMPLE), FakePolicy(np.zeros((10, 6))), "fake", lambda: 0.0)
