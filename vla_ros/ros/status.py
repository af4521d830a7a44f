"""/vla/status (JSON) and /diagnostics for vla_node: what is reported, and the publishers that carry it."""

from __future__ import annotations

import json
from typing import Protocol

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import String

from vla_ros.core.types import NodeState
from vla_ros.ros.diagnostics import diagnostics_from_status
from vla_ros.ros.qos import RELIABLE, RELIABLE_LATCHED

WAITING_FOR_CLOCK = ("waiting for /clock: use_sim_time is true and no clock message has arrived (is the "
                     "simulator, or a bag played with --clock, running?)")


class StatusSource(Protocol):
    def status(self, now: float) -> dict[str, object]: ...


def node_status(pipeline: StatusSource | None, configure_error: str, now: float,
                use_sim_time: bool) -> dict[str, object]:
    """The pipeline's status, or why there is none (not configured, a failed configure: FAULT with the reason)."""
    if pipeline is None:
        state = NodeState.FAULT.value if configure_error else NodeState.IDLE.value
        status: dict[str, object] = {"state": state, "reason": configure_error or "not configured",
                                     "instruction": "", "stamp": now}
    else:
        status = pipeline.status(now)
    if now == 0.0 and use_sim_time and status["state"] == NodeState.IDLE.value:
        # On sim time the clock reads 0 until the first /clock: say so, instead of a bare "not active".
        status["reason"] = WAITING_FOR_CLOCK
    return status


class StatusPublisher:
    """Publishes each status on vla/status (latched, relative to the namespace) and /diagnostics (global, for
    the diagnostic aggregator). Created with the node, so even a failed configure is visible."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._status = node.create_publisher(String, "vla/status", RELIABLE_LATCHED)
        self._diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE)
        # (state, reason, instruction) of the last status sent: the control loop publishes again when it changes.
        self.last_sent: tuple[str, str, str] | None = None

    def publish(self, status: dict[str, object]) -> None:
        self.last_sent = (str(status["state"]), str(status["reason"]), str(status["instruction"]))
        try:
            self._status.publish(String(data=json.dumps(status)))
            self._diagnostics.publish(diagnostics_from_status(status, self._node.get_clock().now().to_msg()))
        except Exception:
            if self._node.context.ok():
                raise
            # Ctrl-C shut the context down under a status callback that was already running: nothing to report.
