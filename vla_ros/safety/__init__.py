"""ROS-free safety layer: every command passes through SafetySupervisor.step() (issue 5, S1-S13)."""

from vla_ros.safety.deadline import DeadlineMonitor
from vla_ros.safety.decision import SafetyDecision, SafetyInputs
from vla_ros.safety.supervisor import HOLD_PRECEDENCE, SafetySupervisor
from vla_ros.safety.validation import validate_chunk, validate_instruction

__all__ = [
    "HOLD_PRECEDENCE",
    "DeadlineMonitor",
    "SafetyDecision",
    "SafetyInputs",
    "SafetySupervisor",
    "validate_chunk",
    "validate_instruction",
]
