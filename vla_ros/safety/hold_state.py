"""State evaluation for the safety supervisor: which hold applies this tick, its latches, reset and precedence.

The rule ids are those of vla_ros/safety/rules.py and docs/safety_rules.md. This module decides *whether* the
robot may run; vla_ros/safety/command_shaping.py decides *what* is published in either case.

Hold causes and their precedence (the highest present is reported):
    ESTOP > FAULT > IDLE > HOLD_NO_HEARTBEAT > HOLD_STALE_STATE > HOLD_STALE_IMAGE > HOLD_INVALID_ACTION
    > HOLD_INFERENCE_LATE > HOLD_NO_INSTRUCTION
Safety-critical latches come first, then "the node is not active", then the operator's permission to move
(S14, only when a heartbeat is required), then the inputs the robot's own state
depends on (S1), then the model's output (S3), then its liveness (S8), then the operator's intent (S1: no
instruction). HOLD_INFERENCE_LATE is only judged while an instruction is active (without one no chunk is
expected), so with no instruction the state is HOLD_NO_INSTRUCTION. The inference heartbeat restarts
whenever another hold ends: it measures silence only while everything else would let the robot run.

Latching:
- ESTOP (S11): set on the very tick /vla/estop is true; cleared only by reset() once the e-stop is false.
- FAULT (S8): an inference exception; cleared only by reset().
- HOLD_INVALID_ACTION (S3): a rejected chunk, a non-finite or wrong-length proposal, a rejected pose; cleared
  by reset() or by a new instruction (`instruction_active` false -> true, or `new_instruction()` when the
  instruction is replaced while active): garbage from the model for one instruction says nothing about
  the next one, but retrying the same instruction needs an operator.
- Stale image/state, inference late, no instruction (S1, S8): not latched; they clear when the cause goes away.
reset() refuses (S11) while a hold cause that reset cannot clear persists.

Stamps from the future by more than the timeout (the clock jumped back, or two clocks disagree) count as
stale: freshness cannot be judged. A non-finite or wrong-length measured state counts as stale state.
`input_error` alone does not hold (one corrupt frame at 30 Hz should not stop the robot; the timeouts
do that when the corruption persists); it is counted and quoted in stale-input reasons.
"""

from __future__ import annotations

import numpy as np

from vla_ros.core.config import OutOfWorkspace, SafetyConfig
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety.decision import SafetyInputs
from vla_ros.safety.limits import POSE_REJECTED, normalized_pose

HOLD_PRECEDENCE = (
    NodeState.ESTOP,
    NodeState.FAULT,
    NodeState.IDLE,
    NodeState.HOLD_NO_HEARTBEAT,
    NodeState.HOLD_STALE_STATE,
    NodeState.HOLD_STALE_IMAGE,
    NodeState.HOLD_INVALID_ACTION,
    NodeState.HOLD_INFERENCE_LATE,
    NodeState.HOLD_NO_INSTRUCTION,
)


def _age(now: float, stamp: float) -> float:
    return now - stamp


def is_stale(now: float, stamp: float | None, timeout: float) -> bool:
    """Older than the timeout, from the future by more than it, or not a number at all (NaN clock/stamp)."""
    if stamp is None:
        return True
    return not abs(now - stamp) <= timeout


def valid_measured(positions: np.ndarray | None, dof: int) -> np.ndarray | None:
    """A copy of the measured joint positions when they are usable (dof finite values), else None."""
    if positions is None:
        return None
    try:
        array = np.array(positions, dtype=float)  # a copy: the caller may reuse its buffer
    except (TypeError, ValueError):
        return None
    if array.shape != (dof,) or not np.isfinite(array).all():
        return None
    return array


def valid_ee_pose(pose: np.ndarray | None) -> np.ndarray | None:
    """The measured end-effector pose with a unit quaternion, or None when it is missing or unusable."""
    if pose is None:
        return None
    try:
        return normalized_pose(np.array(pose, dtype=float))
    except (TypeError, ValueError):
        return None


class HoldStateEvaluator:
    """Owns the latches and the inference heartbeat; `evaluate()` returns the state that applies this tick.

    `counters` is the supervisor's counter dict: evaluation adds input errors, invalid proposals, rejected
    poses and resets to it.
    """

    def __init__(self, config: SafetyConfig, dof: int, interface: CommandInterface, command_size: int,
                 counters: dict[str, int]) -> None:
        self.config = config
        self.dof = dof
        self.interface = interface
        self.command_size = command_size
        # out_of_workspace=reject judges pose targets against this box (S7) before any shaping.
        self.workspace_low = np.asarray(config.workspace_min, dtype=float)
        self.workspace_high = np.asarray(config.workspace_max, dtype=float)
        self.counters = counters
        self._active = False
        self._estop_latched = False
        self._fault_reason: str | None = None
        self._invalid_reason: str | None = None
        self._instruction_was_active = False
        self._last_input_error = ""
        self._heartbeat_start = 0.0

    # ------------------------------------------------------------------ lifecycle
    def activate(self, now: float) -> None:
        self._active = True
        self._heartbeat_start = now

    def deactivate(self) -> None:
        self._active = False

    def new_instruction(self) -> None:
        """The instruction was replaced while active: forget an invalid-action latch of the old one (S3)."""
        self._invalid_reason = None

    def restart_heartbeat(self, now: float) -> None:
        """Inference is not expected while another hold applies: its silence counts from `now` (S8)."""
        self._heartbeat_start = now

    def clock_jumped_back(self, now: float) -> None:
        """Restart the heartbeat against the new clock instead of waiting for the old one to come back."""
        self._heartbeat_start = min(self._heartbeat_start, now)

    def reset(self, inputs: SafetyInputs) -> tuple[bool, str]:
        """~/reset: re-arm ESTOP / FAULT / HOLD_INVALID_ACTION latches unless a hold cause persists (S11)."""
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
    def _stale_state_reason(self, inputs: SafetyInputs) -> str:
        if inputs.state_stamp is None:
            return "no joint state received yet"
        if valid_measured(inputs.measured_positions, self.dof) is None:
            shape = None if inputs.measured_positions is None else np.shape(inputs.measured_positions)
            return f"joint state unusable (missing, wrong length or non-finite; shape {shape}, {self.dof} joints)"
        if is_stale(inputs.now, inputs.state_stamp, self.config.state_timeout):
            return (f"joint state age {_age(inputs.now, inputs.state_stamp):.3f} s outside "
                    f"±{self.config.state_timeout} s (safety.state_timeout)")
        return ""

    def _heartbeat_reason(self, inputs: SafetyInputs) -> str:
        """Why the operator's heartbeat does not allow motion (S14), or "" (also when none is required)."""
        topic = self.config.heartbeat_topic
        if not topic:
            return ""
        if inputs.heartbeat_stamp is None:
            return f"no heartbeat received on {topic} yet (safety.heartbeat_topic)"
        if is_stale(inputs.now, inputs.heartbeat_stamp, self.config.heartbeat_timeout):
            return (f"heartbeat on {topic} is {_age(inputs.now, inputs.heartbeat_stamp):.3f} s old, outside "
                    f"±{self.config.heartbeat_timeout} s (safety.heartbeat_timeout)")
        if not inputs.heartbeat_may_move:
            return f"heartbeat on {topic} says stop (false)"
        return ""

    def _stale_image_reason(self, inputs: SafetyInputs) -> str:
        if inputs.image_stamp is None:
            return "no image received yet"
        if is_stale(inputs.now, inputs.image_stamp, self.config.image_timeout):
            return (f"image age {_age(inputs.now, inputs.image_stamp):.3f} s outside "
                    f"±{self.config.image_timeout} s (safety.image_timeout)")
        return ""

    def _check_proposed(self, proposed: np.ndarray | None) -> str:
        """Why the proposed command is unusable (S3; a pose outside the box under reject, S7), or ""."""
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

    def evaluate(self, inputs: SafetyInputs) -> tuple[NodeState, str]:
        """Update the latches from this tick's inputs and return the highest-precedence state and its reason."""
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
        no_heartbeat = self._heartbeat_reason(inputs)
        if no_heartbeat:
            return NodeState.HOLD_NO_HEARTBEAT, no_heartbeat
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
