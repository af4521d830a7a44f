"""The QoS profiles vla_ros's own topics use, in one place so tools and rigs need not import the node."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Status and latched inputs (e-stop): a late subscriber still gets the newest value.
RELIABLE_LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)
# Instructions, diagnostics, per-chunk reports: none may be dropped, none replayed to a late subscriber.
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
# Operator heartbeat: best effort matches reliable and best-effort publishers alike; only the newest counts.
HEARTBEAT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)
# Commands: only the newest matters to a controller; depth 1 never queues a stale one behind it.
COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
