"""The ROS-free half of the cross-process rig: run a ROS executable module in its own process, wait on a
condition, generate a camera scene. Importing this module needs no rclpy, so ROS-free callers (the process
policy tests, the camera process) can use these helpers on a machine without ROS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml


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
    """A ROS executable module run as `python -m MODULE --ros-args --params-file FILE` with its log kept.

    `extra_pythonpath` is put before the inherited PYTHONPATH, so the process can import modules that are not
    installed (the tests' deliberately slow or raising models)."""

    def __init__(self, params: dict[str, object], module: str = "vla_ros.ros.node",
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None, extra_pythonpath: list[Path] | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="vla_rig_")
        self.params_file = Path(self._dir.name) / "params.yaml"
        self.params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
        self.log_path = Path(self._dir.name) / "node.log"
        self._log = self.log_path.open("wb")
        environment = {**os.environ, **(env or {})}
        if extra_pythonpath:
            environment["PYTHONPATH"] = os.pathsep.join([*map(str, extra_pythonpath),
                                                         environment.get("PYTHONPATH", "")])
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--ros-args", "--params-file", str(self.params_file), *(extra_args or [])],
            stdout=self._log, stderr=subprocess.STDOUT, env=environment, cwd=cwd)

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
