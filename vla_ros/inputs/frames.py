"""Latest-frame store for one or more cameras, synchronized by header stamp."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # HxWx3 uint8 RGB
    stamp: float  # header stamp, ROS clock seconds
    received: float  # ROS clock seconds when it arrived (transport latency = received - stamp)


@dataclass(frozen=True)
class FrameSet:
    frames: dict[str, Frame]
    stamp: float  # the oldest stamp of the set: the observation is only as fresh as its oldest camera
    sequence: int  # increases with every accepted frame; lets the inference loop skip duplicates


class FrameStore:
    """Keeps the newest frame of each camera; hands out a synchronized set.

    Callbacks put frames from executor threads while the inference thread takes sets, so a lock guards the
    dict; frames themselves are immutable arrays and are handed out without copying.
    """

    def __init__(self, camera_names: Sequence[str], sync_tolerance: float) -> None:
        self._names = tuple(camera_names)
        self._tolerance = sync_tolerance
        self._frames: dict[str, Frame] = {}
        self._sequence = 0
        self._lock = threading.Lock()

    def put(self, camera: str, frame: Frame) -> None:
        with self._lock:
            self._frames[camera] = frame
            self._sequence += 1

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    @property
    def sequence(self) -> int:
        return self._sequence

    def newest_stamp(self) -> float | None:
        """Stamp of the oldest camera's newest frame: what staleness is judged on (None until all cameras sent)."""
        with self._lock:
            if len(self._frames) < len(self._names):
                return None
            return min(f.stamp for f in self._frames.values())

    def synchronized(self) -> tuple[FrameSet | None, str]:
        """The newest set whose stamps agree within the tolerance, or (None, why not)."""
        with self._lock:
            missing = [n for n in self._names if n not in self._frames]
            if missing:
                return None, f"waiting for cameras {missing}"
            frames = {n: self._frames[n] for n in self._names}
            sequence = self._sequence
        stamps = [f.stamp for f in frames.values()]
        spread = max(stamps) - min(stamps)
        if spread > self._tolerance:
            return None, f"camera stamps differ by {spread * 1e3:.0f} ms > tolerance {self._tolerance * 1e3:.0f} ms"
        return FrameSet(frames, min(stamps), sequence), ""
