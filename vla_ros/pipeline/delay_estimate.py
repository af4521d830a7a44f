"""The inference delay the pipeline plans for: the largest observation-to-hand-over time of the recent chunks.

The delay of the next inference is not known before it runs. Both real-time chunking (how many steps to freeze)
and inference pacing (how long a chunk can run before the next must be due) plan for the largest recent one: a
conservative estimate, which one slow chunk raises for the next LATENCY_WINDOW chunks.
"""

from __future__ import annotations

import threading
from collections import deque

LATENCY_WINDOW = 8  # chunks whose delay the estimate remembers


class RecentDelays:
    """Thread safe: the inference thread (and the control thread, for a held chunk) add, either reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delays: deque[float] = deque(maxlen=LATENCY_WINDOW)

    def add(self, obs_stamp: float, handed_over: float) -> None:
        with self._lock:
            self._delays.append(max(0.0, float(handed_over) - float(obs_stamp)))

    def largest(self) -> float | None:
        """None before the first chunk."""
        with self._lock:
            return max(self._delays) if self._delays else None

    def clear(self) -> None:
        with self._lock:
            self._delays.clear()
