"""The `vla_sim` console script: Ctrl-C and SIGTERM handling first, then the slow imports (vla_ros/ros/spin.py)."""

from __future__ import annotations

from collections.abc import Callable

from vla_ros.ros.spin import run_console_script


def _load_main() -> Callable[[], int | None]:
    from vla_ros.sim.node import main

    return main


def vla_sim() -> int:
    return run_console_script(_load_main)
