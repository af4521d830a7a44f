"""Turn time-stamped action chunks into one action per control tick.

Every chunk is placed on the clock it came from: step k is due at obs_stamp + k * period. A chunk only
contributes from its arrival onwards (what the model predicted for moments already gone is skipped, which
compensates the inference delay), and only until its last step. Between due steps positions are interpolated
linearly and rates (joint velocities, twists) are held; a rate chunk means zero after its last step.

Threading: add() runs on the inference thread, sample()/trajectory() on the control thread. The lock guards
only the queue list and counters; queued entries are immutable, so the control thread copies the (short)
list under the lock and evaluates outside it, and the inference thread builds its entry before taking it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from vla_ros.core.config import Blending, ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics

# Float slack for comparing clock times: a step due at exactly `now` (0.3 == 3 * 0.1 up to rounding) is not past.
_TIME_EPS = 1e-9


def is_rate_semantics(semantics: ActionSemantics) -> bool:
    """True when chunk values are rates (held between steps, zero after the last), False for positions."""
    return ActionSemantics(semantics).is_rate


@dataclass(frozen=True)
class AddResult:
    accepted: bool
    skipped_steps: int
    reason: str


class _ScheduledChunk:
    """One accepted chunk, immutable after construction, with what evaluation needs precomputed."""

    __slots__ = ("actions", "arrival", "end", "instruction_id", "inv_period", "is_rate", "last", "obs_stamp",
                 "period", "semantics", "slopes", "start", "zero")

    def __init__(self, chunk: ActionChunk, arrival: float) -> None:
        self.actions = np.array(chunk.actions, dtype=np.float64, copy=True)  # the caller may reuse its buffer
        self.actions.setflags(write=False)
        self.obs_stamp = float(chunk.obs_stamp)
        self.period = float(chunk.period)
        self.inv_period = 1.0 / self.period
        self.semantics = ActionSemantics(chunk.semantics)
        self.is_rate = self.semantics.is_rate
        self.instruction_id = int(chunk.instruction_id)
        self.arrival = float(arrival)
        horizon = self.actions.shape[0]
        last_due = self.obs_stamp + (horizon - 1) * self.period
        # Before its arrival a chunk did not exist; before step 0 it has nothing to say.
        self.start = max(self.obs_stamp, self.arrival)
        # A rate step lasts one period (half-open); a position chunk ends at its last target.
        self.end = last_due + self.period if self.is_rate else last_due
        self.slopes = np.diff(self.actions, axis=0)
        self.last = self.actions[-1]
        self.zero = np.zeros(self.actions.shape[1])

    def covers(self, t: float) -> bool:
        if t < self.start - _TIME_EPS:
            return False
        if self.is_rate:
            return t < self.end - _TIME_EPS
        return t <= self.end + _TIME_EPS

    def ended_by(self, t: float) -> bool:
        """True when nothing of this chunk is left at or after `t`."""
        return t >= self.end - _TIME_EPS if self.is_rate else t > self.end + _TIME_EPS

    def evaluate(self, t: float) -> np.ndarray:
        """The chunk's value at t, defined for every t (first value before, hold/zero after); may be a view."""
        u = (t - self.obs_stamp) * self.inv_period
        if self.is_rate:
            u += 1e-9  # a step due at exactly t is already active despite rounding
            if u < 0.0:
                return self.actions[0]
            k = int(u)
            return self.actions[k] if k < self.actions.shape[0] else self.zero
        if u <= 0.0:
            return self.actions[0]
        k = int(u)
        if k >= self.actions.shape[0] - 1:
            return self.last
        return self.actions[k] + (u - k) * self.slopes[k]


class ChunkScheduler:
    """Queue of chunks for the current instruction, blended into one action per control tick."""

    def __init__(self, config: ExecutionConfig, action_dim: int, *, max_chunks: int = 8,
                 max_future_stamp_s: float = 0.25, clock_jump_tolerance_s: float = 1e-3) -> None:
        if not isinstance(config, ExecutionConfig):
            raise TypeError(f"config must be an ExecutionConfig, got {type(config).__name__}")
        if not isinstance(action_dim, int) or action_dim < 1:
            raise ValueError(f"action_dim={action_dim!r}: expected an integer >= 1")
        if not isinstance(max_chunks, int) or max_chunks < 1:
            raise ValueError(f"max_chunks={max_chunks!r}: expected an integer >= 1")
        if not (math.isfinite(max_future_stamp_s) and max_future_stamp_s >= 0.0):
            raise ValueError(f"max_future_stamp_s={max_future_stamp_s!r}: expected a finite number >= 0")
        if not (math.isfinite(clock_jump_tolerance_s) and clock_jump_tolerance_s >= 0.0):
            raise ValueError(f"clock_jump_tolerance_s={clock_jump_tolerance_s!r}: expected a finite number >= 0")
        self.config = config
        self.action_dim = action_dim
        self.max_chunks = max_chunks
        self.max_future_stamp_s = float(max_future_stamp_s)
        self.clock_jump_tolerance_s = float(clock_jump_tolerance_s)
        # ACT temporal ensembling: i = 0 is the oldest chunk covering the moment.
        self._ensemble_weights = tuple(math.exp(-config.ensemble_decay * i) for i in range(max_chunks))
        self._lock = threading.Lock()
        self._queue: list[_ScheduledChunk] = []  # in arrival order
        self._instruction_id: int | None = None
        self._last_clock: float | None = None
        self._counters = {"chunks_accepted": 0, "chunks_rejected": 0, "chunks_dropped": 0, "steps_skipped": 0,
                          "last_skipped": 0, "clock_resets": 0}
        self._last_reject_reason = ""

    # ---- inference thread -------------------------------------------------------------------------------

    def add(self, chunk: ActionChunk, now: float) -> AddResult:
        """Queue `chunk` (actions already in target form) received at clock time `now`."""
        problem = self._check_shape(chunk)
        if problem:
            return self._reject(problem)
        skipped = self._count_past_steps(chunk, now)
        if chunk.obs_stamp > now + self.max_future_stamp_s:
            # After a sim reset an in-flight chunk carries a stamp from the old, later timeline.
            return self._reject(f"observation stamp {chunk.obs_stamp:.6f} is {chunk.obs_stamp - now:.3f} s after "
                                f"now={now:.6f} (clock reset?)", skipped)
        entry = _ScheduledChunk(chunk, now)
        if entry.ended_by(now):
            return self._reject(f"every step is in the past ({skipped} of {chunk.horizon} steps due before "
                                f"now={now:.6f})", skipped)
        with self._lock:
            current = self._instruction_id
            if current is not None and entry.instruction_id < current:
                return self._reject_locked(f"instruction_id {entry.instruction_id} is older than the current "
                                           f"{current}", skipped)
            if self._queue and self._queue[-1].semantics != entry.semantics:
                return self._reject_locked(f"semantics {entry.semantics.value} differ from the queued "
                                           f"{self._queue[-1].semantics.value}", skipped)
            if current is None or entry.instruction_id > current:
                self._set_instruction_locked(entry.instruction_id)
            self._queue.append(entry)
            overflow = len(self._queue) - self.max_chunks
            if overflow > 0:
                del self._queue[:overflow]
                self._counters["chunks_dropped"] += overflow
            self._counters["chunks_accepted"] += 1
            self._counters["steps_skipped"] += skipped
            self._counters["last_skipped"] = skipped
        return AddResult(True, skipped, "accepted")

    def _check_shape(self, chunk: ActionChunk) -> str:
        actions = chunk.actions
        if actions.shape[1] != self.action_dim:
            return f"action_dim {actions.shape[1]} != expected {self.action_dim}"
        if actions.shape[0] == 0:
            return "empty chunk (horizon 0)"
        if not np.all(np.isfinite(actions)):
            return "non-finite action values"
        if not math.isfinite(chunk.obs_stamp):
            return f"non-finite obs_stamp {chunk.obs_stamp}"
        return ""

    @staticmethod
    def _count_past_steps(chunk: ActionChunk, now: float) -> int:
        """Steps due strictly before `now` (a step due at `now` itself is kept)."""
        past = math.ceil((now - _TIME_EPS - chunk.obs_stamp) / chunk.period)
        return min(max(past, 0), chunk.horizon)

    def _reject(self, reason: str, skipped: int = 0) -> AddResult:
        with self._lock:
            return self._reject_locked(reason, skipped)

    def _reject_locked(self, reason: str, skipped: int) -> AddResult:
        self._counters["chunks_rejected"] += 1
        self._last_reject_reason = reason
        return AddResult(False, skipped, reason)

    # ---- either thread ----------------------------------------------------------------------------------

    def set_instruction(self, instruction_id: int) -> None:
        """Start a new instruction: every queued chunk of an older id is dropped at once."""
        with self._lock:
            if self._instruction_id is not None and instruction_id < self._instruction_id:
                raise ValueError(f"instruction_id={instruction_id} goes backwards (current {self._instruction_id})")
            self._set_instruction_locked(int(instruction_id))

    def _set_instruction_locked(self, instruction_id: int) -> None:
        kept = [c for c in self._queue if c.instruction_id >= instruction_id]
        self._counters["chunks_dropped"] += len(self._queue) - len(kept)
        self._queue = kept
        self._instruction_id = instruction_id

    def clear(self) -> None:
        with self._lock:
            self._counters["chunks_dropped"] += len(self._queue)
            self._queue = []

    @property
    def instruction_id(self) -> int | None:
        return self._instruction_id

    @property
    def stats(self) -> dict:
        with self._lock:
            return {**self._counters, "queue_length": len(self._queue), "instruction_id": self._instruction_id,
                    "last_reject_reason": self._last_reject_reason}

    # ---- control thread ---------------------------------------------------------------------------------

    def observe_clock(self, now: float) -> bool:
        """Feed the control clock; True (and the queue cleared) when it jumped backwards, e.g. a sim reset."""
        with self._lock:
            jumped = self._last_clock is not None and now < self._last_clock - self.clock_jump_tolerance_s
            self._last_clock = now
            if jumped:
                self._counters["chunks_dropped"] += len(self._queue)
                self._counters["clock_resets"] += 1
                self._queue = []
            return jumped

    def sample(self, now: float) -> np.ndarray | None:
        """The action for time `now` (a new array), or None when no chunk covers `now`."""
        chunks = self._snapshot(now)
        if not chunks:
            return None
        value = self._evaluate(chunks, now)
        return None if value is None else np.array(value, dtype=np.float64, copy=True)

    def trajectory(self, now: float) -> list[tuple[float, np.ndarray]]:
        """Future points (time_from_start, action) for joint_trajectory_controller, never past the covered end."""
        chunks = self._snapshot(now)
        arrived = [c for c in chunks if c.arrival <= now + _TIME_EPS]
        if not arrived:
            return []
        # A rate chunk's end is exclusive: stay a hair inside it.
        last_covered = max(c.end - (1e-6 if c.is_rate else 0.0) for c in arrived)
        span = min(self.config.trajectory_horizon_s, last_covered - now)
        if span <= _TIME_EPS:
            return []
        count = self.config.trajectory_points
        points: list[tuple[float, np.ndarray]] = []
        for i in range(1, count + 1):
            time_from_start = span * i / count
            value = self._evaluate(chunks, now + time_from_start)
            if value is None:  # a gap between chunks: the trajectory stops before it
                break
            points.append((time_from_start, np.array(value, dtype=np.float64, copy=True)))
        return points

    def _snapshot(self, now: float) -> tuple[_ScheduledChunk, ...]:
        with self._lock:
            self._prune_locked(now)
            return tuple(self._queue)

    def _prune_locked(self, now: float) -> None:
        queue = self._queue
        if not queue:
            return
        before = len(queue)
        if self.config.blending is not Blending.ENSEMBLE:
            # Everything older than the newest fully faded-in chunk has weight zero from now on.
            crossfade = self.config.effective_crossfade_s
            for i in range(len(queue) - 1, 0, -1):
                if queue[i].arrival + crossfade <= now + _TIME_EPS:
                    del queue[:i]
                    break
            # Ended chunks still matter as the fade-out source of a newer one; once all ended, none does.
            if all(c.ended_by(now) for c in queue):
                queue.clear()
        else:
            queue[:] = [c for c in queue if not c.ended_by(now)]
        self._counters["chunks_dropped"] += before - len(queue)

    def _evaluate(self, chunks: tuple[_ScheduledChunk, ...], t: float) -> np.ndarray | None:
        if self.config.blending is Blending.ENSEMBLE:
            return self._evaluate_ensemble(chunks, t)
        return self._evaluate_latest(chunks, t)

    def _evaluate_ensemble(self, chunks: tuple[_ScheduledChunk, ...], t: float) -> np.ndarray | None:
        total: np.ndarray | None = None
        weight_sum = 0.0
        i = 0
        for chunk in chunks:
            if not chunk.covers(t):
                continue
            weight = self._ensemble_weights[i]
            i += 1
            term = chunk.evaluate(t) * weight
            total = term if total is None else np.add(total, term, out=total)
            weight_sum += weight
        if total is None:
            return None
        total *= 1.0 / weight_sum
        return total

    def _evaluate_latest(self, chunks: tuple[_ScheduledChunk, ...], t: float) -> np.ndarray | None:
        # value_n = w_n * chunk_n + (1 - w_n) * value_{n-1}, w_n ramping 0 -> 1 over crossfade_s from arrival.
        # Each term is continuous in t (ended chunks hold their last position / give zero rate), so the
        # blend is too: a tick-to-tick step is at most the chunks' own slope plus disagreement * dt / crossfade.
        crossfade = self.config.effective_crossfade_s
        value: np.ndarray | None = None
        covered = False
        for chunk in chunks:
            if chunk.arrival > t + _TIME_EPS:
                continue  # not there yet at t (queue order is add order; `now` of add() may not be monotonic)
            if value is None:
                value, covered = chunk.evaluate(t), chunk.covers(t)
                continue
            elapsed = t - chunk.arrival
            weight = 1.0 if crossfade <= 0.0 or elapsed >= crossfade else max(elapsed, 0.0) / crossfade
            if weight >= 1.0:
                value, covered = chunk.evaluate(t), chunk.covers(t)
            elif weight > 0.0:
                value = value + weight * (chunk.evaluate(t) - value)
                covered = covered or chunk.covers(t)
        return value if covered else None
