"""Episodes -> a LeRobot dataset folder (codebase v3.0 layout, images embedded as PNG, no video).

    <out>/data/chunk-000/file-000.parquet          one row per frame, one file per episode
    <out>/meta/info.json                           features (dtype, shape, names, fps), fps, counts, paths
    <out>/meta/episodes/chunk-000/file-000.parquet one row per episode: episode_index, tasks, length, the data file
                                                   and global row range (dataset_from_index/dataset_to_index)
    <out>/meta/tasks.parquet                       task_index, indexed by the task string (as pandas writes it)
    <out>/meta/stats.json                          dataset-level min/max/mean/std/count per feature (per-channel,
                                                   shape (3, 1, 1), 0..1 scale for images; quantiles for the rest)

This is the layout lerobot 0.4.x (`LeRobotDataset(repo_id, root=<out>)`) loads. Image columns are stored as
{"bytes": PNG, "path": name}, the Hugging Face `datasets` Image encoding that LeRobot's image (non-video) features
use. The dataset is written to `<out>.partial` and renamed when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla_ros.recording.episode import EpisodeArrays

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
TASKS_PATH = "meta/tasks.parquet"
STATS_PATH = "meta/stats.json"
DATA_FILES_SIZE_IN_MB = 100  # lerobot's defaults; informational here (one data file per episode)
VIDEO_FILES_SIZE_IN_MB = 200
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
INDEX_FEATURES = (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                  ("index", "int64"), ("task_index", "int64"))


class ExportError(RuntimeError):
    """The episodes cannot form one dataset (different joints, cameras, action sizes, rates)."""


def data_file(episode_index: int) -> tuple[int, int]:
    """(chunk_index, file_index) of an episode's data file."""
    return episode_index // CHUNKS_SIZE, episode_index % CHUNKS_SIZE


def _png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ExportError(f"PNG encoding failed for an image of shape {image.shape}")
    return encoded.tobytes()


def _check_compatible(episodes: list[EpisodeArrays]) -> None:
    first = episodes[0]
    for episode in episodes[1:]:
        if episode.joint_names != first.joint_names:
            raise ExportError(f"{episode.path}: joint names {episode.joint_names} differ from {first.path}'s "
                              f"{first.joint_names}")
        if sorted(episode.images) != sorted(first.images):
            raise ExportError(f"{episode.path}: cameras {sorted(episode.images)} differ from {first.path}'s "
                              f"{sorted(first.images)}")
        if episode.actions.shape[1] != first.actions.shape[1]:
            raise ExportError(f"{episode.path}: action size {episode.actions.shape[1]} differs from {first.path}'s "
                              f"{first.actions.shape[1]}")
        for name in first.images:
            if episode.images[name][0].shape != first.images[name][0].shape:
                raise ExportError(f"{episode.path}: camera {name!r} images {episode.images[name][0].shape} "
                                  f"differ from {first.path}'s {first.images[name][0].shape}")


def _features(first: EpisodeArrays, action_names: list[str], fps: int) -> dict[str, dict]:
    features: dict[str, dict] = {
        "observation.state": {"dtype": "float32", "shape": [len(first.joint_names)], "names": first.joint_names},
        "action": {"dtype": "float32", "shape": [first.actions.shape[1]], "names": action_names},
    }
    for name, images in sorted(first.images.items()):
        height, width, channels = images[0].shape
        features[f"observation.images.{name}"] = {"dtype": "image", "shape": [height, width, channels],
                                                  "names": ["height", "width", "channels"]}
    for name, dtype in INDEX_FEATURES:
        features[name] = {"dtype": dtype, "shape": [1], "names": None}
    for feature in features.values():
        feature["fps"] = fps
    return features


def _numeric_stats(values: np.ndarray) -> dict[str, list]:
    """LeRobot's per-dimension stats of [N, D] values (quantiles included)."""
    values = values.reshape(len(values), -1).astype(np.float64)
    stats = {"min": values.min(0).tolist(), "max": values.max(0).tolist(), "mean": values.mean(0).tolist(),
             "std": values.std(0).tolist(), "count": [len(values)]}
    for q in QUANTILES:
        stats[f"q{round(q * 100):02d}"] = np.quantile(values, q, axis=0).tolist()
    return stats


class _ImageStats:
    """Per-channel pixel stats over all frames in LeRobot's image convention: 0..1 scale, shape (C, 1, 1)."""

    def __init__(self, channels: int) -> None:
        self.sum = np.zeros(channels)
        self.sum_sq = np.zeros(channels)
        self.min = np.full(channels, np.inf)
        self.max = np.full(channels, -np.inf)
        self.pixels = 0
        self.frames = 0

    def add(self, image: np.ndarray) -> None:
        pixels = image.reshape(-1, image.shape[-1]).astype(np.float64) / 255.0
        self.sum += pixels.sum(0)
        self.sum_sq += np.square(pixels).sum(0)
        self.min = np.minimum(self.min, pixels.min(0))
        self.max = np.maximum(self.max, pixels.max(0))
        self.pixels += len(pixels)
        self.frames += 1

    def result(self) -> dict[str, list]:
        mean = self.sum / self.pixels
        std = np.sqrt(np.maximum(self.sum_sq / self.pixels - np.square(mean), 0.0))
        as_chw = lambda v: v.reshape(-1, 1, 1).tolist()  # noqa: E731
        return {"min": as_chw(self.min), "max": as_chw(self.max), "mean": as_chw(mean), "std": as_chw(std),
                "count": [self.frames]}


def _table(episode: EpisodeArrays, episode_index: int, first_index: int, task_index: int) -> pa.Table:
    n = len(episode.frame_stamps)
    columns: dict[str, pa.Array] = {
        "observation.state": pa.FixedSizeListArray.from_arrays(
            pa.array(episode.states.astype(np.float32).reshape(-1)), episode.states.shape[1]),
        "action": pa.FixedSizeListArray.from_arrays(
            pa.array(episode.actions.astype(np.float32).reshape(-1)), episode.actions.shape[1]),
    }
    for name, images in sorted(episode.images.items()):
        columns[f"observation.images.{name}"] = pa.array(
            [{"bytes": _png(image), "path": f"frame_{i:06d}.png"} for i, image in enumerate(images)],
            type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    columns.update({
        "timestamp": pa.array((episode.frame_stamps - episode.frame_stamps[0]).astype(np.float32)),
        "frame_index": pa.array(np.arange(n, dtype=np.int64)),
        "episode_index": pa.array(np.full(n, episode_index, dtype=np.int64)),
        "index": pa.array(np.arange(first_index, first_index + n, dtype=np.int64)),
        "task_index": pa.array(np.full(n, task_index, dtype=np.int64)),
    })
    return pa.table(columns)


def _tasks_table(tasks: dict[str, int]) -> pa.Table:
    """meta/tasks.parquet as pandas writes `DataFrame({"task_index": ...}, index=[task, ...])`: the task strings
    are the index column `__index_level_0__`, named in the pandas schema metadata (so pandas restores it)."""
    pandas_metadata = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                     "numpy_type": "int64", "metadata": None},
                    {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
                     "numpy_type": "object", "metadata": None}],
        "attributes": {}, "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.0",
    }
    table = pa.table({"task_index": pa.array(list(tasks.values()), type=pa.int64()),
                      "__index_level_0__": pa.array(list(tasks), type=pa.string())})
    return table.replace_schema_metadata({"pandas": json.dumps(pandas_metadata)})


def read_tasks(dataset_dir: Path) -> dict[int, str]:
    """task_index -> task string of an exported dataset (meta/tasks.parquet)."""
    table = pq.read_table(Path(dataset_dir) / TASKS_PATH)
    return dict(zip(table.column("task_index").to_pylist(), table.column("__index_level_0__").to_pylist()))


def read_episodes(dataset_dir: Path) -> list[dict]:
    """The rows of meta/episodes/*/*.parquet, in episode order."""
    rows: list[dict] = []
    for path in sorted((Path(dataset_dir) / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return sorted(rows, key=lambda row: row["episode_index"])


def export_lerobot(episodes: list[EpisodeArrays], out_dir: Path, robot_type: str = "vla_ros",
                   action_names: list[str] | None = None) -> Path:
    """Write the dataset; `out_dir` must not exist. Returns `out_dir`."""
    if not episodes:
        raise ExportError("no episodes to export")
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ExportError(f"{out_dir} exists already; choose a new --out folder")
    _check_compatible(episodes)
    first = episodes[0]
    dim = first.actions.shape[1]
    if action_names is None:
        action_names = first.joint_names if dim == len(first.joint_names) else [f"action_{i}" for i in range(dim)]
    rates = [e.fps for e in episodes if e.fps > 0]
    fps = round(float(np.median(rates))) if rates else 0
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tasks: dict[str, int] = {}
        index = 0
        episode_rows = []
        numeric: dict[str, list[np.ndarray]] = {}
        image_stats = {name: _ImageStats(images[0].shape[-1]) for name, images in first.images.items()}
        for episode_index, episode in enumerate(episodes):
            task_index = tasks.setdefault(episode.instruction, len(tasks))
            chunk_index, file_index = data_file(episode_index)
            path = staging / DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            table = _table(episode, episode_index, index, task_index)
            pq.write_table(table, path)
            length = len(episode.frame_stamps)
            episode_rows.append({"episode_index": episode_index, "tasks": [episode.instruction], "length": length,
                                 "data/chunk_index": chunk_index, "data/file_index": file_index,
                                 "dataset_from_index": index, "dataset_to_index": index + length,
                                 "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
                                 "source_bag": str(episode.path), "dropped_frames": int(episode.dropped_frames)})
            index += length
            numeric.setdefault("observation.state", []).append(episode.states.astype(np.float32))
            numeric.setdefault("action", []).append(episode.actions.astype(np.float32))
            for name, _ in INDEX_FEATURES:
                numeric.setdefault(name, []).append(table.column(name).to_numpy().reshape(length, 1))
            for name, images in episode.images.items():
                for image in images:
                    image_stats[name].add(image)
        stats = {name: _numeric_stats(np.concatenate(parts)) for name, parts in numeric.items()}
        stats.update({f"observation.images.{name}": s.result() for name, s in sorted(image_stats.items())})
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": robot_type,
            "total_episodes": len(episodes),
            "total_frames": index,
            "total_tasks": len(tasks),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": fps,
            "splits": {"train": f"0:{len(episodes)}"},
            "data_path": DATA_PATH,
            "video_path": None,
            "features": _features(first, list(action_names), fps),
            "vla_ros": {"alignment": "one row per frame of the first camera; state = newest joint state at or "
                                     "before the frame stamp; action = first published command at or after it"},
        }
        meta = staging / "meta"
        episodes_path = staging / EPISODES_PATH.format(chunk_index=0, file_index=0)
        episodes_path.parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(episode_rows), episodes_path)
        pq.write_table(_tasks_table(tasks), staging / TASKS_PATH)
        (staging / STATS_PATH).write_text(json.dumps(stats, indent=2) + "\n")
        (meta / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir
