"""From model period to control rate: interpolation between steps and blending of overlapping chunks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vla_ros.core.config import Blending, ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics
from vla_ros.execution.scheduler import ChunkScheduler


def chunk(actions: np.ndarray | list, obs_stamp: float, *, period: float = 0.1,
          semantics: ActionSemantics = ActionSemantics.JOINT_POSITION) -> ActionChunk:
    return ActionChunk(np.asarray(actions, dtype=float), obs_stamp, period, semantics, 0)


def constant(value: float | list[float], horizon: int = 10) -> np.ndarray:
    return np.tile(np.atleast_1d(np.asarray(value, dtype=float)), (horizon, 1))


def test_when_between_position_steps_expect_linear_interpolation() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(), action_dim=2)
    scheduler.add(chunk([[0.0, 1.0], [1.0, 3.0], [4.0, -1.0]], 0.0), now=0.0)
    np.testing.assert_allclose(scheduler.sample(0.05), [0.5, 2.0])
    np.testing.assert_allclose(scheduler.sample(0.175), [3.25, 0.0])
    np.testing.assert_allclose(scheduler.sample(0.2), [4.0, -1.0])
    assert scheduler.sample(0.2001) is None  # after the last target nothing is invented


def test_when_between_velocity_steps_expect_hold_then_nothing_after_the_last_step() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(), action_dim=1)
    scheduler.add(chunk([[1.0], [2.0], [3.0]], 0.0, semantics=ActionSemantics.JOINT_VELOCITY), now=0.0)
    assert scheduler.sample(0.0)[0] == 1.0
    assert scheduler.sample(0.099)[0] == 1.0
    assert scheduler.sample(0.1)[0] == 2.0
    assert scheduler.sample(0.299)[0] == 3.0  # the last step lasts its period
    assert scheduler.sample(0.3) is None


def test_when_velocity_chunk_has_ended_during_crossfade_expect_it_fades_out_from_zero() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.1), action_dim=1)
    velocity = ActionSemantics.JOINT_VELOCITY
    scheduler.add(chunk(constant(1.0, 5), 0.0, semantics=velocity), now=0.0)  # ends at 0.5
    scheduler.add(chunk(constant(2.0, 5), 0.3, semantics=velocity), now=0.45)
    np.testing.assert_allclose(scheduler.sample(0.47), [0.2 * 2.0 + 0.8 * 1.0])
    np.testing.assert_allclose(scheduler.sample(0.52), [0.7 * 2.0 + 0.3 * 0.0])


def test_when_position_chunk_has_ended_during_crossfade_expect_its_last_target_held() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.1), action_dim=1)
    scheduler.add(chunk(np.arange(5.0)[:, None], 0.0), now=0.0)  # ends at 0.4 on target 4.0
    scheduler.add(chunk(constant(10.0, 5), 0.3), now=0.35)
    np.testing.assert_allclose(scheduler.sample(0.38), [0.3 * 10.0 + 0.7 * 3.8])
    np.testing.assert_allclose(scheduler.sample(0.42), [0.7 * 10.0 + 0.3 * 4.0])


@pytest.mark.parametrize("arrival", [0.3, 0.3037])
@pytest.mark.parametrize("crossfade_s", [0.05, 0.1, 0.25])
def test_when_latest_chunk_disagrees_by_x_expect_per_tick_jump_bounded_by_crossfade(arrival: float,
                                                                                      crossfade_s: float) -> None:
    config = ExecutionConfig(control_rate_hz=100.0, blending=Blending.LATEST, crossfade_s=crossfade_s)
    dt = config.control_period
    slope = np.array([0.5, -2.0, 1.0])  # units per second, the within-chunk motion
    disagreement = np.array([0.2, 0.3, -0.4])  # X: how far the new chunk is from the old one
    due_a = np.arange(20) * 0.1
    due_b = 0.2 + np.arange(20) * 0.1
    scheduler = ChunkScheduler(config, action_dim=3)
    scheduler.add(chunk(due_a[:, None] * slope, 0.0), now=0.0)
    ticks = np.arange(0.2, 0.8, dt)
    values = []
    for t in ticks:
        if len(values) and t - dt < arrival <= t:
            scheduler.add(chunk(due_b[:, None] * slope + disagreement, 0.2), now=arrival)
        values.append(scheduler.sample(float(t)))
    values = np.array(values)

    jumps = np.abs(np.diff(values, axis=0))
    bound = np.abs(disagreement) * dt / crossfade_s + np.abs(slope) * dt
    assert np.all(jumps <= bound + 1e-9)
    # The new chunk fully took over after the crossfade, and the test can tell a hard switch apart.
    np.testing.assert_allclose(values[-1], ticks[-1] * slope + disagreement, atol=1e-9)
    assert np.all(np.abs(disagreement) > bound)


def test_when_crossfade_is_zero_expect_latest_chunk_wins_at_once() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.0), action_dim=1)
    scheduler.add(chunk(constant(1.0), 0.0), now=0.0)
    scheduler.add(chunk(constant(5.0), 0.2), now=0.3)
    assert scheduler.sample(0.29)[0] == 1.0
    assert scheduler.sample(0.3)[0] == 5.0


def test_when_chunks_arrive_within_one_crossfade_expect_nested_fades_hand_computed() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.1), action_dim=1)
    scheduler.add(chunk(constant(0.0), 0.0), now=0.0)
    scheduler.add(chunk(constant(10.0), 0.0), now=0.2)
    scheduler.add(chunk(constant(20.0), 0.0), now=0.25)
    # t = 0.27: B has weight 0.7 over A, C has weight 0.2 over that blend.
    expected = 0.2 * 20.0 + 0.8 * (0.7 * 10.0 + 0.3 * 0.0)
    np.testing.assert_allclose(scheduler.sample(0.27), [expected])
    np.testing.assert_allclose(scheduler.sample(0.35), [20.0])
    assert scheduler.stats["queue_length"] == 1  # fully faded-in: the older chunks are gone


def test_when_ensemble_chunks_overlap_expect_act_weights_oldest_first_hand_computed() -> None:
    config = ExecutionConfig(blending=Blending.ENSEMBLE, ensemble_decay=0.5)
    scheduler = ChunkScheduler(config, action_dim=2)
    scheduler.add(chunk(constant([1.0, -1.0]), 0.0), now=0.05)  # covers 0.05 .. 0.9
    scheduler.add(chunk(constant([3.0, -3.0]), 0.2), now=0.25)  # covers 0.25 .. 1.1
    scheduler.add(chunk(constant([7.0, -7.0]), 0.4), now=0.45)  # covers 0.45 .. 1.3

    w1, w2 = math.exp(-0.5), math.exp(-1.0)
    np.testing.assert_allclose(scheduler.sample(0.1), [1.0, -1.0])
    np.testing.assert_allclose(scheduler.sample(0.3), np.array([1.0, -1.0]) * (1 + 3 * w1) / (1 + w1))
    np.testing.assert_allclose(scheduler.sample(0.5), np.array([1.0, -1.0]) * (1 + 3 * w1 + 7 * w2) / (1 + w1 + w2))
    # Once the oldest has ended, the next oldest takes weight exp(0) = 1.
    np.testing.assert_allclose(scheduler.sample(0.95), np.array([1.0, -1.0]) * (3 + 7 * w1) / (1 + w1))
    np.testing.assert_allclose(scheduler.sample(1.2), [7.0, -7.0])


def test_when_ensemble_decay_is_zero_expect_plain_mean_of_interpolated_chunks() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(blending=Blending.ENSEMBLE, ensemble_decay=0.0), action_dim=1)
    scheduler.add(chunk(np.arange(10.0)[:, None], 0.0), now=0.0)  # value t / 0.1
    scheduler.add(chunk(np.arange(10.0)[:, None] * 2.0, 0.1), now=0.12)  # value 2 (t - 0.1) / 0.1
    np.testing.assert_allclose(scheduler.sample(0.15), [(1.5 + 1.0) / 2.0])
