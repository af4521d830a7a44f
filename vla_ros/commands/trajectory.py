"""Shape the JointTrajectory horizon so every point, not only the first, respects the joint limits.

joint_trajectory_controller executes the whole trajectory if we stop publishing, so the future points get
the same position clamp and velocity cap the safety filter applies to the first one. Velocity is capped by
stretching time between points (the path is kept; it only slows down), never by bending it.
"""

from __future__ import annotations

import numpy as np

from vla_ros.core.config import JointLimits


def guard_horizon(first: np.ndarray, first_time: float, future: list[tuple[float, np.ndarray]],
                  limits: JointLimits, margin: float) -> list[tuple[float, np.ndarray]]:
    """Return [(time_from_start, positions)] starting with the safety-filtered `first` command.

    `future` points come from the chunk scheduler with strictly increasing times; those at or before
    `first_time` are dropped. Positions are clamped into [lower + margin, upper - margin]; each segment's
    duration is stretched so no joint exceeds its max velocity.
    """
    lower = limits.lower + margin
    upper = limits.upper - margin
    points: list[tuple[float, np.ndarray]] = [(first_time, first)]
    previous_time, previous = first_time, first
    elapsed = first_time
    for time_from_start, positions in future:
        if time_from_start <= previous_time or not np.all(np.isfinite(positions)):
            continue
        clamped = np.clip(positions, lower, upper)
        needed = float(np.max(np.abs(clamped - previous) / limits.max_velocity))
        elapsed += max(time_from_start - previous_time, needed)
        points.append((elapsed, clamped))
        previous_time, previous = time_from_start, clamped
    return points
