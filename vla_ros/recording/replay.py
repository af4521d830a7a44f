"""Comparing a replay's outputs with the recorded ones (the ROS side is vla_ros/recording/replay_runner.py).

What is compared, and why there are two tolerances:
- action chunks (/vla/action_chunk), matched by observation stamp: the same camera frame (replayed with its
  original header stamp) and the same joint state through a deterministic model on the same backend give the
  same targets, so these are compared tightly (`tolerance`). Which frames get inferred depends on inference
  timing, so only stamps present in both runs are compared; none in common is a mismatch. Where both reports
  carry the joint state the model was given ("state"), a divergence says whether that state differed.
- commands, matched by time (nearest recorded command within `max_time_offset` of each replayed one): a command
  depends on when each chunk arrived and on tick phase, which replay does not reproduce exactly, so these are
  compared loosely (`command_tolerance`), as a check that the replayed run did the same thing, not bit-exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_ros.recording.episode import TimedCommands


@dataclass(frozen=True)
class Divergence:
    kind: str  # "chunk" or "command"
    stamp: float  # observation stamp (chunk) or command time (command), s
    error: float  # max |recorded - replayed|
    tolerance: float
    detail: str

    def describe(self) -> str:
        return (f"first {self.kind} divergence at t={self.stamp:.6f} s: max |error| {self.error:.6g} > "
                f"tolerance {self.tolerance:g} ({self.detail})")


@dataclass
class ReplayComparison:
    chunks_recorded: int = 0
    chunks_replayed: int = 0
    chunks_compared: int = 0
    max_chunk_error: float = 0.0
    commands_recorded: int = 0
    commands_replayed: int = 0
    commands_compared: int = 0
    max_command_error: float = 0.0
    divergences: list[Divergence] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # mismatches that are not a numeric divergence

    @property
    def matched(self) -> bool:
        return not self.divergences and not self.problems

    @property
    def first_divergence(self) -> Divergence | None:
        return min(self.divergences, key=lambda d: d.stamp) if self.divergences else None

    def summary(self) -> str:
        lines = [f"chunks: {self.chunks_compared} compared by observation stamp (recorded {self.chunks_recorded}, "
                 f"replayed {self.chunks_replayed}), max |error| {self.max_chunk_error:.3g}",
                 f"commands: {self.commands_compared} compared by time (recorded {self.commands_recorded}, "
                 f"replayed {self.commands_replayed}), max |error| {self.max_command_error:.3g}"]
        lines += self.problems
        first = self.first_divergence
        if first is not None:
            lines.append(first.describe())
        lines.append("MATCH" if self.matched else "MISMATCH")
        return "\n".join(lines)


def _stamp_key(stamp: float) -> int:
    return round(stamp * 1e6)  # microseconds: stamps go through JSON floats on both sides


def _state_note(recorded, replayed) -> str:
    """Why a chunk diverged when the reports say (their "state": the joint state the model was given)."""
    if recorded is None or replayed is None:
        return ""
    expected, actual = np.asarray(recorded, dtype=np.float64), np.asarray(replayed, dtype=np.float64)
    if expected.shape != actual.shape:
        return f"; joint state size {actual.shape} vs recorded {expected.shape}"
    difference = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    return (f"; the node was given another joint state than recorded (max |difference| {difference:.3g})"
            if difference > 0 else "; same joint state as recorded")


def compare_chunks(recorded: list[dict], replayed: list[dict], tolerance: float,
                   result: ReplayComparison) -> None:
    result.chunks_recorded, result.chunks_replayed = len(recorded), len(replayed)
    by_stamp = {_stamp_key(float(c["obs_stamp"])): c for c in recorded}
    first: Divergence | None = None
    for chunk in sorted(replayed, key=lambda c: float(c["obs_stamp"])):
        original = by_stamp.get(_stamp_key(float(chunk["obs_stamp"])))
        if original is None:
            continue
        expected = np.asarray(original["targets"], dtype=np.float64)
        actual = np.asarray(chunk["targets"], dtype=np.float64)
        result.chunks_compared += 1
        if expected.shape != actual.shape:
            error = float("inf")
            detail = f"target shape {actual.shape} vs recorded {expected.shape}"
        else:
            difference = np.abs(expected - actual)
            error = float(difference.max()) if difference.size else 0.0
            step, dim = np.unravel_index(int(np.argmax(difference)), difference.shape) if difference.size else (0, 0)
            detail = (f"chunk step {step}, dim {dim}: recorded {expected[step, dim]:.6g}, "
                      f"replayed {actual[step, dim]:.6g}") if difference.size else "empty chunk"
        result.max_chunk_error = max(result.max_chunk_error, error)
        if error > tolerance and first is None:
            detail += _state_note(original.get("state"), chunk.get("state"))
            first = Divergence("chunk", float(chunk["obs_stamp"]), error, tolerance, detail)
    if first is not None:
        result.divergences.append(first)
    if recorded and replayed and result.chunks_compared == 0:
        result.problems.append("no replayed chunk shares an observation stamp with a recorded one "
                               "(were the camera frames replayed?)")
    if recorded and not replayed:
        result.problems.append("the replayed node published no action chunk")


def compare_commands(recorded: TimedCommands, replayed: TimedCommands, command_tolerance: float,
                     max_time_offset: float, result: ReplayComparison) -> None:
    result.commands_recorded, result.commands_replayed = len(recorded.times), len(replayed.times)
    if not len(replayed.times):
        result.problems.append("the replayed node published no command")
        return
    start, end = recorded.times[0], recorded.times[-1]
    first: Divergence | None = None
    for time, vector in zip(replayed.times, replayed.vectors):
        if time < start or time > end:
            continue
        nearest = int(np.argmin(np.abs(recorded.times - time)))
        if abs(recorded.times[nearest] - time) > max_time_offset:
            continue
        expected = recorded.vectors[nearest]
        result.commands_compared += 1
        if expected.shape != vector.shape:
            error, detail = float("inf"), f"command size {vector.shape} vs recorded {expected.shape}"
        else:
            difference = np.abs(expected - vector)
            error = float(difference.max())
            dim = int(np.argmax(difference))
            detail = f"dim {dim}: recorded {expected[dim]:.6g}, replayed {vector[dim]:.6g}"
        result.max_command_error = max(result.max_command_error, error)
        if error > command_tolerance and first is None:
            first = Divergence("command", float(time), error, command_tolerance, detail)
    if first is not None:
        result.divergences.append(first)
    if result.commands_compared == 0:
        result.problems.append("no replayed command fell within max_time_offset of a recorded one")
