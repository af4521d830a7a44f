"""vla_instruct "TEXT": publish one instruction; --wait-ack waits until /vla/status reports it active.

Acts like `ros2 topic pub --once /vla/instruction std_msgs/msg/String "{data: 'TEXT'}"`, plus: it waits for a
subscriber before publishing (so the message is not lost to discovery), and exits non-zero with a clear
message when no node is listening.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy
from rclpy.node import Node
from std_msgs.msg import String

from vla_ros.ros.qos import RELIABLE, RELIABLE_LATCHED
from vla_ros.safety import validate_instruction


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vla_instruct", description=__doc__.splitlines()[0])
    parser.add_argument("text", help="the instruction; an empty string '' stops the robot")
    parser.add_argument("--topic", default="/vla/instruction", help="instruction topic (default %(default)s)")
    parser.add_argument("--status-topic", default="/vla/status", help="status topic (default %(default)s)")
    parser.add_argument("--wait-ack", action="store_true",
                        help="wait until the node's status reports this instruction active")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a listener / ack")
    return parser.parse_args(argv)


def _spin_until(node: Node, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return predicate()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    expected, reason = validate_instruction(args.text, max_length=1_000_000)
    if expected is None:
        print(f"vla_instruct: invalid instruction: {reason}", file=sys.stderr)
        return 2
    rclpy.init(args=None)
    node = Node("vla_instruct")
    try:
        publisher = node.create_publisher(String, args.topic, RELIABLE)
        statuses: list[dict] = []

        def on_status(msg: String) -> None:
            try:
                statuses.append(json.loads(msg.data))
            except ValueError:
                pass

        if args.wait_ack:
            node.create_subscription(String, args.status_topic, on_status, RELIABLE_LATCHED)
        if not _spin_until(node, lambda: publisher.get_subscription_count() > 0, args.timeout):
            print(f"vla_instruct: no node subscribes to {args.topic} after {args.timeout:.0f} s "
                  "(is vla_node running, same ROS_DOMAIN_ID?)", file=sys.stderr)
            return 1
        # The status is latched: learn the current instruction id first, so that repeating the active
        # instruction is acknowledged only once the node has taken the new message.
        base_id = -1
        if args.wait_ack and _spin_until(node, lambda: bool(statuses), min(args.timeout, 3.0)):
            base_id = int(statuses[-1].get("instruction_id", 0))

        def acknowledged() -> bool:
            return any(s.get("instruction") == expected and int(s.get("instruction_id", 0)) > base_id
                       and s.get("state") not in ("IDLE", "FAULT") for s in statuses)

        publisher.publish(String(data=args.text))
        if not args.wait_ack:
            # Reliable delivery: give the middleware a moment to hand the sample over before we exit.
            _spin_until(node, lambda: False, 0.2)
            print(f"vla_instruct: published {args.text!r} on {args.topic}")
            return 0
        if _spin_until(node, acknowledged, args.timeout):
            print(f"vla_instruct: {args.text!r} acknowledged")
            return 0
        print(f"vla_instruct: no acknowledgement of {args.text!r} on {args.status_topic} within "
              f"{args.timeout:.0f} s", file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
