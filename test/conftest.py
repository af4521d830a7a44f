"""Shared test set-up: every test process gets its own ROS domain, discovery stays on localhost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


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
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)


_configure_ros_environment()
