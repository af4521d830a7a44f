"""The rate benchmark's baseline: a bare rclpy timer publishing a JointTrajectory, nothing else running.

Run as its own process, `python -m vla_ros.bench.bare_timer --ros-args -p rate_hz:=100.0`; it publishes on
/bench/baseline with header.stamp = the publish time, measured the same way as vla_node's commands.
"""

from __future__ import annotations

import os
import sys

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_ros.ros.node import COMMAND_QOS
from vla_ros.ros.spin import spin_until_shutdown


class BareTimer(Node):
    def __init__(self) -> None:
        super().__init__("vla_bench_bare_timer")
        rate = float(self.declare_parameter("rate_hz", 100.0).value)
        self._priority = int(self.declare_parameter("priority", 0).value)
        self._publisher = self.create_publisher(JointTrajectory, "/bench/baseline", COMMAND_QOS)
        self._msg = JointTrajectory(joint_names=[f"joint_{i}" for i in range(1, 7)],
                                    points=[JointTrajectoryPoint(positions=[0.0] * 6)])
        self.create_timer(1.0 / rate, self._tick)

    def raise_priority(self) -> None:
        """SCHED_FIFO for the spinning thread, for a like-for-like comparison with vla_node's control thread."""
        if self._priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self._priority))
            except (PermissionError, OSError) as error:
                self.get_logger().warning(f"priority {self._priority} not applied: {error}")

    def _tick(self) -> None:
        self._msg.header.stamp = self.get_clock().now().to_msg()
        self._publisher.publish(self._msg)


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    node = BareTimer()
    node.raise_priority()
    return spin_until_shutdown(node, SingleThreadedExecutor())


if __name__ == "__main__":
    sys.exit(main())
