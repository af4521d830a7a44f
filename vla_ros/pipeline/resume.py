"""When motion may resume by itself after a hold (S15 in docs/safety_rules.md; ROS-free).

- A reset (~/reset after an e-stop, a fault or an invalid action) never restarts motion: it drops the
  instruction, and the node holds in HOLD_NO_INSTRUCTION until a new one arrives (IEC 60204-1 9.2.5.4.2,
  ISO 13850: resetting a stop must not by itself restart the machine).
- A recoverable hold (stale image or joint state, late inference, no operator heartbeat) that interrupts
  motion resumes by itself when its cause clears, but only if it lasted at most `safety.auto_resume_max_s`.
  A longer one drops the instruction: after a long pause the scene may have changed, and the robot moving
  again should be somebody's decision. An instruction that never started moving (its inputs were not there
  yet) is not interrupted motion: it starts when they come.
While the instruction is dropped for either reason, the hold's reason in /vla/status says why and what to do.
"""

from __future__ import annotations

from vla_ros.core.types import NodeState

RECOVERABLE_HOLDS = frozenset({NodeState.HOLD_STALE_IMAGE, NodeState.HOLD_STALE_STATE,
                               NodeState.HOLD_INFERENCE_LATE, NodeState.HOLD_NO_HEARTBEAT})


class ResumeRule:
    """Watches the state of each control tick; says when an interrupted instruction must be dropped."""

    def __init__(self, auto_resume_max_s: float) -> None:
        if not auto_resume_max_s >= 0:
            raise ValueError(f"safety.auto_resume_max_s={auto_resume_max_s!r}: expected a number of seconds >= 0")
        self.auto_resume_max_s = float(auto_resume_max_s)
        self._moved = False  # the current instruction has run (so a hold now interrupts motion)
        self._hold_since: float | None = None
        self._hold_state: NodeState | None = None
        # Why the last instruction was dropped; the HOLD_NO_INSTRUCTION reason until a new instruction.
        self.dropped_reason = ""

    def new_instruction(self) -> None:
        self._moved = False
        self._hold_since = self._hold_state = None
        self.dropped_reason = ""

    def rearmed(self, reset_message: str) -> None:
        """A reset succeeded: the caller drops the instruction; this keeps the reason for the status."""
        self._moved = False
        self._hold_since = self._hold_state = None
        self.dropped_reason = f"{reset_message}; holding until a new instruction (a reset never restarts motion)"

    def after_tick(self, state: NodeState, now: float, instruction_active: bool) -> str | None:
        """The reason to drop the instruction now, or None. Call once per control tick with its state."""
        if not instruction_active:
            self._hold_since = self._hold_state = None
            return None
        if state is NodeState.RUNNING:
            self._moved = True
            self._hold_since = self._hold_state = None
            return None
        if state not in RECOVERABLE_HOLDS or not self._moved:
            self._hold_since = self._hold_state = None
            return None
        if self._hold_since is None or now < self._hold_since:  # a clock that went back starts the count anew
            self._hold_since, self._hold_state = now, state
            return None
        held = now - self._hold_since
        if held <= self.auto_resume_max_s:
            return None
        first = self._hold_state or state
        self.dropped_reason = (f"{first.value} lasted {held:.2f} s > safety.auto_resume_max_s="
                               f"{self.auto_resume_max_s:g} s: instruction dropped, send a new one to move again")
        self._moved = False
        self._hold_since = self._hold_state = None
        return self.dropped_reason
