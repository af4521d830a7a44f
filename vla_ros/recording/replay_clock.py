"""The sim time vla_replay publishes on /clock (no ROS here: the replaying process's Player publishes it)."""

from __future__ import annotations

import threading
import time


class ReplayClock:
    """The sim time replay publishes on /clock: it runs at wall speed from a value, or stands at one (while
    settling, and while the node is slower to infer than it was when recording). Thread-safe: the /clock thread
    reads it while the playing thread sets it."""

    def __init__(self, start: float) -> None:
        self._lock = threading.Lock()
        self._wall, self._sim = time.monotonic(), start
        self._held: float | None = None

    def now(self) -> float:
        with self._lock:
            return self._now()

    def _now(self) -> float:
        return self._held if self._held is not None else self._sim + (time.monotonic() - self._wall)

    def run_from(self, sim: float) -> None:
        with self._lock:
            self._wall, self._sim, self._held = time.monotonic(), sim, None

    def hold(self, at: float | None = None) -> float:
        """Stand at `at` (default: where the clock is now, so it does not jump) until run_from() or release()."""
        with self._lock:
            self._held = self._now() if at is None else at
            return self._held

    def release(self) -> None:
        """Run on from the held value, without a jump."""
        with self._lock:
            if self._held is not None:
                self._wall, self._sim, self._held = time.monotonic(), self._held, None
