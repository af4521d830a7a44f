"""The camera-receiving child of vla_node: `python -m vla_ros.ros.camera_receiver FD`, started by CameraProcess
through vla_ros.execution.child_process (normal scheduling for everything but its executor thread).

FD is one end of a socket pair. The first message is a CameraReceiverRequest; the child then runs the helper
node `<vla_node>_camera_rx` with one subscription per camera (the topic names already resolved by vla_node, so
its namespace and remappings apply). Each frame is parsed and converted to RGB here, written into a shared slot
(vla_ros.inputs.shared_frames) and announced with a FrameNotice; a frame that cannot be used is announced as
("error", camera, reason). SlotRelease messages from vla_node give slots back. The child exits when the socket
closes, so it never outlives vla_node.

Everything heavy about a camera frame happens here, under this process's GIL: taking ~1 MB out of DDS, the
byte copy rclpy makes, parsing and colour conversion. vla_node's control thread never waits for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from vla_ros.execution.child_process import serve_inherited_socket
from vla_ros.execution.realtime import set_fifo_priority
from vla_ros.inputs.cdr import CdrError, parse_compressed_image, parse_image
from vla_ros.inputs.images import ImageError, decode_compressed_image, decode_raw_image
from vla_ros.inputs.shared_frames import FrameSlotWriter, SlotRelease


@dataclass(frozen=True)
class CameraTopic:
    name: str  # the camera's name in the model manifest
    topic: str  # fully resolved
    compressed: bool


@dataclass(frozen=True)
class CameraReceiverRequest:
    node_name: str
    namespace: str
    cameras: tuple[CameraTopic, ...]
    priority: int  # SCHED_FIFO priority of this process (vla_node's io_thread_priority); 0 = normal
    reliable: bool = False  # camera_reliability: reliable instead of the sensor-data QoS


def camera_qos(reliable: bool) -> QoSProfile:
    """Sensor-data QoS (best effort, matches any publisher), or reliable with the same small history."""
    if not reliable:
        return qos_profile_sensor_data
    return QoSProfile(depth=qos_profile_sensor_data.depth, reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.VOLATILE)


def incompatible_qos_reason(camera: str, topic: str, reliable: bool) -> str:
    wanted = "reliable" if reliable else "best_effort"
    hint = " (a best-effort publisher needs camera_reliability: best_effort)" if reliable else ""
    return (f"camera {camera!r}: the publisher on {topic} offers a QoS incompatible with the subscription "
            f"(camera_reliability: {wanted}){hint}; no frames will arrive")


def decode_image_message(serialized: bytes, compressed: bool) -> tuple[np.ndarray, float]:
    """A serialized Image or CompressedImage -> (RGB array, header stamp). Raises ImageError or CdrError."""
    if compressed:
        compressed_msg = parse_compressed_image(serialized)
        return decode_compressed_image(compressed_msg.format, compressed_msg.data), compressed_msg.stamp
    msg = parse_image(serialized)
    if msg.is_bigendian and msg.encoding not in ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1", "8UC3"):
        raise ImageError(f"big-endian {msg.encoding} images are not supported")
    return decode_raw_image(msg.encoding, msg.height, msg.width, msg.step, msg.data), msg.stamp


class CameraReceiver:
    """The subscriptions and the shared slots; callbacks run on this process's one executor thread."""

    def __init__(self, request: CameraReceiverRequest, connection: Connection) -> None:
        self._connection = connection
        self.node = rclpy.create_node(request.node_name, namespace=request.namespace or "/",
                                      use_global_arguments=False, start_parameter_services=False,
                                      enable_rosout=False)
        self._writers = {camera.name: FrameSlotWriter(camera.name) for camera in request.cameras}
        for camera in request.cameras:
            message_type = CompressedImage if camera.compressed else Image
            reason = incompatible_qos_reason(camera.name, camera.topic, request.reliable)
            events = SubscriptionEventCallbacks(
                incompatible_qos=lambda _info, name=camera.name, why=reason: self._report(name, why))
            # Raw (serialized) messages: the pixels are viewed in the CDR bytes, not converted to a Python list.
            self.node.create_subscription(message_type, camera.topic, self._callback(camera),
                                          camera_qos(request.reliable), raw=True, event_callbacks=events)

    def _report(self, camera: str, reason: str) -> None:
        print(f"[vla_node camera receiver] {reason}", file=sys.stderr)
        self._connection.send(("error", camera, reason))

    def _callback(self, camera: CameraTopic) -> Callable[[bytes], None]:
        return lambda serialized: self._on_frame(camera, serialized)

    def _on_frame(self, camera: CameraTopic, serialized: bytes) -> None:
        self.take_releases()
        try:
            image, stamp = decode_image_message(serialized, camera.compressed)
        except (ImageError, CdrError) as error:
            self._connection.send(("error", camera.name, f"camera {camera.name!r}: {error}"))
            return
        notice = self._writers[camera.name].write(image, stamp)
        if notice is not None:
            self._connection.send(notice)

    def take_releases(self) -> bool:
        """Gives back the slots vla_node has copied; False when vla_node has gone (the socket closed)."""
        try:
            while self._connection.poll(0):
                release = self._connection.recv()
                if isinstance(release, SlotRelease) and release.camera in self._writers:
                    self._writers[release.camera].release(release)
        except (EOFError, OSError):
            return False
        return True

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self.node.destroy_node()


def _raise_priority(priority: int) -> None:
    """This thread only (it runs the executor): vla_node's io_thread_priority, as its camera thread had."""
    problem = set_fifo_priority(priority)
    if problem:
        print(f"[vla_node camera receiver] {problem}", file=sys.stderr)


def serve(connection: Connection) -> int:
    request = connection.recv()
    if not isinstance(request, CameraReceiverRequest):
        print(f"[vla_node camera receiver] expected a CameraReceiverRequest, got {type(request)}", file=sys.stderr)
        return 2
    # Started through vla_ros.execution.child_process: at normal scheduling, so the threads DDS creates now are too.
    rclpy.init(args=[])
    receiver = CameraReceiver(request, connection)
    executor = SingleThreadedExecutor()
    executor.add_node(receiver.node)
    _raise_priority(request.priority)
    connection.send(("ready", os.getpid()))
    try:
        while rclpy.ok() and receiver.take_releases():
            executor.spin_once(timeout_sec=0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C in a terminal reaches the whole process group; vla_node shuts down too
    finally:
        executor.shutdown(timeout_sec=1.0)
        receiver.close()
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    # Run as __main__, this file's classes are __main__.X; the request was pickled as the package module's.
    from vla_ros.ros.camera_receiver import serve as serve_from_package

    return serve_inherited_socket(sys.argv[1:] if argv is None else argv,
                                  "python -m vla_ros.ros.camera_receiver FD (started by vla_node)", serve_from_package)


if __name__ == "__main__":
    sys.exit(main())
