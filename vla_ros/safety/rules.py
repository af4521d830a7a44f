"""The safety rules S1-S15 by name, so code, messages and docs/safety_rules.md cite the same ids.

docs/safety_rules.md gives each rule's guarantee, where it is enforced, its parameters and its tests;
test/safety/test_safety_rules.py keeps that table, this enum and every `S<n>` cited in vla_ros/ in step.
"""

from __future__ import annotations

from enum import Enum


class SafetyRule(str, Enum):
    """One safety rule; the value is its id ("S1".."S15"), `meaning` says what it guarantees in one line.

    Quote it with `.value`: f-strings of a str-mixin Enum give "SafetyRule.S4" on newer Pythons.
    """

    S1 = "S1"
    S2 = "S2"
    S3 = "S3"
    S4 = "S4"
    S5 = "S5"
    S6 = "S6"
    S7 = "S7"
    S8 = "S8"
    S9 = "S9"
    S10 = "S10"
    S11 = "S11"
    S12 = "S12"
    S13 = "S13"
    S14 = "S14"
    S15 = "S15"

    @property
    def short_name(self) -> str:
        """The rule's name in the table of docs/safety_rules.md (not `title`: that is a str method)."""
        return _SHORT_NAMES[self]

    @property
    def meaning(self) -> str:
        """What the rule guarantees, in one line."""
        return _MEANINGS[self]


_SHORT_NAMES: dict[SafetyRule, str] = {
    SafetyRule.S1: "stale inputs",
    SafetyRule.S2: "observation age",
    SafetyRule.S3: "invalid actions",
    SafetyRule.S4: "joint position limits",
    SafetyRule.S5: "velocity and acceleration limits",
    SafetyRule.S6: "per-step delta cap",
    SafetyRule.S7: "end-effector limits",
    SafetyRule.S8: "inference heartbeat",
    SafetyRule.S9: "activation blend-in",
    SafetyRule.S10: "deadline accounting",
    SafetyRule.S11: "e-stop",
    SafetyRule.S12: "downstream command timeouts",
    SafetyRule.S13: "hold semantics",
    SafetyRule.S14: "operator heartbeat",
    SafetyRule.S15: "re-arm and resume",
}

_MEANINGS: dict[SafetyRule, str] = {
    SafetyRule.S1: "a stale or unusable image or joint state, or no instruction, holds within one control period",
    SafetyRule.S2: "an observation older than max_observation_age is not inferred on; past chunk steps never run",
    SafetyRule.S3: "a non-finite or wrongly shaped chunk or proposal holds in HOLD_INVALID_ACTION (latched)",
    SafetyRule.S4: "joint commands stay inside the joint limits less position_margin, or get no further out",
    SafetyRule.S5: "joint velocity and acceleration stay within the limits, scaled by one factor for all joints",
    SafetyRule.S6: "no joint command is further than max_delta from the measured state",
    SafetyRule.S7: "twist and pose commands keep the end-effector speed caps and the workspace box",
    SafetyRule.S8: "no new chunk for inference_timeout holds (HOLD_INFERENCE_LATE); a model exception is FAULT",
    SafetyRule.S9: "every start of motion begins at the measured state and blends in over blend_in_s",
    SafetyRule.S10: "late and too-late publishes are counted in status and diagnostics",
    SafetyRule.S11: "/vla/estop holds on the same tick, latched until released and ~/reset",
    SafetyRule.S12: "every shipped controller config stops the robot on its own when vla_node goes quiet",
    SafetyRule.S13: "holds keep the measured position (position-like) or decelerate to zero (velocity-like)",
    SafetyRule.S14: "when a heartbeat is required, a missing, stale or false one holds in HOLD_NO_HEARTBEAT",
    SafetyRule.S15: "a reset never restarts motion; a recoverable hold longer than auto_resume_max_s needs a "
                    "new instruction",
}
