"""Shared test set-up: every test process gets its own ROS domain, discovery stays on localhost; tests that
need ROS 2 are marked `ros` automatically, and are not collected (modules) or skipped (tests) without rclpy."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from ros_reach import RosReach, console_scripts_of

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SUPPORT = REPO_ROOT / "test" / "support"


def _configure_ros_environment() -> None:
    # A domain per pytest process so parallel runs (and other sessions) never see each other's nodes.
    # FastDDS domain ids 0..101 map to valid port ranges; stay in 1..100.
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    os.environ.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "0")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    prefix = Path(sys.prefix)
    if (prefix / "share" / "ament_index").is_dir():
        os.environ.setdefault("AMENT_PREFIX_PATH", str(prefix))
    # Child processes import this checkout and the test support modules (models loaded by module path), as
    # this process does through setup.cfg's pythonpath.
    inherited = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), str(TEST_SUPPORT), inherited) if p)


_configure_ros_environment()


def _rclpy_importable() -> bool:
    try:
        return importlib.util.find_spec("rclpy") is not None
    except ImportError:  # hidden by test/support/without_ros (make test-no-ros)
        return False


ROS_AVAILABLE = _rclpy_importable()
ROS_REACH = RosReach(REPO_ROOT, TEST_SUPPORT, console_scripts_of(REPO_ROOT / "setup.py"))
_not_collected: list[Path] = []


def _is_test_module(path: Path) -> bool:
    return path.suffix == ".py" and path.name.startswith("test_")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without rclpy, a test module whose imports need ROS would fail to import: leave it out instead."""
    if not ROS_AVAILABLE and _is_test_module(collection_path) and ROS_REACH.test_module(collection_path).at_import:
        _not_collected.append(collection_path)
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and _is_test_module(item.path):
            reach = ROS_REACH.test_module(item.path)
            if reach.whole_module or item.originalname in reach.tests:
                item.add_marker(pytest.mark.ros)
        if not ROS_AVAILABLE and item.get_closest_marker("ros") is not None:
            item.add_marker(pytest.mark.skip(reason="needs ROS 2 (rclpy is not importable)"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _not_collected:
        terminalreporter.write_line(f"rclpy is not importable: {len(_not_collected)} test modules that import ROS "
                                    "were not collected: " + ", ".join(p.name for p in _not_collected))
