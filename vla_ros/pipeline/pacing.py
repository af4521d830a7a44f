"""When the next inference may start (`execution.inference_interval_s`).

By default every new synchronized frame, and every new instruction, is inferred on as soon as the model is free.
With an interval, the next inference waits for an observation stamped at least that long after the one the
previous inference used, so each chunk runs for about that long before the next one takes over: the RTC paper's
execution horizon. Under real-time chunking this is what lets the policy correct from the image. The steps right
after a frozen prefix mostly continue it; a chunk that is replaced one delay after it arrives never runs the later
steps where the model steers back.

The interval is capped so that the next chunk is due before the executing one runs out: the next observation is
taken no later than the chunk's last step minus the largest recent delay minus one step. It is also kept a step
below safety.inference_timeout, so that pacing alone never lets the late-inference hold stop the robot. A cap
below zero means infer at once.
"""

from __future__ import annotations

import threading

from vla_ros.core.config import Blending
from vla_ros.core.parameters import NodeConfig
from vla_ros.pipeline.delay_estimate import RecentDelays


class InferencePacing:
    """Decides, for the inference thread, whether a synchronized observation should be inferred on now."""

    def __init__(self, interval_s: float, chunk_span_s: float, step_s: float,
                 max_chunk_gap_s: float = float("inf")) -> None:
        """`chunk_span_s`: from a chunk's observation to its last step; `step_s`: the chunk's step period;
        `max_chunk_gap_s`: the longest wait for a new chunk before the safety layer holds."""
        if interval_s < 0.0:
            raise ValueError(f"interval_s={interval_s}: expected >= 0 (execution.inference_interval_s)")
        self.interval_s = float(interval_s)
        self.chunk_span_s = float(chunk_span_s)
        self.step_s = float(step_s)
        self.max_chunk_gap_s = float(max_chunk_gap_s)
        self._lock = threading.Lock()
        self._last_key: tuple[int, int] | None = None  # (frame sequence, instruction id)
        self._last_stamp: tuple[int, float] | None = None  # (instruction id, observation stamp)
        self._delays = RecentDelays()

    def effective_interval(self) -> float:
        """The interval after the cap that keeps the executing chunk from running out."""
        if self.interval_s <= 0.0:
            return 0.0
        delay = self._delays.largest() or 0.0
        return max(0.0, min(self.interval_s, self.chunk_span_s - delay - self.step_s,
                            self.max_chunk_gap_s - self.step_s))

    def due(self, sequence: int, instruction_id: int, stamp: float) -> bool:
        """Whether this observation is new and the interval since the last inferred one has passed. A new
        instruction never waits, and neither does a stamp that went backwards (a reset simulation)."""
        with self._lock:
            if (sequence, instruction_id) == self._last_key:
                return False
            last = self._last_stamp
        if last is None or last[0] != instruction_id or stamp < last[1]:
            return True
        return stamp >= last[1] + self.effective_interval() - 1e-6

    def started(self, sequence: int, instruction_id: int, stamp: float) -> None:
        """The model runs on this observation."""
        with self._lock:
            self._last_key = (sequence, instruction_id)
            self._last_stamp = (instruction_id, stamp)

    def chunk_accepted(self, obs_stamp: float, handed_over: float) -> None:
        """A chunk took over `handed_over - obs_stamp` after its observation: the delay the cap plans for."""
        self._delays.add(obs_stamp, handed_over)

    def clear(self) -> None:
        """The clock went backwards: stamps and delays from before it mean nothing now."""
        with self._lock:
            self._last_key = None
            self._last_stamp = None
        self._delays.clear()


def pacing_advice(config: NodeConfig) -> str | None:
    """A warning for real-time chunking that replans on every frame, where it keeps the policy from correcting."""
    if config.execution.blending is Blending.RTC and config.execution.inference_interval_s == 0.0:
        return ("execution.blending=rtc with execution.inference_interval_s=0: every chunk is replaced one delay "
                "after it arrives, so only the steps that continue its frozen prefix ever run and the policy cannot "
                "steer back; set execution.inference_interval_s (e.g. the chunk's length: it is capped to what the "
                "measured delay allows; docs/rtc.md)")
    return None
