"""ROS-free safety layer: every command passes through SafetySupervisor.step() (rules S1-S13: SafetyRule,
docs/safety_rules.md)."""

from vla_ros.safety.deadline import DeadlineMonitor
from vla_ros.safety.decision import SafetyDecision, SafetyInputs
from vla_ros.safety.rules import SafetyRule
from vla_ros.safety.supervisor import HOLD_PRECEDENCE, SafetySupervisor
from vla_ros.safety.validation import validate_chunk, validate_instruction

__all__ = [
    "HOLD_PRECEDENCE",
    "DeadlineMonitor",
    "SafetyDecision",
    "SafetyInputs",
    "SafetyRule",
    "SafetySupervisor",
    "validate_chunk",
    "validate_instruction",
]
