"""The p50/p99/max/n summary of a batch of durations, as status, diagnostics and every benchmark report it.

One definition, so a p99 in a node's status and a p99 in a benchmark's JSON are computed the same way: numpy's
default (linear) percentile over float64 milliseconds, and all zeros with n = 0 for no samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimingStats:
    p50_ms: float
    p99_ms: float
    max_ms: float
    n: int

    @classmethod
    def of_ms(cls, samples_ms: Sequence[float] | np.ndarray) -> TimingStats:
        """Summarise durations given in milliseconds."""
        values = np.asarray(samples_ms, dtype=np.float64)
        if values.size == 0:
            return cls(p50_ms=0.0, p99_ms=0.0, max_ms=0.0, n=0)
        return cls(p50_ms=float(np.percentile(values, 50)), p99_ms=float(np.percentile(values, 99)),
                   max_ms=float(values.max()), n=int(values.size))

    def as_dict(self, digits: int | None = None) -> dict[str, float | int]:
        """{"p50_ms", "p99_ms", "max_ms", "n"}; `digits` rounds the milliseconds for reports read by people."""
        if digits is None:
            return {"p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms, "n": self.n}
        return {"p50_ms": round(self.p50_ms, digits), "p99_ms": round(self.p99_ms, digits),
                "max_ms": round(self.max_ms, digits), "n": self.n}


def timing_stats(samples_ms: Sequence[float] | np.ndarray, digits: int | None = None) -> dict[str, float | int]:
    """`TimingStats.of_ms(samples_ms).as_dict(digits)`: the JSON form most callers want."""
    return TimingStats.of_ms(samples_ms).as_dict(digits)
