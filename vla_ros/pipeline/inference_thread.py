"""The inference hand-off thread: runs one inference step whenever there may be something new to infer on.

With the model in its own process (inference_process), this thread only hands observations over and takes
chunks back: short GIL holds that must not be preempted midway (the control thread would wait), so it runs
at the I/O priority, like the node's other I/O threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.execution.realtime import set_fifo_priority
from vla_ros.model import ModelPackage

# How long the thread sleeps when there is nothing new to infer on; new inputs wake it earlier.
IDLE_WAIT_S = 0.02


class InferenceThread:
    def __init__(self, step: Callable[[], bool], log: logging.Logger) -> None:
        """`step()` infers once if it can and returns whether the model ran."""
        self._step = step
        self._log = log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """New inputs arrived: look again now instead of at the end of the idle wait."""
        self._wake.set()

    def start(self, priority: int) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(priority,), name="vla_inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def _run(self, priority: int) -> None:
        problem = set_fifo_priority(priority)
        if problem:
            self._log.warning(f"inference thread: {problem}")
        while not self._stop.is_set():
            if not self._step():
                self._wake.wait(IDLE_WAIT_S)
                self._wake.clear()


def blank_observation(package: ModelPackage, joint_count: int) -> Observation:
    """Black frames of each camera's expected size (640x480 where the package leaves it open), a zero state."""
    images = {}
    for camera in package.camera_names:
        height, width = package.expected_image_size(camera) or (480, 640)
        images[camera] = np.zeros((height, width, 3), dtype=np.uint8)
    state = np.zeros(joint_count) if package.state_dim is not None else None
    return Observation(images, 0.0, "warm up", state)
