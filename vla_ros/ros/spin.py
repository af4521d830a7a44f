"""The spin-until-shutdown every vla_ros executable shares."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node


def spin_until_shutdown(node: Node, executor: Executor, on_exit: Callable[[], None] | None = None) -> int:
    """Spin until Ctrl-C or an external shutdown; then `on_exit`, destroy the node, shut rclpy down."""
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if on_exit is not None:
            on_exit()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
