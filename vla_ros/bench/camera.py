"""Processes for `vla_bench latency`: a camera and a bare transport probe, each alone in its own process.

    python -m vla_ros.bench.camera --ros-args -p role:=camera -p rate_hz:=15.0
    python -m vla_ros.bench.camera --ros-args -p role:=probe -p output:=/tmp/probe.jsonl -p priority:=40

camera: publishes 640x480 rgb8 frames on /camera/image_raw, stamped just before publishing as a driver stamps
at capture. The frames are rendered before the run, so the stamp-to-publish path is only the publish itself.
probe: a bare rclpy subscriber on the same topic that writes `{"stamp", "received"}` per frame. Its transport is
what FastDDS and rclpy cost without vla_node: the reference vla_node's own transport is compared with.
"""

from __future__ import annotations

import json
import sys

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from vla_ros.bench.rig import moving_scene
from vla_ros.execution.realtime import set_fifo_priority
from vla_ros.inputs.cdr import parse_image
from vla_ros.ros.spin import spin_until_shutdown

FRAMES = 30  # a 2 s loop at 15 Hz: consecutive frames differ, as a live camera's do


class BenchCamera(Node):
    def __init__(self) -> None:
        super().__init__("vla_bench_camera")
        rate = float(self.declare_parameter("rate_hz", 15.0).value)
        height = int(self.declare_parameter("height", 480).value)
        width = int(self.declare_parameter("width", 640).value)
        render = moving_scene(height, width)
        self._frames = [Image(height=height, width=width, encoding="rgb8", step=width * 3,
                              data=render(i * 0.2).tobytes()) for i in range(FRAMES)]
        self._index = 0
        self._publisher = self.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self.create_timer(1.0 / rate, self._publish)

    def _publish(self) -> None:
        msg = self._frames[self._index % FRAMES]
        self._index += 1
        msg.header.stamp = self.get_clock().now().to_msg()
        self._publisher.publish(msg)


class TransportProbe(Node):
    def __init__(self) -> None:
        super().__init__("vla_bench_transport_probe")
        self._output = open(str(self.declare_parameter("output", "").value), "a")  # open for the node lifetime
        self.priority = int(self.declare_parameter("priority", 0).value)
        # Raw, as vla_node subscribes: the same path from the wire into a Python callback.
        self.create_subscription(Image, "/camera/image_raw", self._on_image, qos_profile_sensor_data, raw=True)

    def _on_image(self, serialized: bytes) -> None:
        received = self.get_clock().now().nanoseconds * 1e-9
        stamp = parse_image(serialized).stamp
        self._output.write(json.dumps({"stamp": stamp, "received": received}) + "\n")
        self._output.flush()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    probe = Node("vla_bench_camera_role")
    role = str(probe.declare_parameter("role", "camera").value)
    probe.destroy_node()
    node = TransportProbe() if role == "probe" else BenchCamera()
    if isinstance(node, TransportProbe):
        # Like for like with vla_node's camera thread, which runs at io_thread_priority.
        problem = set_fifo_priority(node.priority)
        if problem:
            node.get_logger().warning(problem)
    return spin_until_shutdown(node, SingleThreadedExecutor())


if __name__ == "__main__":
    sys.exit(main())
