"""The safety supervisor: one pure `step()` per control tick, between the execution stage and the robot.

Every command passes through `step()`, which enforces the rules S1, S3-S9, S11 and S13 of
docs/safety_rules.md (ids in vla_ros/safety/rules.py). It is split along one seam:
- vla_ros/safety/hold_state.py: which state applies (hold causes, latches, reset, precedence);
- vla_ros/safety/command_shaping.py: what is published in that state (limits while running, blend-in,
  hold commands).
This module owns the tick: it validates the configuration, orders the two halves within a tick, handles the
clock (a jump back restarts both halves' timers; a NaN clock holds and moves no timer) and keeps the counters.
"""

from __future__ import annotations

import math

import numpy as np

from vla_ros.core.config import JointLimits, SafetyConfig
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety.command_shaping import CommandShaper
from vla_ros.safety.decision import SafetyDecision, SafetyInputs, proposed_size
from vla_ros.safety.hold_state import HOLD_PRECEDENCE, HoldStateEvaluator, is_stale, valid_ee_pose, valid_measured
from vla_ros.safety.limits import INTERVENTIONS

__all__ = ["DEFAULT_MAX_EE_ANGULAR_ACCEL", "DEFAULT_MAX_EE_LINEAR_ACCEL", "HOLD_PRECEDENCE", "SafetySupervisor"]

# Defaults for the end-effector acceleration limits when a caller passes none (the node passes
# safety.max_ee_linear_accel / safety.max_ee_angular_accel).
DEFAULT_MAX_EE_LINEAR_ACCEL = 2.5  # m/s^2: reaches the 0.25 m/s reduced speed in 0.1 s
DEFAULT_MAX_EE_ANGULAR_ACCEL = 10.0  # rad/s^2


class SafetySupervisor:
    """Filters every command against the safety rules; see the module docstrings named above for each half."""

    def __init__(self, config: SafetyConfig, limits: JointLimits, interface: CommandInterface,
                 control_period: float, *, max_ee_linear_accel: float = DEFAULT_MAX_EE_LINEAR_ACCEL,
                 max_ee_angular_accel: float = DEFAULT_MAX_EE_ANGULAR_ACCEL) -> None:
        if not (isinstance(control_period, (int, float)) and np.isfinite(control_period) and control_period > 0):
            raise ValueError(f"control_period={control_period!r}: expected a finite number > 0")
        for name, value in (("max_ee_linear_accel", max_ee_linear_accel),
                            ("max_ee_angular_accel", max_ee_angular_accel)):
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r}: expected a finite number > 0")
        self.config = config
        self.limits = limits
        self.interface = CommandInterface(interface)
        self.dt = float(control_period)
        self.max_ee_linear_accel = float(max_ee_linear_accel)
        self.max_ee_angular_accel = float(max_ee_angular_accel)
        self.dof = limits.dof
        self.command_size = proposed_size(self.interface, self.dof)
        self.counters: dict[str, int] = {state.value.lower(): 0 for state in HOLD_PRECEDENCE}
        self.counters.update({name: 0 for name in INTERVENTIONS})
        self.counters.update({"ticks": 0, "invalid_proposals": 0, "input_errors": 0, "resets": 0,
                              "resets_refused": 0, "unpublishable_ticks": 0})
        self._shaper = CommandShaper(config, limits, self.interface, self.command_size, self.dt,
                                     self.max_ee_linear_accel, self.max_ee_angular_accel)
        self.band_low = self._shaper.band_low
        self.band_high = self._shaper.band_high
        self.workspace_low = self._shaper.workspace_low
        self.workspace_high = self._shaper.workspace_high
        self._evaluator = HoldStateEvaluator(config, self.dof, self.interface, self.command_size, self.counters)
        self._state = NodeState.IDLE
        self._last_now: float | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def state(self) -> NodeState:
        return self._state

    def activate(self, now: float) -> None:
        """Start (again) from the measured state: the next RUNNING tick blends in over blend_in_s (S9)."""
        self._evaluator.activate(now)
        self._shaper.forget_blend_origin()
        self._state = NodeState.IDLE  # forces a hold -> run transition, hence a fresh blend-in

    def deactivate(self) -> None:
        """Back to IDLE: holds until activate() is called again."""
        self._evaluator.deactivate()

    def new_instruction(self) -> None:
        """The instruction was replaced while active: forget an invalid-action latch of the old one (S3)."""
        self._evaluator.new_instruction()

    def reset(self, inputs: SafetyInputs) -> tuple[bool, str]:
        """~/reset: re-arm ESTOP / FAULT / HOLD_INVALID_ACTION latches unless a hold cause persists (S11)."""
        return self._evaluator.reset(inputs)

    # ------------------------------------------------------------------ step
    def step(self, inputs: SafetyInputs) -> SafetyDecision:
        """One control tick: the command to publish (always finite and limited) and the state."""
        now = float(inputs.now)
        self.counters["ticks"] += 1
        clock_ok = math.isfinite(now)  # a NaN/inf clock holds (every input reads as stale) and moves no timer
        if clock_ok and self._last_now is not None and now < self._last_now:
            # The clock jumped back: restart timers that compare against the old clock.
            self._shaper.clock_jumped_back(now)
            self._evaluator.clock_jumped_back(now)
        if clock_ok:
            self._last_now = now
        measured = valid_measured(inputs.measured_positions, self.dof)
        fresh = measured is not None and not is_stale(now, inputs.state_stamp, self.config.state_timeout)
        self._shaper.observe_measured(measured, fresh)
        ee_pose = valid_ee_pose(inputs.measured_ee_pose)

        state, reason = self._evaluator.evaluate(inputs)
        if clock_ok and state is not NodeState.RUNNING and state is not NodeState.HOLD_INFERENCE_LATE:
            # The inference heartbeat only runs while nothing else holds (inference is not expected then).
            self._evaluator.restart_heartbeat(now)
        if state is not self._state and state.is_hold:
            self.counters[state.value.lower()] += 1
        if state is NodeState.RUNNING and self._state is not NodeState.RUNNING:
            self._shaper.begin_blend(now, measured, ee_pose)
        self._state = state

        if state is NodeState.RUNNING:
            limited = self._shaper.running_command(now, inputs.proposed, measured, ee_pose)
            # Only a pose stream can lack any reference (no measured pose, nothing sent, nothing proposed).
            publish = self._shaper.has_command
        else:
            fresh_measured = measured if fresh else self._shaper.dead_reckoned()
            limited, publish = self._shaper.hold_command(fresh_measured, ee_pose)
        for name in limited.interventions:
            self.counters[name] += 1
        if not publish:
            self.counters["unpublishable_ticks"] += 1
        # A copy: the caller may keep or change it without touching the supervisor's own state.
        return SafetyDecision(command=limited.command.copy(), state=state, reason=reason, holding=state.is_hold,
                              publish=publish, interventions=limited.interventions)
