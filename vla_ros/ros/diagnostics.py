"""/diagnostics from the node's status: one DiagnosticStatus whose level follows the pipeline state."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from vla_ros.core.types import NodeState

NAME = "vla_node: pipeline"
HARDWARE_ID = "vla_ros"

# Running is OK; a latched stop (e-stop, fault) needs a person and is an ERROR; every other hold is a WARN.
_ERROR_STATES = frozenset({NodeState.FAULT.value, NodeState.ESTOP.value})


def diagnostic_level(state: str) -> bytes:
    if state == NodeState.RUNNING.value:
        return DiagnosticStatus.OK
    if state in _ERROR_STATES:
        return DiagnosticStatus.ERROR
    return DiagnosticStatus.WARN


def diagnostics_from_status(status: dict[str, object], stamp: Time) -> DiagnosticArray:
    """Message `STATE: reason`; every status field as a key/value, nested dicts flattened to `key.sub`."""
    state = str(status["state"])
    entry = DiagnosticStatus(level=diagnostic_level(state), name=NAME, hardware_id=HARDWARE_ID,
                             message=f"{state}: {status['reason']}" if status["reason"] else state)
    for key, value in status.items():
        if isinstance(value, dict):
            entry.values += [KeyValue(key=f"{key}.{k}", value=str(v)) for k, v in value.items()]
        else:
            entry.values.append(KeyValue(key=key, value=str(value)))
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [entry]
    return array
