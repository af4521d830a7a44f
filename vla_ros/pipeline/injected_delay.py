"""An artificial inference delay on the node's clock, for experiments with slow models on a fast one.

`execution.injected_delay_s = d` makes a chunk computed from an observation stamped t reach the scheduler only
once the clock reads t + d, and keeps the model busy until then (no newer observation is inferred meanwhile),
as a model that takes d to infer would. On sim time the delay is exact whatever the machine's speed, so a
0.2 ms bundled model can stand in for a 300 ms VLA in the blending comparison (`vla_bench delay`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class _Pending:
    release_at: float
    hand_over: Callable[[], None]


class InjectedDelay:
    """Holds at most one computed chunk until its release time. Thread safe: the inference thread holds,
    the control thread (and the inference thread) release."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = float(delay_s)
        self._lock = threading.Lock()
        self._pending: _Pending | None = None

    @property
    def enabled(self) -> bool:
        return self.delay_s > 0.0

    def hold(self, obs_stamp: float, hand_over: Callable[[], None]) -> None:
        """Keep `hand_over` (which gives the chunk to the scheduler) until the clock reaches obs_stamp + delay."""
        with self._lock:
            self._pending = _Pending(obs_stamp + self.delay_s, hand_over)

    def busy(self) -> bool:
        """A chunk is still held: the model counts as running, so no new inference starts."""
        with self._lock:
            return self._pending is not None

    def release_due(self, now: float) -> bool:
        """Hand the held chunk over if its time has come; True when one was handed over."""
        with self._lock:
            pending = self._pending
            if pending is None or now < pending.release_at:
                return False
            self._pending = None
        pending.hand_over()
        return True

    def clear(self) -> None:
        """Drop a held chunk (deactivation, clock reset): it belongs to a run that ended."""
        with self._lock:
            self._pending = None
