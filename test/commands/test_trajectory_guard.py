from __future__ import annotations

import numpy as np

from vla_ros.commands.trajectory import guard_horizon
from vla_ros.core.config import JointLimits

LIMITS = JointLimits.from_lists(["a", "b"], [-1.0, -1.0], [1.0, 1.0], [0.5, 1.0], [5.0, 5.0])


def test_first_point_is_the_safety_command_at_one_period() -> None:
    points = guard_horizon(np.array([0.1, 0.2]), 0.01, [], LIMITS, 0.1)
    assert len(points) == 1 and points[0][0] == 0.01
    np.testing.assert_array_equal(points[0][1], [0.1, 0.2])


def test_when_future_point_beyond_limit_expect_clamped_inside_margin() -> None:
    points = guard_horizon(np.zeros(2), 0.01, [(0.5, np.array([5.0, -5.0]))], LIMITS, 0.1)
    np.testing.assert_allclose(points[1][1], [0.9, -0.9])


def test_when_segment_too_fast_expect_time_stretched_not_path_bent() -> None:
    # joint a would need 0.4 rad in 0.1 s = 4 rad/s > 0.5 rad/s: the segment takes 0.8 s instead.
    points = guard_horizon(np.zeros(2), 0.01, [(0.11, np.array([0.4, 0.1]))], LIMITS, 0.0)
    assert abs((points[1][0] - points[0][0]) - 0.8) < 1e-9
    np.testing.assert_allclose(points[1][1], [0.4, 0.1])


def test_when_future_points_not_after_first_or_not_finite_expect_dropped() -> None:
    future = [(0.005, np.array([0.1, 0.1])), (0.2, np.array([np.nan, 0.0])), (0.3, np.array([0.05, 0.05]))]
    points = guard_horizon(np.zeros(2), 0.01, future, LIMITS, 0.0)
    assert len(points) == 2
    times = [t for t, _ in points]
    assert times == sorted(times) and len(set(times)) == len(times)
