"""A process-side rig for benchmarks and the demo: plays camera + robot for a vla_node in another process.

Publishes stamped images (a generated scene) and joint states, sends instructions, and records the commands
the node publishes with their arrival times. Runs its own executor thread; every wait is on a condition.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from vla_ros.core.parameters import DEFAULT_COMMAND_TOPICS
from vla_ros.core.types import CommandInterface
from vla_ros.ros.messages import MESSAGE_TYPES, seconds_to_time
from vla_ros.ros.node import RELIABLE, RELIABLE_LATCHED


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def moving_scene(height: int, width: int) -> Callable[[float], np.ndarray]:
    """A generated camera stream: a red square orbiting on a grey table, so consecutive frames differ."""
    background = np.full((height, width, 3), 90, dtype=np.uint8)
    side = max(4, min(height, width) // 8)

    def render(t: float) -> np.ndarray:
        frame = background.copy()
        cy = int(height / 2 + height / 4 * np.sin(t))
        cx = int(width / 2 + width / 4 * np.cos(t))
        frame[max(0, cy - side):cy + side, max(0, cx - side):cx + side] = (200, 30, 30)
        return frame

    return render


class NodeProcess:
    """A ROS executable module run as `python -m MODULE --ros-args --params-file FILE` with its log kept."""

    def __init__(self, params: dict[str, object], module: str = "vla_ros.ros.node",
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="vla_rig_")
        self.params_file = Path(self._dir.name) / "params.yaml"
        self.params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
        self.log_path = Path(self._dir.name) / "node.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--ros-args", "--params-file", str(self.params_file), *(extra_args or [])],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class Rig:
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
