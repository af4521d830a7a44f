"""Hides ROS 2 from every Python process started with this folder first on PYTHONPATH.

`make test-no-ros` runs `pytest -m "not ros"` this way: a test that needs rclpy (directly, through what it
imports, or through a process it starts) but is not marked `ros` then fails with an ImportError on a machine
with ROS installed, as it would on a machine without. Child processes inherit PYTHONPATH, so they are covered.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

# Loaded by path: test/support itself is not on this process's sys.path.
_spec = importlib.util.spec_from_file_location("_hidden_ros_packages", Path(__file__).parent.parent / "ros_packages.py")
_ros_packages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ros_packages)


class RosHidingFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: refuses ROS modules before any other finder can locate them."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if _ros_packages.is_ros_module(fullname):
            raise ModuleNotFoundError(f"No module named {fullname!r} (ROS 2 is hidden by {__file__})",
                                      name=fullname)


if not any(type(finder).__name__ == RosHidingFinder.__name__ for finder in sys.meta_path):
    sys.meta_path.insert(0, RosHidingFinder())
