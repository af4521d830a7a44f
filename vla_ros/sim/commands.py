"""Turn any of the five command interfaces into a joint setpoint (position + velocity) per physics step.

Semantics follow the ROS controllers the node would talk to on a real robot:
- position (forward_position_controller): go to the targets, here with velocity/acceleration limits;
- velocity (forward_velocity_controller): integrate into the setpoint;
- trajectory (joint_trajectory_controller): interpolate from the state at receipt through the points by
  time_from_start (linear with positions only, cubic Hermite when velocities are given); a new message
  replaces the old trajectory; after the last point the last point is held;
- twist (MoveIt Servo): base-frame twist -> joint velocities by damped least squares on the site Jacobian;
- pose: target pose -> joint goal by iterative DLS IK, then approached like a position command.
Velocity-like commands (velocity, twist) expire after `cmd_timeout` without a new message, like
ros2_control's command timeouts: the arm then holds its position.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from vla_ros.sim.kinematics import ArmKinematics
from vla_ros.sim.model import (
    ARM_DOF,
    DOF,
    JOINT_LOWER,
    JOINT_MAX_ACCELERATION,
    JOINT_MAX_VELOCITY,
    JOINT_NAMES,
    JOINT_UPPER,
)


class CommandError(ValueError):
    """A command was malformed (wrong length, unknown joint, non-finite values)."""


class CommandMode(str, Enum):
    HOLD = "hold"
    POSITION = "position"
    VELOCITY = "velocity"
    TRAJECTORY = "trajectory"
    TWIST = "twist"
    POSE = "pose"


@dataclass(frozen=True)
class TrajectoryPoint:
    time_from_start: float  # s
    positions: np.ndarray
    velocities: np.ndarray | None = None


@dataclass(frozen=True)
class JointTrajectoryCommand:
    """A JointTrajectory message without ROS types; start_time 0 (or None) means 'on receipt'."""

    joint_names: tuple[str, ...]
    points: tuple[TrajectoryPoint, ...]
    start_time: float | None = None


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise CommandError(f"{what}: non-finite values {values.tolist()}")
    return values


class _Segment:
    """One interpolation segment between two timed joint states (for the joints it covers)."""

    def __init__(self, t0: float, q0: np.ndarray, v0: np.ndarray | None, t1: float, q1: np.ndarray,
                 v1: np.ndarray | None) -> None:
        self.t0, self.t1, self.q0, self.q1 = t0, t1, q0, q1
        self.cubic = v0 is not None and v1 is not None
        self.v0 = v0 if v0 is not None else np.zeros_like(q0)
        self.v1 = v1 if v1 is not None else np.zeros_like(q0)

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        duration = self.t1 - self.t0
        if duration <= 1e-9:
            return self.q1.copy(), self.v1.copy()
        s = float(np.clip((t - self.t0) / duration, 0.0, 1.0))
        if not self.cubic:
            return self.q0 + s * (self.q1 - self.q0), (self.q1 - self.q0) / duration
        # Cubic Hermite with end velocities (what JTC does when points carry velocities).
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        q = h00 * self.q0 + h10 * duration * self.v0 + h01 * self.q1 + h11 * duration * self.v1
        dh00, dh10 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1
        dh01, dh11 = -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
        v = (dh00 * self.q0 + dh01 * self.q1) / duration + dh10 * self.v0 + dh11 * self.v1
        return q, v


class CommandController:
    """Holds the active command and produces the joint setpoint (all 7 joints) for each physics step."""

    def __init__(self, kinematics: ArmKinematics, initial_positions: np.ndarray, cmd_timeout: float = 0.5) -> None:
        if not cmd_timeout > 0:
            raise CommandError(f"cmd_timeout={cmd_timeout!r}: expected a number > 0")
        self._kin = kinematics
        self.cmd_timeout = float(cmd_timeout)
        self.lower, self.upper = JOINT_LOWER.copy(), JOINT_UPPER.copy()
        self.max_velocity, self.max_acceleration = JOINT_MAX_VELOCITY.copy(), JOINT_MAX_ACCELERATION.copy()
        self.reset(initial_positions)

    # ----------------------------------------------------------------- state
    def reset(self, positions: np.ndarray) -> None:
        self.setpoint = np.clip(np.asarray(positions, dtype=float).copy(), self.lower, self.upper)
        self.setpoint_velocity = np.zeros(DOF)
        self.mode = CommandMode.HOLD
        self._goal = self.setpoint.copy()
        self._velocity = np.zeros(DOF)
        self._twist = np.zeros(6)
        self._segments: list[tuple[np.ndarray, _Segment]] = []
        self._last_command_time = -np.inf
        self.last_ik_error: str | None = None

    @property
    def goal(self) -> np.ndarray:
        """Where a position/pose command is heading (the setpoint itself in other modes)."""
        return self._goal.copy()

    # -------------------------------------------------------------- commands
    def _indices(self, joint_names: Sequence[str] | None, count: int, what: str) -> np.ndarray:
        if not joint_names:
            if count not in (ARM_DOF, DOF):
                raise CommandError(f"{what}: expected {ARM_DOF} or {DOF} values, got {count}")
            return np.arange(count)
        unknown = [n for n in joint_names if n not in JOINT_NAMES]
        if unknown:
            raise CommandError(f"{what}: unknown joints {unknown}; this robot has {list(JOINT_NAMES)}")
        if len(joint_names) != count:
            raise CommandError(f"{what}: {len(joint_names)} joint names but {count} values")
        return np.array([JOINT_NAMES.index(n) for n in joint_names])

    def command_positions(self, positions: Sequence[float], now: float,
                          joint_names: Sequence[str] | None = None) -> None:
        arr = _finite(np.asarray(positions, dtype=float).ravel(), "position command")
        idx = self._indices(joint_names, arr.size, "position command")
        self._goal = self.setpoint.copy()
        self._goal[idx] = np.clip(arr, self.lower[idx], self.upper[idx])
        self.mode = CommandMode.POSITION
        self._last_command_time = now

    def command_velocities(self, velocities: Sequence[float], now: float,
                           joint_names: Sequence[str] | None = None) -> None:
        arr = _finite(np.asarray(velocities, dtype=float).ravel(), "velocity command")
        idx = self._indices(joint_names, arr.size, "velocity command")
        self._velocity = np.zeros(DOF)
        self._velocity[idx] = arr
        self.mode = CommandMode.VELOCITY
        self._last_command_time = now

    def command_twist(self, twist: Sequence[float], now: float) -> None:
        arr = _finite(np.asarray(twist, dtype=float).ravel(), "twist command")
        if arr.size != 6:
            raise CommandError(f"twist command: expected [vx vy vz wx wy wz], got {arr.size} values")
        self._twist = arr
        self.mode = CommandMode.TWIST
        self._last_command_time = now

    def command_pose(self, position: Sequence[float], quat_xyzw: Sequence[float], now: float) -> bool:
        """Solve IK once for the new target; return False (and keep the old command) when unreachable."""
        pos = _finite(np.asarray(position, dtype=float).ravel(), "pose command position")
        quat = _finite(np.asarray(quat_xyzw, dtype=float).ravel(), "pose command orientation")
        if pos.size != 3 or quat.size != 4 or np.linalg.norm(quat) < 1e-6:
            raise CommandError("pose command: expected position [x y z] and a non-zero quaternion [x y z w]")
        result = self._kin.solve_ik(pos, quat / np.linalg.norm(quat), self.setpoint[:ARM_DOF])
        if not result.converged and (result.position_error > 0.01 or result.orientation_error > 0.05):
            self.last_ik_error = (f"pose {pos.tolist()} unreachable: residual {result.position_error:.3f} m, "
                                  f"{result.orientation_error:.3f} rad")
            return False
        self.last_ik_error = None
        self._goal = self.setpoint.copy()
        self._goal[:ARM_DOF] = result.positions
        self.mode = CommandMode.POSE
        self._last_command_time = now
        return True

    def command_trajectory(self, trajectory: JointTrajectoryCommand, now: float) -> None:
        if not trajectory.points:
            # JTC: an empty trajectory cancels the current one; hold where we are.
            self.hold()
            return
        idx = self._indices(trajectory.joint_names, len(trajectory.joint_names), "trajectory command")
        start = trajectory.start_time if trajectory.start_time else now
        times = [p.time_from_start for p in trajectory.points]
        if any(t2 <= t1 for t1, t2 in itertools.pairwise(times)) or times[0] < 0:
            raise CommandError(f"trajectory command: time_from_start must be >= 0 and increasing, got {times}")
        segments: list[tuple[np.ndarray, _Segment]] = []
        q_prev, v_prev, t_prev = self.setpoint[idx].copy(), self.setpoint_velocity[idx].copy(), start
        for point in trajectory.points:
            q = np.clip(_finite(np.asarray(point.positions, dtype=float), "trajectory positions"),
                        self.lower[idx], self.upper[idx])
            if q.size != idx.size:
                raise CommandError(f"trajectory point has {q.size} positions for {idx.size} joints")
            v = None if point.velocities is None or len(point.velocities) == 0 else np.asarray(point.velocities, float)
            t = start + point.time_from_start
            segments.append((idx, _Segment(t_prev, q_prev, v_prev if v is not None else None, t, q, v)))
            q_prev, v_prev, t_prev = q, (v if v is not None else np.zeros(idx.size)), t
        self._segments = segments  # replace-on-new-message, like JTC
        self.mode = CommandMode.TRAJECTORY
        self._last_command_time = now

    def hold(self) -> None:
        self._goal = self.setpoint.copy()
        self.mode = CommandMode.HOLD

    # ------------------------------------------------------------------ step
    def _trajectory_sample(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        q, v = self.setpoint.copy(), np.zeros(DOF)
        idx, first = self._segments[0]
        if now < first.t0:  # trajectory starts in the future: hold until then
            return q, v
        for idx, segment in self._segments:
            if now <= segment.t1:
                q[idx], v[idx] = segment.sample(now)
                return q, v
        idx, last = self._segments[-1]
        q[idx] = last.q1
        return q, v

    def _approach(self, goal: np.ndarray) -> np.ndarray:
        """Velocity that brakes into `goal` within the acceleration limit (trapezoidal profile)."""
        err = goal - self.setpoint
        return np.sign(err) * np.minimum(self.max_velocity, np.sqrt(2.0 * self.max_acceleration * np.abs(err)))

    def step(self, now: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Advance the setpoint by dt; return (positions, velocities) for all 7 joints."""
        stale = now - self._last_command_time > self.cmd_timeout
        if self.mode in (CommandMode.VELOCITY, CommandMode.TWIST) and stale:
            self.hold()
        if self.mode == CommandMode.TRAJECTORY:
            q, v = self._trajectory_sample(now)
            # Still bounded by the joint velocity limits, so a bad trajectory cannot fling the arm.
            step = np.clip(q - self.setpoint, -self.max_velocity * dt, self.max_velocity * dt)
            self.setpoint = np.clip(self.setpoint + step, self.lower, self.upper)
            self.setpoint_velocity = np.clip(v, -self.max_velocity, self.max_velocity)
            self._goal = self.setpoint.copy()
            return self.setpoint.copy(), self.setpoint_velocity.copy()
        if self.mode == CommandMode.VELOCITY:
            desired = self._velocity
        elif self.mode == CommandMode.TWIST:
            desired = np.zeros(DOF)
            desired[:ARM_DOF] = self._kin.twist_to_joint_velocity(self.setpoint[:ARM_DOF], self._twist)
            # Scale the whole vector (not per joint) so the Cartesian direction is preserved.
            ratio = np.max(np.abs(desired) / self.max_velocity)
            if ratio > 1.0:
                desired = desired / ratio
        elif self.mode == CommandMode.HOLD:
            desired = np.zeros(DOF)  # brake to a stop (within the acceleration limit) and stay
        else:  # POSITION, POSE
            desired = self._approach(self._goal)
        velocity = np.clip(desired, self.setpoint_velocity - self.max_acceleration * dt,
                           self.setpoint_velocity + self.max_acceleration * dt)
        velocity = np.clip(velocity, -self.max_velocity, self.max_velocity)
        new = self.setpoint + velocity * dt
        if self.mode in (CommandMode.POSITION, CommandMode.POSE):
            # Do not overshoot the goal: snap when this step would cross it.
            crossed = np.sign(self._goal - new) != np.sign(self._goal - self.setpoint)
            new = np.where(crossed, self._goal, new)
            velocity = np.where(crossed, 0.0, velocity)
        clipped = np.clip(new, self.lower, self.upper)
        velocity = np.where(clipped != new, 0.0, velocity)  # joint limit reached: stop that joint
        self.setpoint, self.setpoint_velocity = clipped, velocity
        if self.mode in (CommandMode.VELOCITY, CommandMode.TWIST, CommandMode.HOLD):
            self._goal = self.setpoint.copy()
        return self.setpoint.copy(), self.setpoint_velocity.copy()
