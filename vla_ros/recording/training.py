"""A LeRobot dataset written by vla_export_dataset -> the arrays `vla_train` trains on (DemoDataset).

So recorded runs (teleoperated or autonomous) can fine-tune the bundled policy: each frame becomes a sample
(image, instruction tokens, joint state) labelled with the chunk of recorded commands due at frame time +
k * model_period, k = 0..horizon-1 (the last command repeats past the episode's end), as the sim
demonstrations are. Only joint-position commands can be labels (action names equal to the state's joints).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla_ros.recording.lerobot import read_episodes, read_tasks
from vla_ros.training.dataset import MAX_INSTRUCTION_BYTES, DemoDataset, encode_instruction


class TrainingDataError(ValueError):
    """The dataset cannot be used as joint-position training data; the message says why."""


def _decode_png(cell: dict) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(cell["bytes"], dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise TrainingDataError(f"undecodable image {cell.get('path')!r}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def targets_by_time(actions: np.ndarray, timestamps: np.ndarray, model_period: float, horizon: int) -> np.ndarray:
    """[N, horizon, D]: for frame i, step k is the action of the frame nearest in time to t_i + k * model_period
    (the last action past the episode's end). By time, not by a frame stride: a camera rate need not divide the
    model period (the sim's 15 Hz frames land on its 10 ms state steps, 60 or 70 ms apart)."""
    wanted = timestamps[:, None] + model_period * np.arange(horizon)[None, :]
    right = np.clip(np.searchsorted(timestamps, wanted), 0, len(timestamps) - 1)
    left = np.clip(right - 1, 0, len(timestamps) - 1)
    nearest = np.where(np.abs(timestamps[left] - wanted) <= np.abs(timestamps[right] - wanted), left, right)
    nearest = np.where(wanted > timestamps[-1], len(timestamps) - 1, nearest)
    return actions[nearest]


def load_training_data(dataset_dir: Path | str, horizon: int, model_period: float, camera: str | None = None,
                       max_instruction_bytes: int = MAX_INSTRUCTION_BYTES) -> DemoDataset:
    dataset_dir = Path(dataset_dir)
    info_path = dataset_dir / "meta" / "info.json"
    if not info_path.is_file():
        raise TrainingDataError(f"{dataset_dir}: not a LeRobot dataset (no meta/info.json)")
    info = json.loads(info_path.read_text())
    features = info["features"]
    state_names = features["observation.state"]["names"]
    if features["action"]["names"] != state_names:
        raise TrainingDataError(f"{dataset_dir}: actions {features['action']['names']} are not joint positions of "
                                f"the state's joints {state_names}; only joint-position commands can be labels")
    cameras = sorted(k.removeprefix("observation.images.") for k in features if k.startswith("observation.images."))
    camera = camera or (cameras[0] if cameras else None)
    if camera not in cameras:
        raise TrainingDataError(f"{dataset_dir}: camera {camera!r} not in the dataset (cameras: {cameras})")
    tasks = read_tasks(dataset_dir)
    images, tokens, states, targets, episode_ids, instructions = [], [], [], [], [], []
    for episode in read_episodes(dataset_dir):
        episode_index = int(episode["episode_index"])
        path = dataset_dir / info["data_path"].format(chunk_index=episode["data/chunk_index"],
                                                      file_index=episode["data/file_index"])
        table = pq.read_table(path)
        rows = table.column("index").to_numpy()
        # One file per episode as exported here; LeRobot's own writer may put several episodes in a file.
        table = table.filter(pa.array((rows >= episode["dataset_from_index"]) & (rows < episode["dataset_to_index"])))
        n = table.num_rows
        actions = np.asarray(table.column("action").to_pylist(), dtype=np.float32)
        instruction = tasks[int(table.column("task_index")[0].as_py())]
        images += [_decode_png(cell) for cell in table.column(f"observation.images.{camera}").to_pylist()]
        tokens.append(np.repeat(encode_instruction(instruction, max_instruction_bytes)[None], n, axis=0))
        states.append(np.asarray(table.column("observation.state").to_pylist(), dtype=np.float32))
        timestamps = np.asarray(table.column("timestamp").to_pylist(), dtype=np.float64)
        targets.append(targets_by_time(actions, timestamps, model_period, horizon))
        episode_ids.append(np.full(n, episode_index, dtype=np.int32))
        instructions.append(instruction)
    if not images:
        raise TrainingDataError(f"{dataset_dir}: no frames")
    return DemoDataset(images=np.stack(images), tokens=np.concatenate(tokens), states=np.concatenate(states),
                       targets=np.concatenate(targets).astype(np.float32), episode=np.concatenate(episode_ids),
                       task_names=list(instructions), instructions=list(instructions),
                       successes=np.ones(len(instructions), dtype=bool))
