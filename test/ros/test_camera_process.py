"""vla_node's camera child process (camera_process: true) with real rclpy publishers in this process.

The child subscribes, converts and hands frames over in shared memory; these tests check what comes out of
CameraProcess: the same RGB as the in-process conversion for each encoding, errors as errors, and a new child
after the old one dies.
"""

from __future__ import annotations

import os
import signal
import threading

import cv2
import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from vla_ros.inputs.images import encode_raw_image
from vla_ros.ros.camera_process import CameraProcess
from vla_ros.ros.camera_receiver import CameraReceiverRequest, CameraTopic
from vla_ros.ros.messages import seconds_to_time

from ros_harness import wait_until

RAW_TOPIC = f"/camera_process_test_{os.getpid()}/image_raw"
COMPRESSED_TOPIC = f"/camera_process_test_{os.getpid()}/image_raw/compressed"


class Collected:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: list[tuple[str, np.ndarray, float]] = []
        self.errors: list[str] = []

    def on_frame(self, camera: str, image: np.ndarray, stamp: float) -> None:
        with self.lock:
            self.frames.append((camera, image, stamp))

    def on_error(self, reason: str) -> None:
        with self.lock:
            self.errors.append(reason)

    def frames_stamped(self, stamp: float) -> list[tuple[str, np.ndarray, float]]:
        with self.lock:
            return [f for f in self.frames if abs(f[2] - stamp) < 1e-6]


@pytest.fixture()
def cameras():
    if not rclpy.ok():
        rclpy.init()
    node = Node(f"camera_process_test_{os.getpid()}")
    raw = node.create_publisher(Image, RAW_TOPIC, qos_profile_sensor_data)
    compressed = node.create_publisher(CompressedImage, COMPRESSED_TOPIC, qos_profile_sensor_data)
    collected = Collected()
    request = CameraReceiverRequest("vla_node_camera_rx", "/", (CameraTopic("front", RAW_TOPIC, False),
                                                              CameraTopic("wrist", COMPRESSED_TOPIC, True)), 0)
    process = CameraProcess(request, collected.on_frame, collected.on_error)
    process.start()
    try:
        wait_until(lambda: raw.get_subscription_count() > 0 and compressed.get_subscription_count() > 0, 30,
                   "the camera child's subscriptions")
        yield raw, compressed, collected, process
    finally:
        process.close()
        node.destroy_node()


def _scene(height: int = 48, width: int = 64) -> np.ndarray:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.arange(width, dtype=np.uint8)[None, :] * 3
    rgb[..., 1] = np.arange(height, dtype=np.uint8)[:, None] * 5
    rgb[8:20, 10:30, 2] = 200
    return rgb


def _raw_message(rgb: np.ndarray, encoding: str, stamp: float) -> Image:
    payload, step = encode_raw_image(rgb, encoding)
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, step=step, data=payload)
    msg.header.stamp = seconds_to_time(stamp)
    return msg


def _publish_until_received(publisher, msg, collected: Collected, stamp: float) -> list:
    """Best-effort QoS: the first frames may go before the match settles, so publish until one arrives."""
    def arrived() -> bool:
        if not collected.frames_stamped(stamp):
            publisher.publish(msg)
            return False
        return True

    wait_until(arrived, 20, f"a frame stamped {stamp}")
    return collected.frames_stamped(stamp)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_when_a_raw_image_arrives_expect_the_rgb_frame_from_the_child_process(cameras, encoding) -> None:
    raw, _, collected, _ = cameras
    rgb = _scene()
    if encoding == "mono8":
        rgb = np.repeat(rgb[..., :1], 3, axis=2)  # grey in, the same grey in each channel out
    stamp = 100.0 + len(encoding)
    [(camera, image, got_stamp), *_] = _publish_until_received(raw, _raw_message(rgb, encoding, stamp),
                                                               collected, stamp)
    assert camera == "front" and got_stamp == pytest.approx(stamp)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, rgb)


def test_when_a_compressed_png_arrives_expect_the_decoded_rgb_frame(cameras) -> None:
    _, compressed, collected, _ = cameras
    rgb = _scene()
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    msg = CompressedImage(format="rgb8; png compressed bgr8", data=png.tobytes())
    msg.header.stamp = seconds_to_time(200.0)
    [(camera, image, _), *_] = _publish_until_received(compressed, msg, collected, 200.0)
    assert camera == "wrist"
    np.testing.assert_array_equal(image, rgb)


def test_when_an_image_cannot_be_used_expect_an_error_naming_the_camera_and_no_frame(cameras) -> None:
    raw, _, collected, _ = cameras
    bad = Image(height=4, width=4, encoding="32FC1", step=16, data=bytes(64))
    bad.header.stamp = seconds_to_time(300.0)

    def reported() -> bool:
        raw.publish(bad)
        with collected.lock:
            return any("unsupported image encoding" in e for e in collected.errors)

    wait_until(reported, 20, "the unsupported encoding reported")
    with collected.lock:
        assert any("camera 'front'" in e for e in collected.errors)
    assert not collected.frames_stamped(300.0)


def test_when_the_child_process_is_killed_expect_an_error_then_frames_from_a_new_child(cameras) -> None:
    raw, _, collected, process = cameras
    first_pid = process.pid
    _publish_until_received(raw, _raw_message(_scene(), "rgb8", 400.0), collected, 400.0)
    os.kill(first_pid, signal.SIGKILL)

    def exit_reported() -> bool:
        with collected.lock:
            return any("camera receiver process exited" in e for e in collected.errors)

    wait_until(exit_reported, 20, "the child's exit reported")
    wait_until(lambda: raw.get_subscription_count() > 0 and process.pid != first_pid, 30, "a new child")
    _publish_until_received(raw, _raw_message(_scene(), "rgb8", 401.0), collected, 401.0)
    assert process.restarts == 1


def test_when_closed_expect_the_child_process_gone(cameras) -> None:
    _, _, _, process = cameras
    pid = process.pid
    process.close()
    assert process.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_when_started_from_a_real_time_thread_expect_only_the_executor_thread_at_the_requested_priority() -> None:
    """vla_node starts the child from a SCHED_FIFO 40 thread. The child's executor thread gets the requested I/O
    priority; the threads DDS creates must not inherit real-time scheduling."""
    from pathlib import Path

    from vla_ros.execution.realtime import set_fifo_priority

    collected = Collected()
    request = CameraReceiverRequest("vla_node_camera_rx", "/", (CameraTopic("front", RAW_TOPIC, False),), 7)
    process = CameraProcess(request, collected.on_frame, collected.on_error)
    started: dict[str, bool] = {}

    def start_at_fifo() -> None:
        started["fifo"] = set_fifo_priority(10) is None
        process.start()

    thread = threading.Thread(target=start_at_fifo)
    thread.start()
    thread.join()
    try:
        if not started["fifo"]:
            pytest.skip("no rtprio rights here: nothing to inherit")
        pid = process.pid

        def threads() -> list[int]:
            return [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]

        # Ready once the executor thread has its priority: it is raised after the subscriptions exist.
        # (It starts with the inherited FIFO 10.)
        wait_until(lambda: os.sched_getparam(pid).sched_priority == 7, 30, "the executor thread's priority 7")
        assert os.sched_getscheduler(pid) == os.SCHED_FIFO
        others = [tid for tid in threads() if tid != pid]
        assert others, "DDS threads expected in the child"
        assert all(os.sched_getscheduler(tid) == os.SCHED_OTHER for tid in others), \
            {tid: os.sched_getscheduler(tid) for tid in others}
    finally:
        process.close()


def _start_reliable_receiver(topic: str, collected: Collected) -> CameraProcess:
    request = CameraReceiverRequest("vla_node_camera_rx", "/", (CameraTopic("front", topic, False),), 0,
                                    reliable=True)
    process = CameraProcess(request, collected.on_frame, collected.on_error)
    process.start()
    return process


def test_when_camera_reliability_is_reliable_expect_frames_from_a_reliable_publisher() -> None:
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    if not rclpy.ok():
        rclpy.init()
    topic = f"/camera_process_test_{os.getpid()}/reliable"
    node = Node(f"camera_process_reliable_{os.getpid()}")
    publisher = node.create_publisher(Image, topic, QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    collected = Collected()
    process = _start_reliable_receiver(topic, collected)
    try:
        wait_until(lambda: publisher.get_subscription_count() > 0, 30, "the reliable subscription")
        rgb = _scene(480, 640)  # 921,600 bytes: over Fast DDS's default shared-memory segment
        [(_, image, _), *_] = _publish_until_received(publisher, _raw_message(rgb, "rgb8", 500.0), collected, 500.0)
        np.testing.assert_array_equal(image, rgb)
    finally:
        process.close()
        node.destroy_node()


def test_when_reliable_subscription_meets_a_best_effort_publisher_expect_an_error_saying_so() -> None:
    """They never match: without the report the node would only show a stale image, not why."""
    if not rclpy.ok():
        rclpy.init()
    topic = f"/camera_process_test_{os.getpid()}/best_effort"
    node = Node(f"camera_process_best_effort_{os.getpid()}")
    publisher = node.create_publisher(Image, topic, qos_profile_sensor_data)
    collected = Collected()
    process = _start_reliable_receiver(topic, collected)
    try:
        def reported() -> bool:
            with collected.lock:
                return any("incompatible" in e and "camera_reliability: best_effort" in e for e in collected.errors)

        wait_until(reported, 30, "the incompatible QoS reported")
        assert publisher.get_subscription_count() == 0
    finally:
        process.close()
        node.destroy_node()
