"""S10 deadline accounting (docs/safety_rules.md): how late each publish came relative to the control period."""

from __future__ import annotations

from collections import deque

import numpy as np

from vla_ros.core.timing import timing_stats

LATE_FRACTION = 0.2  # a publish more than 20% of a period late counts as late


class DeadlineMonitor:
    """Counts late publishes from the interval between consecutive `tick(now)` calls.

    late: interval > 1.2 periods (includes the too-late ones); too_late: interval > 2 periods (a whole
    period missed). A clock that jumps back restarts the measurement instead of counting an error.
    skipped: control deadlines the loop let pass after a stall instead of publishing them back to back.
    `period_errors_ms` keeps the most recent `window` (interval - period) values in milliseconds.
    """

    def __init__(self, period: float, window: int = 1000) -> None:
        if not (isinstance(period, (int, float)) and np.isfinite(period) and period > 0):
            raise ValueError(f"period={period!r}: expected a finite number > 0")
        if not (isinstance(window, int) and window > 0):
            raise ValueError(f"window={window!r}: expected an integer > 0")
        self.period = float(period)
        self.late = 0
        self.too_late = 0
        self.ticks = 0
        self.clock_jumps = 0
        self.skipped = 0
        self.worst_error_ms = 0.0
        self.period_errors_ms: deque[float] = deque(maxlen=window)
        self._last: float | None = None

    def tick(self, now: float) -> None:
        """Record one publish at ROS time `now`."""
        self.ticks += 1
        if not np.isfinite(now):
            return  # a broken clock reading: keep measuring from the last good one
        last, self._last = self._last, now
        if last is None:
            return
        interval = now - last
        if interval < 0.0:
            self.clock_jumps += 1
            return
        error = interval - self.period
        self.period_errors_ms.append(error * 1000.0)
        self.worst_error_ms = max(self.worst_error_ms, error * 1000.0)
        if error > LATE_FRACTION * self.period:
            self.late += 1
        if error > self.period:
            self.too_late += 1

    def record_skipped(self, deadlines: int) -> None:
        """The control loop skipped `deadlines` ticks that passed while it stalled (kept on its grid)."""
        self.skipped += deadlines

    def snapshot(self) -> dict:
        """Counts plus p50/p99/max of |period error| over the recent window (ms), for status/diagnostics."""
        summary = timing_stats(np.abs(np.fromiter(self.period_errors_ms, dtype=float)))
        return {"ticks": self.ticks, "late": self.late, "too_late": self.too_late, "clock_jumps": self.clock_jumps,
                "skipped": self.skipped,
                "worst_late_ms": self.worst_error_ms, "period_error": summary}
