"""vla_instruct "TEXT": publish one instruction; --wait-ack waits until /vla/status reports it active.

Acts like `ros2 topic pub --once /vla/instruction std_msgs/msg/String "{data: 'TEXT'}"`, plus: it waits for a
subscriber before publishing (so the message is not lost to discovery), and exits non-zero with a clear
message when no node is listening.

`vla_instruct --heartbeat` instead publishes the operator heartbeat (std_msgs/Bool true on vla/heartbeat, at
--rate Hz) for as long as it runs, and `false` once when it is stopped (Ctrl-C, SIGTERM): with
safety.heartbeat_topic set, the robot moves only while it runs.

All topics are relative names, like vla_node's: `--namespace arm` or `--ros-args -r __ns:=/arm` reaches a
vla_node launched with namespace:=arm on /arm/vla/instruction and /arm/vla/status.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

import rclpy
from rclpy.exceptions import InvalidNamespaceException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import remove_ros_args
from std_msgs.msg import Bool, String

from vla_ros.ros.qos import HEARTBEAT_QOS, RELIABLE, RELIABLE_LATCHED
from vla_ros.safety import validate_instruction


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vla_instruct", description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", help="the instruction; an empty string '' stops the robot")
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
    parser.add_argument("--heartbeat", action="store_true",
                        help="publish the operator heartbeat (true) until stopped, then false once; no instruction")
    parser.add_argument("--heartbeat-topic", default="vla/heartbeat",
                        help="heartbeat topic (vla_node's safety.heartbeat_topic; default %(default)s)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="heartbeat rate, Hz; keep it well above 1/safety.heartbeat_timeout (default %(default)s)")
    args = parser.parse_args(argv)
    if args.heartbeat == (args.text is not None):
        parser.error("give an instruction TEXT, or --heartbeat (not both)")
    if not 0.5 <= args.rate <= 1000.0:
        parser.error(f"--rate {args.rate}: expected 0.5..1000 Hz")
    return args


def run_heartbeat(node: Node, topic: str, rate_hz: float, stop: threading.Event) -> int:
    """Publish true at `rate_hz` until `stop`, then false once: a released enabling device."""
    publisher = node.create_publisher(Bool, topic, HEARTBEAT_QOS)
    print(f"vla_instruct: heartbeat on {publisher.topic_name} at {rate_hz:g} Hz; Ctrl-C to stop the robot",
          flush=True)
    period = 1.0 / rate_hz
    while not stop.is_set():
        publisher.publish(Bool(data=True))
        stop.wait(period)
    publisher.publish(Bool(data=False))
    _spin_until(node, lambda: False, 0.1)  # give the middleware a moment to send it before we exit
    print("vla_instruct: heartbeat stopped (sent false)", flush=True)
    return 0


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
    expected, reason = (None, "") if args.heartbeat else validate_instruction(args.text, max_length=1_000_000)
    if expected is None and not args.heartbeat:
        print(f"vla_instruct: invalid instruction: {reason}", file=sys.stderr)
        return 2
    stop = threading.Event()
    if args.heartbeat:
        # Our own handlers: the heartbeat must end with `false` sent, so rclpy may not shut down under us.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        rclpy.init(args=command_line, signal_handler_options=SignalHandlerOptions.NO)
    else:
        rclpy.init(args=command_line)
    try:
        node = Node("vla_instruct", namespace=args.namespace)
    except InvalidNamespaceException as error:
        print(f"vla_instruct: --namespace {args.namespace}: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        if args.heartbeat:
            return run_heartbeat(node, args.heartbeat_topic, args.rate, stop)
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
