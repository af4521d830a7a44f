"""What an accepted chunk reports: the timings in /vla/status, and the record published on /vla/action_chunk
(for recordings, replays and the latency bench) with the first tick that commands from it."""

from __future__ import annotations

from vla_ros.core.types import ActionChunk
from vla_ros.inputs.frames import FrameSet


def chunk_reports(chunk: ActionChunk, frame_set: FrameSet, instruction: str, now: float,
                  skipped_steps: int) -> tuple[dict[str, float], dict[str, object]]:
    """(timings for /vla/status in ms, the chunk's record). `now` is when the scheduler accepted it."""
    received = max(f.received for f in frame_set.frames.values())
    timings = dict(chunk.timings_ms)
    status_timings = {**timings, "transport": max(0.0, (received - frame_set.stamp) * 1e3),
                      "observation_age_at_chunk": (now - frame_set.stamp) * 1e3, "skipped_steps": float(skipped_steps)}
    record: dict[str, object] = {
        **timings, "obs_stamp": frame_set.stamp, "received": received, "chunk_ready": now,
        "skipped_steps": float(skipped_steps), "instruction_id": chunk.instruction_id, "instruction": instruction,
        "period": chunk.period, "state": None if chunk.reference_state is None else chunk.reference_state.tolist(),
        "semantics": chunk.semantics.value, "targets": chunk.actions.tolist()}
    return status_timings, record
