"""Which actions to freeze for the next chunk under real-time chunking (`execution.blending: rtc`).

A chunk computed from an observation stamped t arrives L later (the inference delay); its step k is due at
t + k * period, so every step due before t + L is already past when it arrives, and during that time the robot
executes the current chunk. Those actions are given to the model as fixed (Observation.frozen_actions); it returns
a chunk that starts with them and continues from them, so the hand-over at arrival is continuous.

Positions are interpolated linearly between due steps, so the value at arrival also depends on the first step due
after it: the frozen prefix covers floor(L / period) + 1 steps, capped at what the package was trained for.
L is not known before the inference runs: it is estimated as the largest of the recent observation-to-hand-over
times (a conservative estimate; one that is too short leaves the new chunk's own steps to take over at arrival).
Servers stay stateless: the prefix travels with the observation.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from vla_ros.pipeline.delay_estimate import RecentDelays


class FrozenPrefixPlanner:
    """Remembers the executing chunk (robot units, as the policy returned it) and recent delays."""

    def __init__(self, max_steps: int, period: float) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps={max_steps}: expected >= 1 (the package's outputs.flow.rtc.max_delay_steps)")
        if not period > 0.0:
            raise ValueError(f"period={period}: expected > 0")
        self.max_steps = int(max_steps)
        self.period = float(period)
        self._lock = threading.Lock()
        self._actions: np.ndarray | None = None
        self._stamp = 0.0
        self._delays = RecentDelays()

    def on_chunk(self, actions: np.ndarray, obs_stamp: float, handed_over: float) -> None:
        """A chunk became the executing one (newest wins): remember it and how long it took."""
        with self._lock:
            self._actions = np.array(actions, dtype=np.float64, copy=True)
            self._stamp = float(obs_stamp)
        self._delays.add(obs_stamp, handed_over)

    def clear(self) -> None:
        """A new instruction (its first chunk starts from the measured state) or a reset clock."""
        with self._lock:
            self._actions = None
        self._delays.clear()

    @property
    def expected_delay(self) -> float | None:
        return self._delays.largest()

    def steps_for(self, delay: float) -> int:
        return min(self.max_steps, math.floor(delay / self.period + 1e-9) + 1)

    def frozen_for(self, stamp: float) -> np.ndarray | None:
        """The executing chunk's values at stamp + i * period for the expected delay's steps, or None."""
        delay = self._delays.largest()
        with self._lock:
            if self._actions is None or delay is None:
                return None
            actions, origin = self._actions, self._stamp
        count = self.steps_for(delay)
        u = (stamp + np.arange(count) * self.period - origin) / self.period
        u = np.clip(u, 0.0, actions.shape[0] - 1)
        low = np.floor(u).astype(int)
        high = np.minimum(low + 1, actions.shape[0] - 1)
        fraction = (u - low)[:, None]
        return actions[low] + fraction * (actions[high] - actions[low])
