"""vla_instruct "TEXT": publish one instruction; --wait-ack waits until /vla/status reports it active.

Acts like `ros2 topic pub --once /vla/instruction std_msgs/msg/String "{data: 'TEXT'}"`, plus: it waits for a
subscriber before publishing (so the message is not lost to discovery), and exits non-zero with a clear
message when no node is listening.

Both topics are relative names, like vla_node's: `--namespace arm` or `--ros-args -r __ns:=/arm` reaches a
vla_node launched with namespace:=arm on /arm/vla/instruction and /arm/vla/status.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy
from rclpy.exceptions import InvalidNamespaceException
from rclpy.node import Node
from rclpy.utilities import remove_ros_args
from std_msgs.msg import String

from vla_ros.ros.qos import RELIABLE, RELIABLE_LATCHED
from vla_ros.safety import validate_instruction


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vla_instruct", description=__doc__.splitlines()[0])
    parser.add_argument("text", help="the instruction; an empty string '' stops the robot")
    parser.add_argument("--topic", default="vla/instruction",
                        help="instruction topic; relative names resolve under the namespace (default %(default)s)")
    parser.add_argument("--status-topic", default="vla/status",
                        help="status topic; relative names resolve under the namespace (default %(default)s)")
    parser.add_argument("--namespace", default="",
                        help="namespace of vla_node (its namespace:= launch argument); "
                        "`--ros-args -r __ns:=/NS` wins over it")
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
    # ROS arguments (--ros-args -r __ns:=/arm ...) go to rclpy, the rest to argparse.
    command_line = list(sys.argv) if argv is None else ["vla_instruct", *argv]
    args = parse_args(remove_ros_args(command_line)[1:])
    expected, reason = validate_instruction(args.text, max_length=1_000_000)
    if expected is None:
        print(f"vla_instruct: invalid instruction: {reason}", file=sys.stderr)
        return 2
    rclpy.init(args=command_line)
    try:
        node = Node("vla_instruct", namespace=args.namespace)
    except InvalidNamespaceException as error:
        print(f"vla_instruct: --namespace {args.namespace}: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        publisher = node.create_publisher(String, args.topic, RELIABLE)
        statuses: list[dict] = []

        def on_status(msg: String) -> None:
            try:
                statuses.append(json.loads(msg.data))
            except ValueError:
                pass

        status_topic = args.status_topic
        if args.wait_ack:
            status_topic = node.create_subscription(String, args.status_topic, on_status, RELIABLE_LATCHED).topic_name
        # Messages name the resolved topics (namespace and remappings applied): what the user has to compare.
        if not _spin_until(node, lambda: publisher.get_subscription_count() > 0, args.timeout):
            print(f"vla_instruct: no node subscribes to {publisher.topic_name} after {args.timeout:.0f} s "
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
            print(f"vla_instruct: published {args.text!r} on {publisher.topic_name}")
            return 0
        if _spin_until(node, acknowledged, args.timeout):
            print(f"vla_instruct: {args.text!r} acknowledged")
            return 0
        print(f"vla_instruct: no acknowledgement of {args.text!r} on {status_topic} within "
              f"{args.timeout:.0f} s", file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
