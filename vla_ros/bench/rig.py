"""The cross-process rig: plays camera, robot and user for a vla_node running in another process.

`Rig` drives the benchmarks and the demo: a generated moving scene, commands recorded with their arrival times
on this process's ROS clock. `RobotStub` drives the node tests and the recording: a flat image whose encoding
and brightness the test sets, the e-stop, the reset/hold services, and an optional `/clock` of its own. Both run
their own executor thread; every wait is on a condition, never a sleep for discovery. The ROS-free helpers
(`NodeProcess`, `wait_until`, `moving_scene`) live in rig_process and are re-exported here.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from vla_ros.bench.rig_process import NodeProcess, moving_scene, wait_until
from vla_ros.core.parameters import DEFAULT_COMMAND_TOPICS
from vla_ros.core.types import CommandInterface
from vla_ros.inputs.images import encode_raw_image
from vla_ros.ros.messages import MESSAGE_TYPES, seconds_to_time
from vla_ros.ros.qos import RELIABLE, RELIABLE_LATCHED

__all__ = ["DEFAULT_JOINTS", "NodeProcess", "Received", "Rig", "RobotStub", "moving_scene", "wait_until"]

DEFAULT_JOINTS = [f"joint_{i}" for i in range(1, 7)]


class Rig:
    """The benchmarks' and the demo's side: a moving scene, joint states, commands with ROS-clock arrivals."""

    def __init__(self, interface: CommandInterface, joint_names: list[str], image_size: tuple[int, int] = (96, 96),
                 camera_rate_hz: float | None = 30.0, state_rate_hz: float = 100.0,
                 command_topic: str | None = None) -> None:
        if not rclpy.ok():
            rclpy.init()
        self.node = Node(f"vla_rig_{os.getpid()}")
        self.joint_names = list(joint_names)
        self.positions = np.zeros(len(joint_names))
        self.render = moving_scene(*image_size)
        self.image_size = image_size
        self.lock = threading.Lock()
        self.commands: list[tuple[float, object]] = []  # (arrival wall time s, msg)
        self.image_stamps: list[float] = []
        self.statuses: list[dict] = []
        self.image_pub = self.node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self.state_pub = self.node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
        self.instruction_pub = self.node.create_publisher(String, "/vla/instruction", RELIABLE)
        topic = command_topic or DEFAULT_COMMAND_TOPICS[interface]
        self.command_sub = self.node.create_subscription(MESSAGE_TYPES[interface], topic, self._on_command, 1000)
        self.node.create_subscription(String, "/vla/status", self._on_status, RELIABLE_LATCHED)
        if camera_rate_hz:  # None: the camera is another process (vla_bench latency's bench_camera)
            self.node.create_timer(1.0 / camera_rate_hz, self._publish_image)
        self.node.create_timer(1.0 / state_rate_hz, self._publish_state)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg) -> None:
        arrival = self.now()
        with self.lock:
            self.commands.append((arrival, msg))

    def _on_status(self, msg: String) -> None:
        with self.lock:
            self.statuses.append(json.loads(msg.data))

    def _publish_image(self) -> None:
        rgb = self.render(self.now())
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=rgb.shape[1] * 3,
                    data=rgb.tobytes())
        msg.header.frame_id = "camera"
        # Stamped as a camera driver does: at capture, just before publishing (rendering is not transport).
        now = self.now()
        msg.header.stamp = seconds_to_time(now)
        self.image_pub.publish(msg)
        with self.lock:
            self.image_stamps.append(now)

    def _publish_state(self) -> None:
        msg = JointState(name=self.joint_names, position=self.positions.tolist())
        msg.header.stamp = seconds_to_time(self.now())
        self.state_pub.publish(msg)

    def last_status(self) -> dict:
        with self.lock:
            return self.statuses[-1] if self.statuses else {}

    def wait_for_status(self, predicate: Callable[[dict], bool], timeout: float, what: str) -> dict:
        wait_until(lambda: predicate(self.last_status()), timeout, f"{what} (last status {self.last_status()})")
        return self.last_status()

    def wait_for_node(self, timeout: float = 60.0) -> None:
        wait_until(lambda: self.instruction_pub.get_subscription_count() > 0
                   and self.command_sub.get_publisher_count() > 0, timeout, "vla_node endpoints")

    def instruct(self, text: str) -> None:
        self.instruction_pub.publish(String(data=text))

    def commands_between(self, start: float, end: float) -> list[tuple[float, object]]:
        with self.lock:
            return [(t, m) for t, m in self.commands if start <= t < end]

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


@dataclass
class Received:
    """What a RobotStub saw, guarded by its lock: commands with their monotonic arrival time, and statuses."""

    commands: list[tuple[float, object]] = field(default_factory=list)  # (monotonic arrival, msg)
    statuses: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def last_status(self) -> dict:
        with self.lock:
            return self.statuses[-1] if self.statuses else {}

    def commands_since(self, t0: float) -> list[object]:
        with self.lock:
            return [m for t, m in self.commands if t >= t0]


class RobotStub:
    """This process's side of a node test: publishes camera + joint states, records commands and status."""

    def __init__(self, interface: str, command_topic: str | None = None, image_size: tuple[int, int] = (96, 96),
                 encoding: str = "rgb8", camera_rate_hz: float = 20.0, state_rate_hz: float = 100.0,
                 joints: list[str] | None = None, sim_clock_start: float | None = None,
                 sim_clock_step: float | None = None) -> None:
        if not rclpy.ok():
            rclpy.init()  # shared by every stub in this process; never shut down before exit
        self.node = Node(f"vla_test_robot_{os.getpid()}")
        self.received = Received()
        self.joints = list(joints or DEFAULT_JOINTS)
        self.positions = np.zeros(len(self.joints))
        self.publish_images = True
        self.publish_states = True
        self.image_size = image_size
        self.encoding = encoding
        self.image_value = 128
        iface = CommandInterface(interface)
        topic = command_topic or DEFAULT_COMMAND_TOPICS[iface]
        self.image_pub = self.node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self.compressed_pub = self.node.create_publisher(CompressedImage, "/camera/image_raw/compressed",
                                                         qos_profile_sensor_data)
        self.state_pub = self.node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
        self.instruction_pub = self.node.create_publisher(String, "/vla/instruction", RELIABLE)
        self.estop_pub = self.node.create_publisher(Bool, "/vla/estop", RELIABLE_LATCHED)
        self.command_sub = self.node.create_subscription(MESSAGE_TYPES[iface], topic, self._on_command, 100)
        self.status_sub = self.node.create_subscription(String, "/vla/status", self._on_status, RELIABLE_LATCHED)
        self.reset_client = self.node.create_client(Trigger, "/vla_node/reset")
        self.hold_client = self.node.create_client(Trigger, "/vla_node/hold")
        # With sim_clock_start this process owns /clock: sim time advances with wall time from that value and
        # can be jumped (a simulator reset); every stamp it publishes is sim time. sim_clock_step: sim time
        # advances in steps of that size, as a stepped simulator's does, so stamps lie on a fixed lattice.
        self.sim_time = sim_clock_start
        self.sim_clock_step = sim_clock_step
        if sim_clock_start is not None:
            from rosgraph_msgs.msg import Clock

            self.clock_pub = self.node.create_publisher(Clock, "/clock", 10)
            self._sim_origin = (time.monotonic(), sim_clock_start)
            self.node.create_timer(0.005, lambda: self.clock_pub.publish(Clock(clock=seconds_to_time(self.now()))))
        self.node.create_timer(1.0 / camera_rate_hz, self._publish_image)
        self.node.create_timer(1.0 / state_rate_hz, self._publish_state)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def now(self) -> float:
        if self.sim_time is not None:
            wall_origin, sim_origin = self._sim_origin
            elapsed = time.monotonic() - wall_origin
            if self.sim_clock_step:
                elapsed = np.floor(elapsed / self.sim_clock_step) * self.sim_clock_step
            return sim_origin + elapsed
        return self.node.get_clock().now().nanoseconds * 1e-9

    def jump_sim_clock(self, to: float) -> None:
        self._sim_origin = (time.monotonic(), to)

    def _on_command(self, msg) -> None:
        with self.received.lock:
            self.received.commands.append((time.monotonic(), msg))

    def _on_status(self, msg: String) -> None:
        with self.received.lock:
            self.received.statuses.append(json.loads(msg.data))

    def make_image(self) -> Image:
        height, width = self.image_size
        rgb = np.full((height, width, 3), self.image_value, dtype=np.uint8)
        payload, step = encode_raw_image(rgb, self.encoding)
        msg = Image(height=height, width=width, encoding=self.encoding, step=step, data=payload)
        msg.header.stamp = seconds_to_time(self.now())
        msg.header.frame_id = "camera"
        return msg

    def _publish_image(self) -> None:
        if self.publish_images:
            self.image_pub.publish(self.make_image())

    def _publish_state(self) -> None:
        if self.publish_states:
            msg = JointState(name=list(self.joints), position=self.positions.tolist())
            msg.header.stamp = seconds_to_time(self.now())
            self.state_pub.publish(msg)

    # ----- waits -----
    def wait_for_node(self, timeout: float = 30.0) -> None:
        wait_until(lambda: self.instruction_pub.get_subscription_count() > 0
                   and self.command_sub.get_publisher_count() > 0, timeout, "vla_node's endpoints to match")

    def wait_for_status(self, predicate: Callable[[dict], bool], timeout: float, what: str) -> dict:
        wait_until(lambda: predicate(self.received.last_status()), timeout,
                   f"{what}; last status {self.received.last_status()}")
        return self.received.last_status()

    def instruct(self, text: str) -> None:
        self.instruction_pub.publish(String(data=text))

    def call(self, client, timeout: float = 10.0) -> Trigger.Response:
        wait_until(client.service_is_ready, timeout, f"service {client.srv_name}")
        future = client.call_async(Trigger.Request())
        wait_until(future.done, timeout, f"response of {client.srv_name}")
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
