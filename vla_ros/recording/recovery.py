"""Finishing the episodes a recorder could not close (SIGKILL, a crash, a power cut): `vla_record --recover DIR`,
and every start of vla_record on its output folder.

A `.partial` episode folder (bag.py) holds the bag as far as it reached the disk and `episode.partial.json`
(the instruction, model, node parameters: what the episode is). Recovery reads every whole message out of the
storage file, writes them into a new, complete bag under the episode's final name, with the episode metadata
marked `recovered`, and removes the `.partial` folder.

What it keeps and what it cannot:
- MCAP (the default): every message of every whole chunk. The recorder closes a chunk and flushes it at least
  every FLUSH_INTERVAL_S (recorder.py), so what a SIGKILL takes is the messages of the last interval, those
  still in the recorder's queue, and an incomplete chunk at the end of the file (its size is reported as
  `discarded_bytes`).
- sqlite3: every committed row (the recorder commits on the same interval).
- The episode's `dropped_messages` count and its end reason live only in the recorder's memory: a recovered
  episode says `dropped_messages: null` and `end_reason: "recovered ..."`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vla_ros.recording.bag import PARTIAL_SUFFIX, PROVISIONAL_METADATA_FILE, EpisodeBagWriter
from vla_ros.recording.metadata import EPISODE_FORMAT

RECOVERING_SUFFIX = ".recovering"  # a .partial folder while its recovery runs (safe to run again if killed)
MCAP_MAGIC = b"\x89MCAP0\r\n"
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x03, 0x04, 0x05, 0x06


@dataclass(frozen=True)
class SalvagedMessage:
    topic: str
    msgtype: str
    stamp_ns: int
    data: bytes


@dataclass
class Salvage:
    messages: list[SalvagedMessage] = field(default_factory=list)
    discarded_bytes: int = 0  # at the end of the storage file, not a whole record
    problem: str = ""  # why nothing (or not everything) could be read, when known


@dataclass(frozen=True)
class RecoveredEpisode:
    path: Path
    messages: int
    discarded_bytes: int
    problem: str = ""

    def describe(self) -> str:
        text = f"recovered episode {self.path}: {self.messages} message(s) kept"
        if self.discarded_bytes:
            text += f", {self.discarded_bytes} byte(s) of an incomplete chunk at the end lost"
        return text + (f" ({self.problem})" if self.problem else "")


class _Cursor:
    def __init__(self, data: bytes | memoryview, offset: int = 0) -> None:
        self.data, self.offset = data, offset

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise EOFError
        chunk = bytes(self.data[self.offset:self.offset + size])
        self.offset += size
        return chunk

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> str:
        return self.take(self.u32()).decode("utf-8")


def _records(data: bytes | memoryview, offset: int) -> Iterator[tuple[int, memoryview, int]]:
    """(opcode, body, end offset) of each whole record from `offset`; stops at the first incomplete one."""
    view = memoryview(data)
    while offset + 9 <= len(view):
        opcode = view[offset]
        length = struct.unpack_from("<Q", view, offset + 1)[0]
        end = offset + 9 + length
        if end > len(view):
            return
        yield opcode, view[offset + 9:end], end
        offset = end


def salvage_mcap(path: Path) -> Salvage:
    """Every message of every whole chunk of an MCAP file that was never closed (no summary, maybe cut short)."""
    data = path.read_bytes() if path.is_file() else b""
    salvage = Salvage()
    if not data.startswith(MCAP_MAGIC):
        salvage.discarded_bytes = len(data)
        salvage.problem = "empty storage file" if not data else "not an MCAP file"
        return salvage
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, int]] = {}
    consumed = len(MCAP_MAGIC)
    for opcode, body, end in _records(data, len(MCAP_MAGIC)):
        consumed = end
        if opcode != _OP_CHUNK:
            continue
        chunk = _Cursor(body)
        chunk.take(8 + 8 + 8 + 4)  # start/end time, uncompressed size, crc
        compression = chunk.string()
        records = chunk.take(chunk.u64())
        if compression:
            salvage.problem = f"compressed chunks ({compression}) are not recovered"
            continue
        for inner, record, _ in _records(records, 0):
            fields = _Cursor(record)
            if inner == _OP_SCHEMA:
                schema_id = fields.u16()
                schemas[schema_id] = fields.string()
            elif inner == _OP_CHANNEL:
                channel_id, schema_id = fields.u16(), fields.u16()
                channels[channel_id] = (fields.string(), schema_id)
            elif inner == _OP_MESSAGE:
                channel_id = fields.u16()
                fields.u32()  # sequence
                stamp_ns = fields.u64()
                fields.u64()  # publish time
                topic, schema_id = channels[channel_id]
                salvage.messages.append(SalvagedMessage(topic, schemas[schema_id], stamp_ns,
                                                        bytes(record[fields.offset:])))
    salvage.discarded_bytes = len(data) - consumed
    return salvage


def salvage_sqlite(path: Path) -> Salvage:
    """Every committed message of a rosbag2 sqlite3 file that was never closed."""
    salvage = Salvage()
    if not path.is_file():
        salvage.problem = "no storage file"
        return salvage
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            topics = {row[0]: (row[1], row[2]) for row in connection.execute("SELECT id, name, type FROM topics")}
            for topic_id, stamp_ns, data in connection.execute(
                    "SELECT topic_id, timestamp, data FROM messages ORDER BY id"):
                name, msgtype = topics[topic_id]
                salvage.messages.append(SalvagedMessage(name, msgtype, int(stamp_ns), bytes(data)))
    except sqlite3.Error as error:
        salvage.problem = f"unreadable sqlite3 file: {error}"
    return salvage


def salvage_bag_folder(bag_folder: Path, storage: str) -> Salvage:
    if storage == "sqlite3":
        return salvage_sqlite(bag_folder / f"{bag_folder.name}.db3")
    return salvage_mcap(bag_folder / f"{bag_folder.name}.mcap")


def _written_by_live_recorder(staging: Path, provisional: dict[str, object]) -> bool:
    """A .partial folder that a running recorder (not this process) is still writing."""
    pid = provisional.get("recorder_pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"vla_record" in command_line or b"vla_ros.recording" in command_line


def _read_provisional(folder: Path) -> dict[str, object]:
    try:
        return dict(json.loads((folder / PROVISIONAL_METADATA_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def recover_episode(staging: Path) -> RecoveredEpisode | None:
    """Turn one `.partial` (or interrupted `.recovering`) folder into a complete episode; None when a running
    recorder owns it."""
    suffix = PARTIAL_SUFFIX if staging.name.endswith(PARTIAL_SUFFIX) else RECOVERING_SUFFIX
    name = staging.name[:-len(suffix)]
    final = staging.with_name(name)
    provisional = _read_provisional(staging)
    if suffix == PARTIAL_SUFFIX:
        if _written_by_live_recorder(staging, provisional):
            return None
        if final.exists():  # killed between the finished bag's rename and the folder's removal
            shutil.rmtree(staging)
            return None
        source = staging.with_name(name + RECOVERING_SUFFIX)
        os.rename(staging, source)
    else:
        source = staging
        shutil.rmtree(staging.with_name(name + PARTIAL_SUFFIX), ignore_errors=True)  # an interrupted recovery's
        if final.exists():
            shutil.rmtree(source)
            return None
    storage = str(provisional.get("storage", "mcap"))
    salvage = salvage_bag_folder(source / name, storage)
    provisional.pop("recorder_pid", None)
    writer = EpisodeBagWriter(final, storage, {**provisional, "recovering_from": str(source)})
    for message in salvage.messages:
        writer.write(message.topic, message.msgtype, message.stamp_ns, message.data)
    metadata = {
        "format": EPISODE_FORMAT,
        **provisional,
        "start_ns": writer.first_ns,
        "end_ns": writer.last_ns,
        "end_reason": "recovered: the recorder stopped without closing the episode (SIGKILL or crash)",
        "truncated": True,
        "dropped_messages": None,  # counted in the recorder's memory only
        "message_counts": dict(writer.counts),
        "topics": {m.topic: m.msgtype for m in salvage.messages},
        "recovered": {"messages": len(salvage.messages), "discarded_bytes": salvage.discarded_bytes,
                      "problem": salvage.problem},
    }
    path = writer.finalize(metadata)
    shutil.rmtree(source, ignore_errors=True)
    return RecoveredEpisode(path, len(salvage.messages), salvage.discarded_bytes, salvage.problem)


def recover_folder(folder: Path | str) -> list[RecoveredEpisode]:
    """Every unfinished episode directly under `folder`, oldest name first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    recovering = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.endswith(RECOVERING_SUFFIX))
    recovered = [r for r in map(recover_episode, recovering) if r is not None]
    partial = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.endswith(PARTIAL_SUFFIX))
    return recovered + [r for r in map(recover_episode, partial) if r is not None]
