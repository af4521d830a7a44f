"""Command shaping for the safety supervisor: the command published on each tick, running or holding.

The rule ids are those of vla_ros/safety/rules.py and docs/safety_rules.md. vla_ros/safety/hold_state.py
decides whether the robot may run; this module turns that decision into a command that is always finite
and limited, and remembers what was sent (the anchor of the next step).

While running: the proposal goes through the pure limit functions of vla_ros/safety/limits.py (S4-S7). Every
transition into RUNNING starts from the measured state and blends in over `blend_in_s` (S9).

Hold commands (S13):
- joint_position / joint_trajectory: the newest valid measured position (not the last command), as is (even
  beyond a limit: any other target would move the robot); with no valid measured state ever, publish=False.
- joint_velocity / twist: decelerate to zero within the acceleration limits, then zeros (always publishable).
  Braking at the joint limits / workspace box continues while holding; for joint_velocity with a stale state
  it uses the last valid measured position advanced by the velocities commanded since.
- pose: the measured end-effector pose when the robot provides one, else the last safe pose sent; with
  neither, publish=False.
"""

from __future__ import annotations

import numpy as np

from vla_ros.core.config import JointLimits, OutOfWorkspace, SafetyConfig
from vla_ros.core.types import CommandInterface
from vla_ros.safety.limits import (
    LimitedCommand,
    interpolate_pose,
    limit_joint_position,
    limit_joint_velocity,
    limit_pose,
    limit_twist,
    normalized_pose,
)


class CommandShaper:
    """Owns what was commanded (last command, its velocity, the blend-in) and shapes one command per tick."""

    def __init__(self, config: SafetyConfig, limits: JointLimits, interface: CommandInterface, command_size: int,
                 control_period: float, max_ee_linear_accel: float, max_ee_angular_accel: float) -> None:
        self.config = config
        self.limits = limits
        self.interface = interface
        self.command_size = command_size
        self.dt = control_period
        self.max_ee_linear_accel = max_ee_linear_accel
        self.max_ee_angular_accel = max_ee_angular_accel
        self.dof = limits.dof
        # S4 band: the limits less the margin; a joint narrower than twice the margin gets its midpoint.
        low = limits.lower + config.position_margin
        high = limits.upper - config.position_margin
        middle = (limits.lower + limits.upper) / 2.0
        self.band_low = np.where(low <= high, low, middle)
        self.band_high = np.where(low <= high, high, middle)
        self.workspace_low = np.asarray(config.workspace_min, dtype=float)
        self.workspace_high = np.asarray(config.workspace_max, dtype=float)
        self._last_measured: np.ndarray | None = None  # newest valid measured joint positions
        self._travel_since_measured = np.zeros(self.dof)  # joint_velocity: commanded motion since then
        self._blend_start = 0.0
        self._blend_from: np.ndarray | None = None
        self._command: np.ndarray | None = None  # the last command published (running or hold)
        self._velocity = np.zeros(self.command_size)  # last commanded velocity / twist / position step rate

    # ------------------------------------------------------------------ bookkeeping
    @property
    def has_command(self) -> bool:
        """Whether a command reference exists (only a pose stream can lack one while running)."""
        return self._command is not None

    def forget_blend_origin(self) -> None:
        """(Re)activation: the next RUNNING tick blends in from what is measured then (S9)."""
        self._blend_from = None

    def clock_jumped_back(self, now: float) -> None:
        """Restart the blend-in timer against the new clock."""
        self._blend_start = min(self._blend_start, now)

    def observe_measured(self, measured: np.ndarray | None, fresh: bool) -> None:
        """Take this tick's measured state: a fresh one resets the dead reckoning, a stale one extends it."""
        if fresh:
            self._travel_since_measured = np.zeros(self.dof)
        elif self.interface is CommandInterface.JOINT_VELOCITY:
            self._travel_since_measured = self._travel_since_measured + self._velocity * self.dt
        if measured is not None:
            self._last_measured = measured

    def dead_reckoned(self) -> np.ndarray | None:
        """Joint velocity interface without a fresh state: the last valid measured position advanced by the
        velocities commanded since, so braking at the limits keeps working while the state is stale."""
        if self.interface is not CommandInterface.JOINT_VELOCITY or self._last_measured is None:
            return None
        return self._last_measured + self._travel_since_measured

    # ------------------------------------------------------------------ running
    def begin_blend(self, now: float, measured: np.ndarray | None, ee_pose: np.ndarray | None) -> None:
        """A hold -> run transition: start from the measured state, at rest (S9)."""
        self._blend_start = now
        if self.interface.is_joint_space and self.interface is not CommandInterface.JOINT_VELOCITY:
            self._blend_from = measured
            self._command = measured
            self._velocity = np.zeros(self.command_size)
        elif self.interface is CommandInterface.POSE:
            start = ee_pose if ee_pose is not None else self._command
            self._blend_from = start
            self._command = start

    def _blend_fraction(self, now: float) -> float:
        if self.config.blend_in_s <= 0.0:
            return 1.0
        return float(min(1.0, max(0.0, (now - self._blend_start) / self.config.blend_in_s)))

    def running_command(self, now: float, proposed: np.ndarray | None, measured: np.ndarray,
                        ee_pose: np.ndarray | None) -> LimitedCommand:
        """The proposal (blended in, S9) limited to S4-S7; `measured` is fresh and valid while running."""
        alpha = self._blend_fraction(now)
        if self.interface is CommandInterface.JOINT_VELOCITY:
            target = np.zeros(self.dof) if proposed is None else alpha * np.asarray(proposed, dtype=float)
            limited = limit_joint_velocity(target, self._velocity, measured, self.band_low, self.band_high,
                                           self.limits.max_velocity, self.limits.max_acceleration,
                                           self.config.max_delta, self.dt)
            self._velocity = limited.velocity
            self._command = limited.command
            return limited
        if self.interface is CommandInterface.TWIST:
            target = np.zeros(6) if proposed is None else alpha * np.asarray(proposed, dtype=float)
            limited = self._limit_twist(target, ee_pose)
            self._velocity = limited.velocity
            self._command = limited.command
            return limited
        if self.interface is CommandInterface.POSE:
            return self._running_pose(alpha, proposed, ee_pose)

        # joint_position / joint_trajectory
        max_delta = self.config.max_delta
        anchor = measured if self._command is None else measured + np.clip(self._command - measured,
                                                                           -max_delta, max_delta)
        if proposed is None:
            target = anchor  # nothing due: come to rest where we are
        else:
            target = np.asarray(proposed, dtype=float)
            blend_from = self._blend_from if self._blend_from is not None else anchor
            if alpha < 1.0:
                target = blend_from + alpha * (target - blend_from)
        limited = limit_joint_position(target, anchor, self._velocity, measured, self.band_low, self.band_high,
                                       self.limits.max_velocity, self.limits.max_acceleration, max_delta, self.dt)
        self._command = limited.command
        self._velocity = limited.velocity
        return limited

    def _limit_twist(self, target: np.ndarray, ee_pose: np.ndarray | None) -> LimitedCommand:
        return limit_twist(target, self._velocity, self.config.max_ee_speed, self.config.max_ee_angular_speed,
                           self.max_ee_linear_accel, self.max_ee_angular_accel, self.dt,
                           None if ee_pose is None else ee_pose[:3], self.workspace_low, self.workspace_high)

    def _running_pose(self, alpha: float, proposed: np.ndarray | None, ee_pose: np.ndarray | None) -> LimitedCommand:
        previous = self._command
        if proposed is None:
            target = previous if previous is not None else ee_pose
            if target is None:
                # Nothing proposed, nothing known: the workspace centre is finite but must not be published.
                return LimitedCommand(self._pose_placeholder(), np.zeros(6), frozenset())
        else:
            target = normalized_pose(np.asarray(proposed, dtype=float))
            if self._blend_from is not None and alpha < 1.0:
                target = interpolate_pose(self._blend_from, target, alpha)
        limited = limit_pose(target, previous, self.workspace_low, self.workspace_high,
                             self.config.out_of_workspace is OutOfWorkspace.CLAMP, self.config.max_ee_speed,
                             self.config.max_ee_angular_speed, self.dt)
        # State evaluation rejected out-of-box targets already, so limit_pose cannot return None here.
        assert limited is not None
        self._command = limited.command
        return limited

    def _pose_placeholder(self) -> np.ndarray:
        return np.concatenate([(self.workspace_low + self.workspace_high) / 2.0, [0.0, 0.0, 0.0, 1.0]])

    # ------------------------------------------------------------------ holding
    def hold_command(self, fresh_measured: np.ndarray | None,
                     ee_pose: np.ndarray | None) -> tuple[LimitedCommand, bool]:
        """S13 hold command and whether it may be published; `fresh_measured` is None when the state is stale."""
        if self.interface is CommandInterface.JOINT_VELOCITY:
            limited = limit_joint_velocity(np.zeros(self.dof), self._velocity, fresh_measured, self.band_low,
                                           self.band_high, self.limits.max_velocity, self.limits.max_acceleration,
                                           self.config.max_delta, self.dt)
            self._velocity = limited.velocity
            self._command = limited.command
            return limited, True
        if self.interface is CommandInterface.TWIST:
            limited = self._limit_twist(np.zeros(6), ee_pose)
            self._velocity = limited.velocity
            self._command = limited.command
            return limited, True
        if self.interface is CommandInterface.POSE:
            hold = ee_pose if ee_pose is not None else self._command
            if hold is None:
                return LimitedCommand(self._pose_placeholder(), np.zeros(6), frozenset()), False
            self._command = hold
            return LimitedCommand(hold.copy(), np.zeros(6), frozenset()), True
        self._velocity = np.zeros(self.dof)
        if self._last_measured is None:
            self._command = None
            return LimitedCommand(np.zeros(self.dof), self._velocity, frozenset()), False
        # Exactly where the robot is, even beyond a limit: any other target would move it (and could jump).
        hold = self._last_measured
        self._command = hold
        return LimitedCommand(hold.copy(), self._velocity, frozenset()), True
