"""rosbag2 episode files: written atomically into `<name>.partial/`, read back with clear errors.

A bag is written to `<output>/<name>.partial/<name>/` and moved to `<output>/<name>/` only once the writer has
closed it, so a crash leaves a `.partial` folder that no reader mistakes for a finished episode. The episode
metadata is stored twice: in the bag's own `custom_data` (travels with the bag) and as `episode.json` beside it
(readable without a bag library).

A process killed with SIGKILL cannot finish its bag. What it leaves is kept recoverable (recovery.py): the
`.partial` folder holds `episode.partial.json` (what the episode is, written when it opens), and `flush()`,
which the recorder calls at least every FLUSH_INTERVAL_S, puts every message written so far on disk as whole
MCAP chunks (or committed sqlite rows). Until then rosbags keeps up to 1 MiB of messages in memory.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

EPISODE_METADATA_FILE = "episode.json"
PROVISIONAL_METADATA_FILE = "episode.partial.json"  # in the .partial folder: what recovery needs to finish it
CUSTOM_DATA_KEY = "vla_ros.episode"
PARTIAL_SUFFIX = ".partial"
STORAGE_PLUGINS = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class BagError(RuntimeError):
    """A bag that cannot be used: missing, unfinished, truncated, corrupt, or not holding what is needed."""


_TYPESTORE = None


def typestore():
    """The ROS 2 Jazzy message definitions (built once; rosbags ships them, no ROS install needed)."""
    global _TYPESTORE
    if _TYPESTORE is None:
        _TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
    return _TYPESTORE


def deserialize(data: bytes | memoryview, msgtype: str) -> object:
    return typestore().deserialize_cdr(data, msgtype)


def serialize(message: object, msgtype: str) -> bytes:
    return bytes(typestore().serialize_cdr(message, msgtype))


class EpisodeBagWriter:
    """One episode bag. `write` serialized CDR as received; `finalize` or `abort` exactly once."""

    def __init__(self, final_path: Path, storage: str = "mcap",
                 provisional_metadata: dict[str, object] | None = None) -> None:
        if storage not in STORAGE_PLUGINS:
            raise ValueError(f"storage={storage!r}: expected one of {sorted(STORAGE_PLUGINS)}")
        self.final_path = Path(final_path)
        if self.final_path.exists():
            raise FileExistsError(f"episode {self.final_path} exists already")
        self.staging = self.final_path.with_name(self.final_path.name + PARTIAL_SUFFIX)
        self.staging.mkdir(parents=True)
        self._bag_path = self.staging / self.final_path.name
        provisional = {**(provisional_metadata or {}), "storage": storage, "recorder_pid": os.getpid()}
        (self.staging / PROVISIONAL_METADATA_FILE).write_text(json.dumps(provisional, indent=2, sort_keys=True))
        self._writer = Writer(self._bag_path, version=9, storage_plugin=STORAGE_PLUGINS[storage])
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.bytes_written = 0
        self.counts: dict[str, int] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def write(self, topic: str, msgtype: str, stamp_ns: int, data: bytes | memoryview) -> None:
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype, typestore=typestore())
            self._connections[topic] = connection
        self._writer.write(connection, stamp_ns, data)
        self.bytes_written += len(data)
        self.counts[topic] = self.counts.get(topic, 0) + 1
        self.first_ns = stamp_ns if self.first_ns is None else min(self.first_ns, stamp_ns)
        self.last_ns = stamp_ns if self.last_ns is None else max(self.last_ns, stamp_ns)

    def flush(self) -> None:
        """Everything written so far onto disk in whole records, so a SIGKILL loses none of it (recovery.py)."""
        storage = self._writer.storage
        close_chunk = getattr(storage, "close_chunk", None)  # MCAP: the pending chunk lives in memory
        if close_chunk is not None and storage.chunk.bio.tell():
            close_chunk()
        if hasattr(storage, "bio"):
            storage.bio.flush()
        if hasattr(storage, "conn"):  # sqlite3: rows become durable when committed
            storage.conn.commit()

    def finalize(self, metadata: dict[str, object]) -> Path:
        text = json.dumps(metadata, indent=2, sort_keys=True)
        self._writer.set_custom_data(CUSTOM_DATA_KEY, text)
        self._writer.close()
        (self._bag_path / EPISODE_METADATA_FILE).write_text(text + "\n")
        os.rename(self._bag_path, self.final_path)  # atomic on one filesystem: complete or absent
        shutil.rmtree(self.staging, ignore_errors=True)
        return self.final_path

    def abort(self) -> None:
        try:
            self._writer.close()
        except Exception:  # the folder is removed whatever state the writer was in
            pass
        shutil.rmtree(self.staging, ignore_errors=True)


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    stamp_ns: int  # the bag's receive timestamp (recorder clock: sim or wall)
    data: bytes


@dataclass(frozen=True)
class BagContents:
    path: Path
    metadata: dict[str, object]  # episode.json (empty for bags recorded by other tools)
    topics: dict[str, str]  # topic -> msgtype
    messages: list[BagMessage]  # in receive-time order

    def of(self, topic: str) -> list[BagMessage]:
        return [m for m in self.messages if m.topic == topic]

    def topics_of_type(self, msgtype: str) -> list[str]:
        return sorted(t for t, m in self.topics.items() if m == msgtype)

    def count(self, topic: str) -> int:
        return sum(1 for m in self.messages if m.topic == topic)


def _bag_dir(path: Path) -> Path:
    if path.name.endswith(PARTIAL_SUFFIX):
        raise BagError(f"{path}: an unfinished recording (a '{PARTIAL_SUFFIX}' folder is never a complete bag)")
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        raise BagError(f"{path}: not a rosbag2 folder (no metadata.yaml)")
    return path


def read_bag(path: Path | str) -> BagContents:
    """Every message of a bag with its metadata. Truncated or corrupt storage raises BagError naming the bag."""
    path = _bag_dir(Path(path))
    messages: list[BagMessage] = []
    try:
        with Reader(path) as reader:
            topics = {c.topic: c.msgtype for c in reader.connections}
            for connection, stamp_ns, data in reader.messages():
                messages.append(BagMessage(connection.topic, connection.msgtype, int(stamp_ns), bytes(data)))
            expected = reader.message_count
    except BagError:
        raise
    except Exception as error:  # rosbags raises several types (ReaderError, struct/lz4/sqlite errors)
        raise BagError(f"{path}: truncated or corrupt bag ({type(error).__name__}: {error})") from None
    if expected and len(messages) != expected:
        raise BagError(f"{path}: truncated bag: metadata lists {expected} messages, storage holds {len(messages)}")
    messages.sort(key=lambda m: m.stamp_ns)
    metadata: dict[str, object] = {}
    sidecar = path / EPISODE_METADATA_FILE if path.is_dir() else None
    if sidecar is not None and sidecar.is_file():
        try:
            metadata = json.loads(sidecar.read_text())
        except json.JSONDecodeError as error:
            raise BagError(f"{sidecar}: corrupt episode metadata ({error})") from None
    return BagContents(path, metadata, topics, messages)


def iter_episode_dirs(folder: Path) -> Iterator[Path]:
    """Finished episode bags directly under `folder` (those with episode metadata), oldest first."""
    found = [p for p in folder.iterdir() if p.is_dir() and not p.name.endswith(PARTIAL_SUFFIX)
             and (p / EPISODE_METADATA_FILE).is_file()]
    yield from sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
