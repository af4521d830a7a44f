"""The fixed-rate control tick grid: absolute deadlines that keep their phase through stalls (ROS-free).

The grid is set once, at the first deadline. A tick that comes late does not move it, and a stall longer
than a period skips the missed deadlines but stays on the grid, like an rcl timer. A restart that re-phased
the grid at "now + period" would move every later command off the grid. On sim time that puts a replay's
commands between the recorded ones, and a controller that interpolates a trajectory sees its points shifted.
Only a clock that goes backwards (a simulation reset) starts a new grid: the old one no longer exists.
"""

from __future__ import annotations

import math


class TickSchedule:
    """Deadlines `first + k * period` on one clock; `remaining(now)` to wait, `advance(now)` as each tick starts.

    Counts: `skipped` deadlines that passed during a stall, `restarts` after backwards clock jumps.
    """

    def __init__(self, period: float, now: float) -> None:
        if not (isinstance(period, (int, float)) and math.isfinite(period) and period > 0):
            raise ValueError(f"period={period!r}: expected a finite number of seconds > 0")
        if not math.isfinite(now):
            raise ValueError(f"now={now!r}: expected a finite clock reading")
        self.period = float(period)
        self.deadline = now + self.period
        self.skipped = 0
        self.restarts = 0

    def remaining(self, now: float) -> float:
        """Seconds until the next deadline (<= 0: tick now). A clock that went back starts a new grid."""
        remaining = self.deadline - now
        if remaining > 2 * self.period:  # the clock went backwards (sim reset): the old grid is gone
            self.restarts += 1
            self.deadline = now + self.period
            remaining = self.period
        return remaining

    def advance(self, now: float) -> int:
        """A tick starts at `now` for the current deadline: move to the next one; returns deadlines skipped.

        A tick that starts less than a period late keeps the next deadline (the late tick absorbs the delay);
        one that starts later skips the deadlines already past instead of bursting them out back to back.
        How long the tick itself then takes does not matter here (called before it, as rcl_timer_call is).
        """
        self.deadline += self.period
        if self.deadline - now > 2 * self.period:  # the clock went back since remaining() looked
            self.restarts += 1
            self.deadline = now + self.period
            return 0
        behind = now - self.deadline
        if behind <= 0:
            return 0
        missed = math.floor(behind / self.period) + 1
        self.deadline += missed * self.period
        self.skipped += missed
        return missed
