"""ROS 2 adapters. Importing this package makes a pip-installed ROS (ros-jazzy-* wheels) usable as is."""

import os
import sys
from pathlib import Path


def _ensure_ament_prefix() -> None:
    # The ros-jazzy-* wheels install the ament index into the venv; rclpy finds its middleware through
    # AMENT_PREFIX_PATH. Set it for the user when it is missing instead of failing at rclpy.init().
    prefix = Path(sys.prefix)
    if not (prefix / "share" / "ament_index").is_dir():
        return
    current = os.environ.get("AMENT_PREFIX_PATH", "")
    if str(prefix) not in current.split(os.pathsep):
        os.environ["AMENT_PREFIX_PATH"] = os.pathsep.join(p for p in (current, str(prefix)) if p)


_ensure_ament_prefix()
