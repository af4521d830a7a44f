"""Camera subscriptions on a helper node inside vla_node, spun by a thread of their own (camera_process: false).

On the node's executor a frame would wait behind joint-state callbacks and the rebuild of a wait set of every
service and subscription: `vla_bench latency` measured about 5 ms more transport than a bare subscriber. The
helper node takes no command-line arguments, so vla_node resolves the topic names (its namespace and
remappings apply) and a launch file's node-name remapping cannot give the helper vla_node's name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

from vla_ros.execution.realtime import set_fifo_priority
from vla_ros.ros.camera_receiver import CameraTopic, camera_qos, incompatible_qos_reason

SerializedImageCallback = Callable[[str, bytes, bool], None]  # camera name, serialized message, compressed
CameraErrorCallback = Callable[..., None]  # (reason, log=True)


class InNodeCameraReceiver:
    def __init__(self, owner: Node, topics: Sequence[CameraTopic], reliable: bool,
                 on_image: SerializedImageCallback, on_error: CameraErrorCallback) -> None:
        self._owner = owner
        self._node = rclpy.create_node(f"{owner.get_name()}_camera_rx", namespace=owner.get_namespace(),
                                       context=owner.context, use_global_arguments=False,
                                       start_parameter_services=False, enable_rosout=False)
        for camera in topics:
            # Raw (serialized) images: the pixels are viewed in place rather than copied into an array.array
            # while the GIL is held (~1 ms per 640x480 frame that the control thread would wait for).
            reason = incompatible_qos_reason(camera.name, camera.topic, reliable)
            self._node.create_subscription(
                CompressedImage if camera.compressed else Image, camera.topic,
                lambda raw, topic=camera: on_image(topic.name, raw, topic.compressed),
                camera_qos(reliable), raw=True, event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda _info, why=reason: on_error(why, log=True)))
        self._executor: SingleThreadedExecutor | None = SingleThreadedExecutor(context=owner.context)
        self._executor.add_node(self._node)
        self._thread: threading.Thread | None = None

    def start(self, priority: int) -> None:
        self._thread = threading.Thread(target=self._spin, args=(priority,), name="vla_camera_rx", daemon=True)
        self._thread.start()

    def _spin(self, priority: int) -> None:
        problem = set_fifo_priority(priority)
        if problem:
            self._owner.get_logger().warning(f"camera thread: {problem}")
        executor = self._executor
        try:
            while self._owner.context.ok() and executor is self._executor:
                executor.spin_once(timeout_sec=0.1)
        except Exception as error:  # shutdown races end the thread; anything else must be visible
            if self._owner.context.ok() and executor is self._executor:
                self._owner.get_logger().error(f"camera reception stopped: {error!r}")

    def stop(self) -> None:
        executor, thread, self._executor, self._thread = self._executor, self._thread, None, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        self._node.destroy_node()
