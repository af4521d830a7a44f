"""The safety supervisor: one pure `step()` per control tick, between the execution stage and the robot.

Hold causes and their precedence (the highest present is reported; S1):
    ESTOP > FAULT > IDLE > HOLD_STALE_STATE > HOLD_STALE_IMAGE > HOLD_INVALID_ACTION > HOLD_INFERENCE_LATE
    > HOLD_NO_INSTRUCTION
Safety-critical latches come first, then "the node is not active", then the inputs the robot's own state
depends on, then the model's output, then its liveness, then the operator's intent. HOLD_INFERENCE_LATE is
only judged while an instruction is active (without one no chunk is expected), so with no instruction the
state is HOLD_NO_INSTRUCTION. The inference heartbeat restarts whenever another hold ends: it measures
silence only while everything else would let the robot run.

Latching:
- ESTOP (S11): set on the very tick /vla/estop is true; cleared only by reset() once the e-stop is false.
- FAULT (S8): an inference exception; cleared only by reset().
- HOLD_INVALID_ACTION (S3): a rejected chunk, a non-finite or wrong-length proposal, a rejected pose; cleared
  by reset() or by a new instruction (`instruction_active` false -> true, or `new_instruction()` when the
  instruction is replaced while active): garbage from the model for one instruction says nothing about
  the next one, but retrying the same instruction needs an operator.
- Stale image/state, inference late, no instruction: not latched; they clear when the cause goes away.
Every transition into RUNNING starts from the measured state and blends in over `blend_in_s` (S9).

Hold commands (S13):
- joint_position / joint_trajectory: the newest valid measured position (not the last command), as is (even
  beyond a limit: any other target would move the robot); with no valid measured state ever, publish=False.
- joint_velocity / twist: decelerate to zero within the acceleration limits, then zeros (always publishable).
  Braking at the joint limits / workspace box continues while holding; for joint_velocity with a stale state
  it uses the last valid measured position advanced by the velocities commanded since.
- pose: the measured end-effector pose when the robot provides one, else the last safe pose sent; with
  neither, publish=False.

Stamps from the future by more than the timeout (the clock jumped back, or two clocks disagree) count as
stale: freshness cannot be judged. A non-finite or wrong-length measured state counts as stale state.
`input_error` alone does not hold (one corrupt frame at 30 Hz should not stop the robot; the timeouts
do that when the corruption persists); it is counted and quoted in stale-input reasons.
"""

from __future__ import annotations

import math

import numpy as np

from vla_ros.core.config import JointLimits, OutOfWorkspace, SafetyConfig
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety.decision import SafetyDecision, SafetyInputs
from vla_ros.safety.limits import (
    INTERVENTIONS,
    POSE_REJECTED,
    LimitedCommand,
    interpolate_pose,
    limit_joint_position,
    limit_joint_velocity,
    limit_pose,
    limit_twist,
    normalized_pose,
)

HOLD_PRECEDENCE = (
    NodeState.ESTOP,
    NodeState.FAULT,
    NodeState.IDLE,
    NodeState.HOLD_STALE_STATE,
    NodeState.HOLD_STALE_IMAGE,
    NodeState.HOLD_INVALID_ACTION,
    NodeState.HOLD_INFERENCE_LATE,
    NodeState.HOLD_NO_INSTRUCTION,
)

# Defaults for the end-effector acceleration limits (SafetyConfig has no field for them yet).
DEFAULT_MAX_EE_LINEAR_ACCEL = 2.5  # m/s^2: reaches the 0.25 m/s reduced speed in 0.1 s
DEFAULT_MAX_EE_ANGULAR_ACCEL = 10.0  # rad/s^2


def _age(now: float, stamp: float) -> float:
    return now - stamp


def _is_stale(now: float, stamp: float | None, timeout: float) -> bool:
    """Older than the timeout, from the future by more than it, or not a number at all (NaN clock/stamp)."""
    if stamp is None:
        return True
    return not abs(now - stamp) <= timeout


class SafetySupervisor:
    """Filters every command against S1-S13; see the module docstring for the rules."""

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
        # S4 band: the limits less the margin; a joint narrower than twice the margin gets its midpoint.
        low = limits.lower + config.position_margin
        high = limits.upper - config.position_margin
        middle = (limits.lower + limits.upper) / 2.0
        self.band_low = np.where(low <= high, low, middle)
        self.band_high = np.where(low <= high, high, middle)
        self.workspace_low = np.asarray(config.workspace_min, dtype=float)
        self.workspace_high = np.asarray(config.workspace_max, dtype=float)
        self.command_size = {CommandInterface.TWIST: 6, CommandInterface.POSE: 7}.get(self.interface, self.dof)
        self.counters: dict[str, int] = {state.value.lower(): 0 for state in HOLD_PRECEDENCE}
        self.counters.update({name: 0 for name in INTERVENTIONS})
        self.counters.update({"ticks": 0, "invalid_proposals": 0, "input_errors": 0, "resets": 0,
                              "resets_refused": 0, "unpublishable_ticks": 0})
        self._active = False
        self._estop_latched = False
        self._fault_reason: str | None = None
        self._invalid_reason: str | None = None
        self._instruction_was_active = False
        self._state = NodeState.IDLE
        self._last_now: float | None = None
        self._last_measured: np.ndarray | None = None  # newest valid measured joint positions
        self._travel_since_measured = np.zeros(self.dof)  # joint_velocity: commanded motion since then
        self._last_input_error = ""
        self._heartbeat_start = 0.0
        self._blend_start = 0.0
        self._blend_from: np.ndarray | None = None
        self._command: np.ndarray | None = None  # the last command published (running or hold)
        self._velocity = np.zeros(self.command_size)  # last commanded velocity / twist / position step rate

    # ------------------------------------------------------------------ lifecycle
    @property
    def state(self) -> NodeState:
        return self._state

    def activate(self, now: float) -> None:
        """Start (again) from the measured state: the next RUNNING tick blends in over blend_in_s (S9)."""
        self._active = True
        self._heartbeat_start = now
        self._blend_from = None
        self._state = NodeState.IDLE  # forces a hold -> run transition, hence a fresh blend-in

    def deactivate(self) -> None:
        """Back to IDLE: holds until activate() is called again."""
        self._active = False

    def new_instruction(self) -> None:
        """The instruction was replaced while active: forget an invalid-action latch of the old one."""
        self._invalid_reason = None

    def reset(self, inputs: SafetyInputs) -> tuple[bool, str]:
        """~/reset: re-arm ESTOP / FAULT / HOLD_INVALID_ACTION latches unless a hold cause persists."""
        persisting = []
        if inputs.estop:
            persisting.append("e-stop is still pressed")
        if inputs.inference_error:
            persisting.append(f"inference is still failing: {inputs.inference_error}")
        stale_state = self._stale_state_reason(inputs)
        if stale_state:
            persisting.append(stale_state)
        stale_image = self._stale_image_reason(inputs)
        if stale_image:
            persisting.append(stale_image)
        if persisting:
            self.counters["resets_refused"] += 1
            return False, "reset refused: " + "; ".join(persisting)
        cleared = [name for name, latched in (("e-stop", self._estop_latched), ("fault", self._fault_reason),
                                              ("invalid action", self._invalid_reason)) if latched]
        self._estop_latched = False
        self._fault_reason = None
        self._invalid_reason = None
        self._heartbeat_start = inputs.now
        self.counters["resets"] += 1
        message = "re-armed" + (f" (cleared: {', '.join(cleared)})" if cleared else " (nothing was latched)")
        if not inputs.instruction_active:
            message += "; waiting for an instruction"
        return True, message

    # ------------------------------------------------------------------ causes
    def _valid_measured(self, positions: np.ndarray | None) -> np.ndarray | None:
        if positions is None:
            return None
        try:
            array = np.array(positions, dtype=float)  # a copy: the caller may reuse its buffer
        except (TypeError, ValueError):
            return None
        if array.shape != (self.dof,) or not np.isfinite(array).all():
            return None
        return array

    @staticmethod
    def _valid_ee_pose(pose: np.ndarray | None) -> np.ndarray | None:
        if pose is None:
            return None
        try:
            return normalized_pose(np.array(pose, dtype=float))
        except (TypeError, ValueError):
            return None

    def _stale_state_reason(self, inputs: SafetyInputs) -> str:
        if inputs.state_stamp is None:
            return "no joint state received yet"
        if self._valid_measured(inputs.measured_positions) is None:
            shape = None if inputs.measured_positions is None else np.shape(inputs.measured_positions)
            return f"joint state unusable (missing, wrong length or non-finite; shape {shape}, {self.dof} joints)"
        if _is_stale(inputs.now, inputs.state_stamp, self.config.state_timeout):
            return (f"joint state age {_age(inputs.now, inputs.state_stamp):.3f} s outside "
                    f"±{self.config.state_timeout} s (safety.state_timeout)")
        return ""

    def _stale_image_reason(self, inputs: SafetyInputs) -> str:
        if inputs.image_stamp is None:
            return "no image received yet"
        if _is_stale(inputs.now, inputs.image_stamp, self.config.image_timeout):
            return (f"image age {_age(inputs.now, inputs.image_stamp):.3f} s outside "
                    f"±{self.config.image_timeout} s (safety.image_timeout)")
        return ""

    def _check_proposed(self, proposed: np.ndarray | None) -> str:
        if proposed is None:
            return ""
        try:
            array = np.asarray(proposed)
        except (TypeError, ValueError) as exc:
            return f"proposed command is not an array: {exc}"
        if array.shape != (self.command_size,):
            return f"proposed command has shape {array.shape}, expected ({self.command_size},)"
        if array.dtype.kind not in "fiu" or not np.isfinite(array).all():
            return f"proposed command is not finite: {array.tolist()}"
        if self.interface is CommandInterface.POSE:
            pose = normalized_pose(array.astype(float))
            if pose is None:
                return "proposed pose has a zero quaternion"
            if self.config.out_of_workspace is OutOfWorkspace.REJECT and not (
                    np.all(pose[:3] >= self.workspace_low) and np.all(pose[:3] <= self.workspace_high)):
                self.counters[POSE_REJECTED] += 1
                return (f"pose target {np.round(pose[:3], 3).tolist()} outside the workspace box "
                        f"{list(self.config.workspace_min)}..{list(self.config.workspace_max)} "
                        "(out_of_workspace=reject)")
        return ""

    def _evaluate(self, inputs: SafetyInputs) -> tuple[NodeState, str]:
        """Update the latches from this tick's inputs and return the highest-precedence state."""
        if inputs.estop:
            self._estop_latched = True
        if inputs.inference_error and self._fault_reason is None:
            self._fault_reason = f"inference raised: {inputs.inference_error}"
        if inputs.instruction_active and not self._instruction_was_active:
            self._invalid_reason = None  # a new instruction re-arms an invalid-action hold
        self._instruction_was_active = inputs.instruction_active
        if inputs.input_error:
            self.counters["input_errors"] += 1
            self._last_input_error = inputs.input_error
        if inputs.invalid_action and self._invalid_reason is None:
            self._invalid_reason = f"chunk rejected: {inputs.invalid_action}"
        proposal_problem = self._check_proposed(inputs.proposed)
        if proposal_problem:
            self.counters["invalid_proposals"] += 1
            if self._invalid_reason is None:
                self._invalid_reason = proposal_problem

        if self._estop_latched:
            if inputs.estop:
                return NodeState.ESTOP, "e-stop pressed (/vla/estop is true)"
            return NodeState.ESTOP, "e-stop released; call ~/reset to re-arm"
        if self._fault_reason is not None:
            return NodeState.FAULT, self._fault_reason + "; call ~/reset to re-arm"
        if not self._active:
            return NodeState.IDLE, "node not active"
        stale_state = self._stale_state_reason(inputs)
        if stale_state:
            return NodeState.HOLD_STALE_STATE, self._with_input_error(stale_state)
        stale_image = self._stale_image_reason(inputs)
        if stale_image:
            return NodeState.HOLD_STALE_IMAGE, self._with_input_error(stale_image)
        if self._invalid_reason is not None:
            return NodeState.HOLD_INVALID_ACTION, self._invalid_reason + "; new instruction or ~/reset re-arms"
        if not inputs.instruction_active:
            return NodeState.HOLD_NO_INSTRUCTION, "no instruction"
        reference = self._heartbeat_start
        if inputs.last_chunk_time is not None and np.isfinite(inputs.last_chunk_time):
            reference = max(reference, inputs.last_chunk_time)
        silence = max(0.0, inputs.now - reference)  # a chunk "from the future" (clock jumped back) is alive
        if silence > self.config.inference_timeout:
            return NodeState.HOLD_INFERENCE_LATE, (f"no new action chunk for {silence:.3f} s > "
                                                   f"{self.config.inference_timeout} s (safety.inference_timeout)")
        return NodeState.RUNNING, ""

    def _with_input_error(self, reason: str) -> str:
        if self._last_input_error:
            return f"{reason}; last input error: {self._last_input_error}"
        return reason

    # ------------------------------------------------------------------ step
    def step(self, inputs: SafetyInputs) -> SafetyDecision:
        """One control tick: the command to publish (always finite and limited) and the state."""
        now = float(inputs.now)
        self.counters["ticks"] += 1
        clock_ok = math.isfinite(now)  # a NaN/inf clock holds (every input reads as stale) and moves no timer
        if clock_ok and self._last_now is not None and now < self._last_now:
            # The clock jumped back: restart timers that compare against the old clock.
            self._blend_start = min(self._blend_start, now)
            self._heartbeat_start = min(self._heartbeat_start, now)
        if clock_ok:
            self._last_now = now
        measured = self._valid_measured(inputs.measured_positions)
        fresh = measured is not None and not _is_stale(now, inputs.state_stamp, self.config.state_timeout)
        if fresh:
            self._travel_since_measured = np.zeros(self.dof)
        elif self.interface is CommandInterface.JOINT_VELOCITY:
            self._travel_since_measured = self._travel_since_measured + self._velocity * self.dt
        if measured is not None:
            self._last_measured = measured
        ee_pose = self._valid_ee_pose(inputs.measured_ee_pose)

        state, reason = self._evaluate(inputs)
        if clock_ok and state is not NodeState.RUNNING and state is not NodeState.HOLD_INFERENCE_LATE:
            # The inference heartbeat only runs while nothing else holds (inference is not expected then).
            self._heartbeat_start = now
        if state is not self._state and state.is_hold:
            self.counters[state.value.lower()] += 1
        if state is NodeState.RUNNING and self._state is not NodeState.RUNNING:
            self._begin_blend(now, measured, ee_pose)
        self._state = state

        if state is NodeState.RUNNING:
            limited = self._running_command(now, inputs.proposed, measured, ee_pose)
            # Only a pose stream can lack any reference (no measured pose, nothing sent, nothing proposed).
            command, publish = limited.command, self._command is not None
            for name in limited.interventions:
                self.counters[name] += 1
            interventions = limited.interventions
        else:
            limited, publish = self._hold_command(measured if fresh else self._dead_reckoned(), ee_pose)
            command, interventions = limited.command, limited.interventions
            for name in interventions:
                self.counters[name] += 1
        if not publish:
            self.counters["unpublishable_ticks"] += 1
        # A copy: the caller may keep or change it without touching the supervisor's own state.
        return SafetyDecision(command=command.copy(), state=state, reason=reason, holding=state.is_hold,
                              publish=publish, interventions=interventions)

    def _begin_blend(self, now: float, measured: np.ndarray | None, ee_pose: np.ndarray | None) -> None:
        self._blend_start = now
        if self.interface.is_joint_space and self.interface is not CommandInterface.JOINT_VELOCITY:
            self._blend_from = measured
            self._command = measured  # S9: start from the measured state, at rest
            self._velocity = np.zeros(self.command_size)
        elif self.interface is CommandInterface.POSE:
            start = ee_pose if ee_pose is not None else self._command
            self._blend_from = start
            self._command = start

    def _blend_fraction(self, now: float) -> float:
        if self.config.blend_in_s <= 0.0:
            return 1.0
        return float(min(1.0, max(0.0, (now - self._blend_start) / self.config.blend_in_s)))

    def _running_command(self, now: float, proposed: np.ndarray | None, measured: np.ndarray,
                         ee_pose: np.ndarray | None) -> LimitedCommand:
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
        # _check_proposed rejected out-of-box targets already, so limit_pose cannot return None here.
        assert limited is not None
        self._command = limited.command
        return limited

    def _pose_placeholder(self) -> np.ndarray:
        return np.concatenate([(self.workspace_low + self.workspace_high) / 2.0, [0.0, 0.0, 0.0, 1.0]])

    def _dead_reckoned(self) -> np.ndarray | None:
        """Joint velocity interface without a fresh state: the last valid measured position advanced by the
        velocities commanded since, so braking at the limits keeps working while the state is stale."""
        if self.interface is not CommandInterface.JOINT_VELOCITY or self._last_measured is None:
            return None
        return self._last_measured + self._travel_since_measured

    def _hold_command(self, fresh_measured: np.ndarray | None,
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
