"""The remaining horizon as joint_trajectory_controller points."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.core.config import Blending, ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics
from vla_ros.execution.scheduler import ChunkScheduler


def line_chunk(obs_stamp: float, horizon: int, slope: float = 2.0) -> ActionChunk:
    """Positions slope * t (absolute time), as two identical joints."""
    due = obs_stamp + np.arange(horizon) * 0.1
    return ActionChunk(np.stack([slope * due, -slope * due], axis=1), obs_stamp, 0.1,
                       ActionSemantics.JOINT_POSITION, 0)


@pytest.mark.parametrize("blending", list(Blending))
def test_when_chunk_covers_the_horizon_expect_evenly_spaced_points_on_the_chunk(blending: Blending) -> None:
    config = ExecutionConfig(blending=blending, trajectory_horizon_s=0.5, trajectory_points=5)
    scheduler = ChunkScheduler(config, action_dim=2)
    scheduler.add(line_chunk(1.0, horizon=20), now=1.03)
    points = scheduler.trajectory(1.03)
    times = [t for t, _ in points]
    np.testing.assert_allclose(times, [0.1, 0.2, 0.3, 0.4, 0.5])
    for t, positions in points:
        np.testing.assert_allclose(positions, [2.0 * (1.03 + t), -2.0 * (1.03 + t)])


def test_when_chunk_ends_inside_the_horizon_expect_points_stop_at_the_last_step() -> None:
    config = ExecutionConfig(trajectory_horizon_s=0.5, trajectory_points=4)
    scheduler = ChunkScheduler(config, action_dim=2)
    scheduler.add(line_chunk(1.0, horizon=4), now=1.1)  # last step due at 1.3
    points = scheduler.trajectory(1.1)
    times = np.array([t for t, _ in points])
    assert len(points) == 4
    assert np.all(times > 0) and np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(0.2)
    np.testing.assert_allclose(points[-1][1], [2.6, -2.6])


def test_when_nothing_lies_ahead_expect_no_points() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(), action_dim=2)
    assert scheduler.trajectory(0.0) == []
    scheduler.add(line_chunk(1.0, horizon=4), now=1.3)  # only the last step, due now
    assert scheduler.trajectory(1.3) == []


def test_when_latest_crossfade_is_in_progress_expect_points_follow_the_fade_as_sampling_would() -> None:
    config = ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.2, trajectory_horizon_s=0.3,
                             trajectory_points=3)
    scheduler = ChunkScheduler(config, action_dim=2)
    scheduler.add(line_chunk(1.0, horizon=20), now=1.0)
    scheduler.add(line_chunk(1.1, horizon=20, slope=3.0), now=1.15)
    points = scheduler.trajectory(1.2)
    # The same scheduler sampled at those future moments gives the same values (and trajectory changed nothing).
    for t, positions in points:
        np.testing.assert_allclose(positions, scheduler.sample(1.2 + t))


def test_when_chunk_holds_velocities_expect_points_inside_the_last_step() -> None:
    config = ExecutionConfig(trajectory_horizon_s=1.0, trajectory_points=5)
    scheduler = ChunkScheduler(config, action_dim=1)
    actions = np.array([[1.0], [2.0], [3.0]])
    scheduler.add(ActionChunk(actions, 0.0, 0.1, ActionSemantics.JOINT_VELOCITY, 0), now=0.0)
    points = scheduler.trajectory(0.0)
    assert len(points) == 5
    assert points[-1][0] < 0.3
    assert points[-1][1][0] == 3.0
