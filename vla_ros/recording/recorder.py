"""Splits a stream of serialized messages into per-instruction episode bags, on a writer thread.

The ROS side (vla_ros/recording/node.py) only calls `submit` from its subscription callbacks: a bounded queue
put that never blocks and never writes to disk, so a slow disk drops recorded messages (counted in the episode
metadata) instead of delaying anything. Everything else happens on the writer thread:
- a non-empty instruction closes the open episode and opens the next one; an empty one (stop) closes it;
- a new episode starts with the latest message of every state-like topic seen before it (camera, joints,
  status), so replay can feed the node its inputs from the episode's first instant;
- `max_episode_bytes` (message payload bytes; the storage adds its indexes on top) closes an episode early,
  marked truncated; `max_total_bytes` (bytes on disk) deletes the oldest finished episodes in the output folder
  after each one closes, never the newest;
- at least every FLUSH_INTERVAL_S the open episode's messages go to disk in whole records, so a recorder killed
  with SIGKILL loses at most the messages of the last interval and those still queued (recovery.py finishes
  the episode later).
"""

from __future__ import annotations

import json
import logging
import queue
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vla_ros.inputs.cdr import CdrError, string_payload_bytes
from vla_ros.recording.bag import (
    STORAGE_PLUGINS,
    EpisodeBagWriter,
    directory_bytes,
    iter_episode_dirs,
)
from vla_ros.recording.metadata import EPISODE_FORMAT

STRING_TYPE = "std_msgs/msg/String"
FLUSH_INTERVAL_S = 0.5  # the most recording time a SIGKILL can take from an open episode (plus the queue)
_STOP = object()


@dataclass(frozen=True)
class RecorderConfig:
    output_dir: str
    instruction_topic: str = "/vla/instruction"
    status_topic: str = "/vla/status"
    preroll_topics: tuple[str, ...] = ()  # topics whose latest message opens each episode (inputs + status)
    max_episode_bytes: int = 512 * 1024 * 1024
    max_total_bytes: int = 8 * 1024 * 1024 * 1024
    queue_size: int = 2000
    storage: str = "mcap"

    def __post_init__(self) -> None:
        if not self.output_dir:
            raise ValueError("RecorderConfig.output_dir='': expected a folder for the episode bags")
        if self.max_episode_bytes <= 0:
            raise ValueError(f"RecorderConfig.max_episode_bytes={self.max_episode_bytes}: expected > 0")
        if self.max_total_bytes < self.max_episode_bytes:
            raise ValueError(f"RecorderConfig.max_total_bytes={self.max_total_bytes}: expected >= "
                             f"max_episode_bytes ({self.max_episode_bytes})")
        if self.queue_size < 1:
            raise ValueError(f"RecorderConfig.queue_size={self.queue_size}: expected >= 1")
        if self.storage not in STORAGE_PLUGINS:
            raise ValueError(f"RecorderConfig.storage={self.storage!r}: expected one of {sorted(STORAGE_PLUGINS)}")


@dataclass
class _Episode:
    writer: EpisodeBagWriter
    instruction: str
    started_wall: float
    dropped_at_start: int
    truncated: bool = False


@dataclass
class RecorderStats:
    episodes: list[str] = field(default_factory=list)  # finished episode paths, in order
    deleted: list[str] = field(default_factory=list)  # removed to respect max_total_bytes
    dropped: int = 0  # messages lost to a full queue
    errors: list[str] = field(default_factory=list)


def _episode_name(index: int, instruction: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", instruction.lower()).strip("_")[:40] or "episode"
    return f"episode_{time.strftime('%Y%m%d_%H%M%S')}_{index:03d}_{slug}"


class Recorder:
    """`submit` from any thread; `close` once. `topic_types` maps every topic to its ROS message type."""

    def __init__(self, config: RecorderConfig, topic_types: dict[str, str],
                 static_metadata: dict[str, object] | None = None, logger: logging.Logger | None = None) -> None:
        if config.instruction_topic not in topic_types:
            raise ValueError(f"instruction topic {config.instruction_topic!r} is not among the recorded topics")
        self.config = config
        self.topic_types = dict(topic_types)
        self.static_metadata = dict(static_metadata or {})
        self.log = logger or logging.getLogger("vla_ros.recorder")
        self.output_dir = Path(config.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.stats = RecorderStats()
        self._queue: queue.Queue = queue.Queue(maxsize=config.queue_size)
        self._latest: dict[str, tuple[int, bytes]] = {}
        self._status: dict[str, object] = {}
        self._node_config: dict[str, object] = {}
        self._episode: _Episode | None = None
        self._index = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="vla_recorder_writer", daemon=True)
        self._thread.start()

    # ----- any thread -----
    def submit(self, topic: str, data: bytes, stamp_ns: int) -> bool:
        """Queue one serialized message; False (and counted) when the queue is full. Never blocks."""
        try:
            self._queue.put_nowait((topic, data, stamp_ns))
            return True
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1
            return False

    def set_node_config(self, parameters: dict[str, object]) -> None:
        """The recorded node's parameters (fetched once by the ROS side); stored in every later episode."""
        with self._lock:
            self._node_config = dict(parameters)

    def close(self, timeout: float = 30.0) -> RecorderStats:
        """Write what is queued, finalize the open episode, stop the writer thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return self.stats

    # ----- writer thread -----
    def _run(self) -> None:
        last_flush = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_INTERVAL_S)
            except queue.Empty:
                item = None
            if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                self._flush_episode()
                last_flush = time.monotonic()
            if item is None:
                continue
            if item is _STOP:
                self._close_episode("recorder stopped")
                return
            try:
                self._handle(*item)
            except Exception as error:  # one bad message must not end the recording
                self.log.error(f"recording {item[0]}: {type(error).__name__}: {error}")
                self.stats.errors.append(f"{item[0]}: {error}")

    def _handle(self, topic: str, data: bytes, stamp_ns: int) -> None:
        if topic == self.config.instruction_topic:
            try:
                text = string_payload_bytes(data).decode("utf-8", errors="replace")
            except CdrError as error:
                self.log.warning(f"unreadable instruction not recorded: {error}")
                return
            self._close_episode("new instruction" if text else "stop instruction")
            if text:
                self._open_episode(text)
                self._write(topic, data, stamp_ns)
            return
        if topic == self.config.status_topic:
            try:
                self._status = json.loads(string_payload_bytes(data))
            except (CdrError, ValueError):
                pass
        if topic in self.config.preroll_topics:
            self._latest[topic] = (stamp_ns, data)
        self._write(topic, data, stamp_ns)

    def _write(self, topic: str, data: bytes, stamp_ns: int) -> None:
        episode = self._episode
        if episode is None:  # before the first instruction, after a stop, or after an early close
            return
        if episode.writer.bytes_written + len(data) > self.config.max_episode_bytes:
            # The bag stays a valid, finished episode, marked truncated; the rest of it is not recorded.
            self.log.warning(f"episode reached max_episode_bytes={self.config.max_episode_bytes}: closed early")
            episode.truncated = True
            self._close_episode("max_episode_bytes reached")
            return
        episode.writer.write(topic, self.topic_types[topic], stamp_ns, data)

    def _flush_episode(self) -> None:
        episode = self._episode
        if episode is None:
            return
        try:
            episode.writer.flush()
        except Exception as error:  # a full disk, say: writing goes on, the episode may still close
            self.log.error(f"flushing {episode.writer.final_path}: {type(error).__name__}: {error}")

    def _open_episode(self, instruction: str) -> None:
        self._index += 1
        path = self.output_dir / _episode_name(self._index, instruction)
        with self._lock:
            node_config = dict(self._node_config)
        # What recovery needs to finish this episode if the recorder never closes it (SIGKILL).
        provisional = {"format": EPISODE_FORMAT, "instruction": instruction,
                       "model": self.static_metadata.get("model", {}), "node_config": node_config,
                       "recorder": asdict(self.config),
                       **{k: v for k, v in self.static_metadata.items() if k != "model"}}
        writer = EpisodeBagWriter(path, self.config.storage, provisional)
        with self._lock:
            dropped = self.stats.dropped
        self._episode = _Episode(writer, instruction, time.time(), dropped)
        for topic in self.config.preroll_topics:
            if topic in self._latest:
                latest_ns, latest = self._latest[topic]
                self._write(topic, latest, latest_ns)

    def _close_episode(self, reason: str) -> None:
        episode = self._episode
        if episode is None:
            return
        self._episode = None
        with self._lock:
            dropped = self.stats.dropped - episode.dropped_at_start
            node_config = dict(self._node_config)
        writer = episode.writer
        status = self._status
        metadata = {
            "format": EPISODE_FORMAT,
            "instruction": episode.instruction,
            "start_ns": writer.first_ns,
            "end_ns": writer.last_ns,
            "end_reason": reason,
            "truncated": episode.truncated,
            "dropped_messages": dropped,
            "message_counts": dict(writer.counts),
            "topics": {t: self.topic_types[t] for t in writer.counts},
            "model": {"name": status.get("model"), "backend": status.get("backend"),
                      "interface": status.get("interface"),
                      **dict(self.static_metadata.get("model", {}))},  # type: ignore[arg-type]
            "node_config": node_config,
            "recorder": asdict(self.config),
            **{k: v for k, v in self.static_metadata.items() if k != "model"},
        }
        try:
            path = writer.finalize(metadata)
            self.stats.episodes.append(str(path))
            self.log.info(f"episode written: {path} ({writer.bytes_written} bytes, {reason})")
        except Exception as error:
            writer.abort()
            self.stats.errors.append(f"finalizing {writer.final_path}: {error}")
            self.log.error(f"episode {writer.final_path} not finalized: {error}")
        self._enforce_total_bytes()

    def _enforce_total_bytes(self) -> None:
        episodes = list(iter_episode_dirs(self.output_dir))
        sizes = {p: directory_bytes(p) for p in episodes}
        total = sum(sizes.values())
        for oldest in episodes[:-1]:  # the newest episode is never deleted: it fits (max_episode < max_total)
            if total <= self.config.max_total_bytes:
                break
            shutil.rmtree(oldest, ignore_errors=True)
            total -= sizes[oldest]
            self.stats.deleted.append(str(oldest))
            self.log.info(f"deleted oldest episode {oldest} (max_total_bytes={self.config.max_total_bytes})")
