"""Episodes -> a LeRobot dataset folder (codebase v2.1 layout, images embedded as PNG, no video).

    <out>/data/chunk-000/episode_000000.parquet   one row per frame
    <out>/meta/info.json                          features (dtype, shape, names), fps, counts, paths
    <out>/meta/episodes.jsonl                     {"episode_index", "tasks", "length"}
    <out>/meta/tasks.jsonl                        {"task_index", "task"}
    <out>/meta/episodes_stats.jsonl               per-episode min/max/mean/std/count of the numeric features

Image columns are stored as {"bytes": PNG, "path": name}, the Hugging Face `datasets` Image encoding that
LeRobot's image (non-video) features use. The dataset is written to `<out>.partial` and renamed when complete.
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

CODEBASE_VERSION = "v2.1"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"


class ExportError(RuntimeError):
    """The episodes cannot form one dataset (different joints, cameras, action sizes, rates)."""


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


def _features(first: EpisodeArrays, action_names: list[str]) -> dict[str, dict]:
    features: dict[str, dict] = {
        "observation.state": {"dtype": "float32", "shape": [len(first.joint_names)], "names": first.joint_names},
        "action": {"dtype": "float32", "shape": [first.actions.shape[1]], "names": action_names},
    }
    for name, images in sorted(first.images.items()):
        height, width, channels = images[0].shape
        features[f"observation.images.{name}"] = {"dtype": "image", "shape": [height, width, channels],
                                                  "names": ["height", "width", "channels"]}
    for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                        ("index", "int64"), ("task_index", "int64")):
        features[name] = {"dtype": dtype, "shape": [1], "names": None}
    return features


def _stats(values: np.ndarray) -> dict[str, list]:
    values = values.reshape(len(values), -1).astype(np.float64)
    return {"min": values.min(0).tolist(), "max": values.max(0).tolist(), "mean": values.mean(0).tolist(),
            "std": values.std(0).tolist(), "count": [len(values)]}


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
        episode_lines, stats_lines = [], []
        for episode_index, episode in enumerate(episodes):
            task_index = tasks.setdefault(episode.instruction, len(tasks))
            path = staging / DATA_PATH.format(episode_chunk=episode_index // CHUNKS_SIZE,
                                              episode_index=episode_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            table = _table(episode, episode_index, index, task_index)
            pq.write_table(table, path)
            length = len(episode.frame_stamps)
            index += length
            episode_lines.append({"episode_index": episode_index, "tasks": [episode.instruction],
                                  "length": length, "source_bag": episode.path,
                                  "dropped_frames": episode.dropped_frames})
            stats_lines.append({"episode_index": episode_index, "stats": {
                "observation.state": _stats(episode.states), "action": _stats(episode.actions),
                "timestamp": _stats(table.column("timestamp").to_numpy())}})
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": robot_type,
            "total_episodes": len(episodes),
            "total_frames": index,
            "total_tasks": len(tasks),
            "total_videos": 0,
            "total_chunks": (len(episodes) - 1) // CHUNKS_SIZE + 1,
            "chunks_size": CHUNKS_SIZE,
            "fps": fps,
            "splits": {"train": f"0:{len(episodes)}"},
            "data_path": DATA_PATH,
            "video_path": None,
            "features": _features(first, list(action_names)),
            "vla_ros": {"alignment": "one row per frame of the first camera; state = newest joint state at or "
                                     "before the frame stamp; action = first published command at or after it"},
        }
        meta = staging / "meta"
        meta.mkdir(parents=True)
        (meta / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        (meta / "episodes.jsonl").write_text("".join(json.dumps(line) + "\n" for line in episode_lines))
        (meta / "episodes_stats.jsonl").write_text("".join(json.dumps(line) + "\n" for line in stats_lines))
        (meta / "tasks.jsonl").write_text("".join(json.dumps({"task_index": i, "task": t}) + "\n"
                                                  for t, i in tasks.items()))
        os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir
