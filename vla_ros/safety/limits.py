"""Pure limit functions (S4-S7, docs/safety_rules.md): each turns a desired command into one that respects the limits.

Every limit scales the whole motion by ONE factor so the direction of motion is kept; nothing is
clipped per joint (per-joint clipping bends the path). Where limits conflict the order of authority is
position limits (S4) > per-step delta cap (S6) > velocity (S5) > acceleration (S5): position and delta
are enforced last, as a uniform scale of the step, so they hold even when the acceleration limit has
to give way (e.g. the measured state jumped).

Intervention names reported in `interventions` match the supervisor's counters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POSITION_CLAMPED = "position_clamped"
VELOCITY_SCALED = "velocity_scaled"
ACCEL_SCALED = "accel_scaled"
DELTA_CAPPED = "delta_capped"
EE_SPEED_SCALED = "ee_speed_scaled"
WORKSPACE_CLAMPED = "workspace_clamped"
POSE_REJECTED = "pose_rejected"
INTERVENTIONS = (POSITION_CLAMPED, VELOCITY_SCALED, ACCEL_SCALED, DELTA_CAPPED, EE_SPEED_SCALED,
                 WORKSPACE_CLAMPED, POSE_REJECTED)

# A scale this close to 1 is numerical noise, not an intervention worth counting.
_SCALE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LimitedCommand:
    command: np.ndarray
    velocity: np.ndarray  # for position commands: the commanded step / dt
    interventions: frozenset[str]
    # True when a final position/delta/workspace guard shortened the step after the acceleration limit,
    # i.e. this tick's acceleration limit gave way to a higher-authority limit.
    guarded: bool = False


def braking_speed(distance: np.ndarray, max_accel: np.ndarray | float, dt: float) -> np.ndarray:
    """Largest speed from which a stop within `distance` is possible decelerating by max_accel*dt per tick.

    Exact for the discrete command stream (unlike the continuous sqrt(2*a*d)): starting at x*a*dt and
    slowing by a*dt each tick covers a*dt^2 * ((m+1)*x - m*(m+1)/2) with m = floor(x); this inverts it.
    """
    unit = np.asarray(max_accel, dtype=float) * dt * dt
    ticks = np.minimum(np.maximum(distance, 0.0) / unit, 1e15)  # far beyond any speed limit; avoids overflow
    whole = np.floor((np.sqrt(1.0 + 8.0 * ticks) - 1.0) / 2.0)
    return (ticks + whole * (whole + 1.0) / 2.0) / (whole + 1.0) * (unit / dt)


def uniform_scale(values: np.ndarray, caps: np.ndarray) -> float:
    """The largest s in [0, 1] with |s * values| <= caps on every component (caps >= 0)."""
    magnitude = np.abs(values)
    over = magnitude > caps
    if not over.any():
        return 1.0
    return float(np.min(caps[over] / magnitude[over]))  # each ratio < 1: no overflow for tiny values


def step_fraction_inside(start: np.ndarray, step: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """The largest s in [0, 1] keeping start + s*step inside [low, high] on every axis where start is inside.

    An axis already outside may move back towards the inside but not further out.
    """
    fraction = 1.0
    for axis in range(step.shape[0]):
        delta, begin = float(step[axis]), float(start[axis])
        if delta > 0.0 and begin + delta > high[axis]:
            fraction = min(fraction, max(0.0, (float(high[axis]) - begin) / delta))
        elif delta < 0.0 and begin + delta < low[axis]:
            fraction = min(fraction, max(0.0, (float(low[axis]) - begin) / delta))
    return fraction


def uniform_deceleration(direction: np.ndarray, max_accel: np.ndarray) -> np.ndarray:
    """Per-joint deceleration available when the whole velocity vector along `direction` slows down by one
    factor: the joint with the least acceleration for its share of the motion sets the pace for all.

    Braking distances must use this, not each joint's own limit, or a joint with a high limit plans a late
    stop that the shared factor cannot deliver.
    """
    magnitude = np.abs(direction)
    size = float(magnitude.max(initial=0.0))
    if size == 0.0:
        return np.asarray(max_accel, dtype=float)
    share = magnitude / size  # in [0, 1], no underflow for tiny directions
    # A joint with a negligible share hardly moves; letting it set the pace would divide by ~0.
    significant = share > 1e-9
    rate = float(np.min(max_accel[significant] / share[significant]))
    return np.where(significant, share * rate, max_accel)


def linear_angular_scale(linear: float, angular: float, linear_cap: float, angular_cap: float) -> float:
    """The largest s in [0, 1] with s*linear <= linear_cap and s*angular <= angular_cap (magnitudes >= 0).

    One factor for both parts of a twist, a twist change or a pose step, so the screw axis / path is kept.
    """
    scale = 1.0
    if linear > linear_cap:
        scale = linear_cap / linear
    if angular > angular_cap:
        scale = min(scale, angular_cap / angular)
    return scale


def _accel_limited(target_velocity: np.ndarray, previous_velocity: np.ndarray,
                   max_change: np.ndarray) -> tuple[np.ndarray, bool]:
    """Move from the previous velocity towards the target by one uniform fraction of the change."""
    change = target_velocity - previous_velocity
    k = uniform_scale(change, max_change)
    return previous_velocity + k * change, k < 1.0 - _SCALE_TOLERANCE


def limit_joint_position(target: np.ndarray, anchor: np.ndarray, previous_velocity: np.ndarray,
                         measured: np.ndarray, low: np.ndarray, high: np.ndarray, max_velocity: np.ndarray,
                         max_accel: np.ndarray, max_delta: float, dt: float) -> LimitedCommand:
    """One position command from `anchor` (where the last command is taken to be) towards `target`.

    low/high: the joint limits with the margin applied (S4). The result stays inside [low, high] or,
    per joint, no further outside than the anchor; within max_delta of `measured` (S6, the anchor must be
    within it); moves at most max_velocity*dt from the anchor (S5); braking is planned so the limits are
    reached at zero speed, and so is the target: the command never overshoots a target that stops
    abruptly; the price is a lag of v^2 / (2 * max_accel) behind a target moving at v.
    """
    flags: set[str] = set()
    clamped_target = np.clip(target, low, high)
    if not np.array_equal(clamped_target, target):
        flags.add(POSITION_CLAMPED)
    desired = (clamped_target - anchor) / dt

    # Tracking, not a limit (not counted): arrive at the target at rest.
    desired = desired * uniform_scale(desired, braking_speed(np.abs(clamped_target - anchor), max_accel, dt))

    room = np.where(desired > 0.0, high - anchor, anchor - low)
    caps = np.minimum(max_velocity, braking_speed(room, uniform_deceleration(desired, max_accel), dt))
    s = uniform_scale(desired, caps)
    if s < 1.0 - _SCALE_TOLERANCE:
        flags.add(VELOCITY_SCALED)
    velocity, accel_scaled = _accel_limited(s * desired, previous_velocity, max_accel * dt)
    if accel_scaled:
        flags.add(ACCEL_SCALED)

    step = velocity * dt
    inside_limits = step_fraction_inside(anchor, step, low, high)
    inside_delta = step_fraction_inside(anchor, step, measured - max_delta, measured + max_delta)
    if inside_limits < 1.0 - _SCALE_TOLERANCE:
        flags.add(POSITION_CLAMPED)
    if inside_delta < 1.0 - _SCALE_TOLERANCE:
        flags.add(DELTA_CAPPED)
    guard = min(inside_limits, inside_delta)
    step = step * guard
    return LimitedCommand(anchor + step, step / dt, frozenset(flags), guard < 1.0 - _SCALE_TOLERANCE)


def limit_joint_velocity(target: np.ndarray, previous: np.ndarray, measured: np.ndarray | None,
                         low: np.ndarray, high: np.ndarray, max_velocity: np.ndarray, max_accel: np.ndarray,
                         max_delta: float, dt: float) -> LimitedCommand:
    """One joint velocity command: |v| <= max_velocity, |v*dt| <= max_delta, change <= max_accel*dt,
    and (when the measured position is known) braking so the joints stop at the margin-reduced limits."""
    flags: set[str] = set()
    s_velocity = uniform_scale(target, max_velocity)
    s_delta = uniform_scale(target, np.full_like(target, max_delta / dt))
    s_position = 1.0
    if measured is not None:
        room = np.where(target > 0.0, high - measured, measured - low)
        s_position = uniform_scale(target, braking_speed(room, uniform_deceleration(target, max_accel), dt))
    for scale, name in ((s_velocity, VELOCITY_SCALED), (s_delta, DELTA_CAPPED), (s_position, POSITION_CLAMPED)):
        if scale < 1.0 - _SCALE_TOLERANCE:
            flags.add(name)
    desired = target * min(s_velocity, s_delta, s_position)
    velocity, accel_scaled = _accel_limited(desired, previous, max_accel * dt)
    if accel_scaled:
        flags.add(ACCEL_SCALED)
    guarded = False
    if measured is not None:
        inside = step_fraction_inside(measured, velocity * dt, low, high)
        if inside < 1.0 - _SCALE_TOLERANCE:
            flags.add(POSITION_CLAMPED)
            velocity = velocity * inside
            guarded = True
    return LimitedCommand(velocity, velocity, frozenset(flags), guarded)


def limit_twist(target: np.ndarray, previous: np.ndarray, max_speed: float, max_angular_speed: float,
                max_linear_accel: float, max_angular_accel: float, dt: float,
                ee_position: np.ndarray | None, workspace_low: np.ndarray,
                workspace_high: np.ndarray) -> LimitedCommand:
    """One twist [vx vy vz wx wy wz]: speed caps (S7) by one factor for the whole twist (the screw axis is
    kept), braking at the workspace box when the end-effector position is known, acceleration limits."""
    flags: set[str] = set()
    linear_speed = math.sqrt(float(target[0] ** 2 + target[1] ** 2 + target[2] ** 2))
    angular_speed = math.sqrt(float(target[3] ** 2 + target[4] ** 2 + target[5] ** 2))
    s = linear_angular_scale(linear_speed, angular_speed, max_speed, max_angular_speed)
    if s < 1.0 - _SCALE_TOLERANCE:
        flags.add(EE_SPEED_SCALED)
    desired = target * s
    if ee_position is not None:
        linear = desired[:3]
        room = np.where(linear > 0.0, workspace_high - ee_position, ee_position - workspace_low)
        s_box = uniform_scale(linear, braking_speed(room, max_linear_accel, dt))
        if s_box < 1.0 - _SCALE_TOLERANCE:
            flags.add(WORKSPACE_CLAMPED)
            desired = desired * s_box

    change = desired - previous
    linear_change = math.sqrt(float(change[0] ** 2 + change[1] ** 2 + change[2] ** 2))
    angular_change = math.sqrt(float(change[3] ** 2 + change[4] ** 2 + change[5] ** 2))
    k = linear_angular_scale(linear_change, angular_change, max_linear_accel * dt, max_angular_accel * dt)
    if k < 1.0 - _SCALE_TOLERANCE:
        flags.add(ACCEL_SCALED)
    twist = previous + k * change
    guarded = False
    if ee_position is not None:
        inside = step_fraction_inside(ee_position, twist[:3] * dt, workspace_low, workspace_high)
        if inside < 1.0 - _SCALE_TOLERANCE:
            flags.add(WORKSPACE_CLAMPED)
            twist = twist * inside
            guarded = True
    return LimitedCommand(twist, twist, frozenset(flags), guarded)


def normalized_pose(pose: np.ndarray) -> np.ndarray | None:
    """[x y z qx qy qz qw] with a unit quaternion, or None when it is not finite or the quaternion is ~0."""
    if pose.shape != (7,) or not np.isfinite(pose).all():
        return None
    norm = float(np.linalg.norm(pose[3:]))
    if norm < 1e-6:
        return None
    out = pose.astype(float)
    out[3:] /= norm
    return out


def quaternion_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Rotation angle (rad) between two unit quaternions."""
    dot = min(1.0, abs(float(np.dot(a, b))))
    return 2.0 * math.acos(dot)


def slerp(a: np.ndarray, b: np.ndarray, fraction: float) -> np.ndarray:
    """Shortest-path spherical interpolation between unit quaternions [qx qy qz qw]."""
    dot = float(np.dot(a, b))
    if dot < 0.0:
        b, dot = -b, -dot
    if dot > 0.9995:  # nearly parallel: linear interpolation is exact enough and avoids dividing by ~0
        q = a + fraction * (b - a)
    else:
        theta = math.acos(dot)
        q = (math.sin((1.0 - fraction) * theta) * a + math.sin(fraction * theta) * b) / math.sin(theta)
    return q / np.linalg.norm(q)


def interpolate_pose(start: np.ndarray, end: np.ndarray, fraction: float) -> np.ndarray:
    out = np.empty(7)
    out[:3] = start[:3] + fraction * (end[:3] - start[:3])
    out[3:] = slerp(start[3:], end[3:], fraction)
    return out


def limit_pose(target: np.ndarray, previous: np.ndarray | None, workspace_low: np.ndarray,
               workspace_high: np.ndarray, clamp: bool, max_speed: float, max_angular_speed: float,
               dt: float) -> LimitedCommand | None:
    """One pose target (normalized) kept inside the workspace box (clamp) or None (reject), then moved
    from `previous` by at most max_speed*dt and max_angular_speed*dt, one fraction for both."""
    flags: set[str] = set()
    pose = target.copy()
    position = np.clip(pose[:3], workspace_low, workspace_high)
    if not np.array_equal(position, pose[:3]):
        if not clamp:
            return None
        flags.add(WORKSPACE_CLAMPED)
        pose[:3] = position
    if previous is not None:
        distance = float(np.linalg.norm(pose[:3] - previous[:3]))
        angle = quaternion_angle(previous[3:], pose[3:])
        fraction = linear_angular_scale(distance, angle, max_speed * dt, max_angular_speed * dt)
        if fraction < 1.0 - _SCALE_TOLERANCE:
            flags.add(EE_SPEED_SCALED)
            pose = interpolate_pose(previous, pose, fraction)
    return LimitedCommand(pose, np.zeros(6), frozenset(flags))
