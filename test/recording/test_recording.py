"""Recording through real ROS processes (vla_node + RobotStub + recorder_node), read back with rosbags, exported
to the LeRobot layout; bad bags refused with errors naming the problem and no output left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from rosbags.rosbag2 import Reader

from vla_ros.recording import export_dataset
from vla_ros.recording.bag import EpisodeBagWriter, deserialize, directory_bytes, read_bag, serialize, typestore
from vla_ros.recording.metadata import model_sha256
from vla_ros.recording.recorder import Recorder, RecorderConfig

from recording_support import MODEL, record_episodes
from ros_harness import JOINTS

INSTRUCTIONS = ["pick up the red block", "place it on the tray"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return record_episodes(tmp_path_factory.mktemp("recordings"), INSTRUCTIONS, seconds_each=1.0)


def test_when_two_instructions_are_given_expect_two_finished_episodes_and_no_partial_folder(recorded) -> None:
    assert len(recorded) == 2
    assert not [p for p in recorded[0].parent.iterdir() if p.name.endswith(".partial")]
    assert [json.loads((p / "episode.json").read_text())["instruction"] for p in recorded] == INSTRUCTIONS


def test_when_an_episode_is_read_with_rosbags_expect_every_stream_with_its_type_and_counts(recorded) -> None:
    expected_types = {
        "/camera/image_raw": "sensor_msgs/msg/Image",
        "/joint_states": "sensor_msgs/msg/JointState",
        "/vla/instruction": "std_msgs/msg/String",
        "/joint_trajectory_controller/joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
        "/vla/status": "std_msgs/msg/String",
        "/vla/action_chunk": "std_msgs/msg/String",
    }
    metadata = json.loads((recorded[0] / "episode.json").read_text())
    with Reader(recorded[0]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {topic: info.msgcount for topic, info in reader.topics.items()}
        instructions = [deserialize(raw, "std_msgs/msg/String").data
                        for c, _, raw in reader.messages() if c.topic == "/vla/instruction"]
        first_image = next(deserialize(raw, c.msgtype) for c, _, raw in reader.messages()
                           if c.topic == "/camera/image_raw")
    assert types == expected_types
    assert counts == metadata["message_counts"]
    assert instructions == [INSTRUCTIONS[0]]  # the next instruction opens the next episode
    assert counts["/camera/image_raw"] >= 8  # 10 Hz camera, 1 s of RUNNING
    assert counts["/vla/action_chunk"] >= 3 and counts["/joint_trajectory_controller/joint_trajectory"] >= 40
    assert (first_image.height, first_image.width, first_image.encoding) == (96, 96, "rgb8")
    chunk = json.loads(deserialize(next(m.data for m in read_bag(recorded[0]).of("/vla/action_chunk")),
                                   "std_msgs/msg/String").data)
    assert {"obs_stamp", "targets", "inference", "instruction"} <= set(chunk)
    assert np.asarray(chunk["targets"]).shape == (10, 6)


def test_episode_metadata_names_model_hash_backend_config_and_git_revision(recorded) -> None:
    metadata = json.loads((recorded[1] / "episode.json").read_text())
    assert metadata["model"]["sha256"] == model_sha256(MODEL)
    assert metadata["model"]["name"] == "act_example" and metadata["model"]["backend"] == "onnxruntime"
    assert metadata["node_config"]["joint_names"] == JOINTS
    assert metadata["node_config"]["control_rate_hz"] == 50.0
    assert metadata["end_reason"] == "stop instruction" and metadata["truncated"] is False
    assert len(metadata["vla_ros_git"]["commit"]) == 40
    # The same metadata travels inside the bag, in rosbag2's custom_data.
    bag_info = yaml.safe_load((recorded[1] / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert json.loads(bag_info["custom_data"]["vla_ros.episode"]) == metadata


def test_when_exported_to_lerobot_expect_the_layout_schema_and_row_counts_of_the_bags(recorded, tmp_path) -> None:
    out = tmp_path / "dataset"
    assert export_dataset.main([str(p) for p in recorded] + ["--format", "lerobot", "--out", str(out)]) == 0
    info = json.loads((out / "meta" / "info.json").read_text())
    # LeRobot codebase v3.0: episodes and tasks as parquet, dataset-level stats.json.
    episodes = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    tasks = pq.read_table(out / "meta" / "tasks.parquet")
    assert tasks.column("task_index").to_pylist() == [0, 1]
    assert tasks.column("__index_level_0__").to_pylist() == INSTRUCTIONS  # the pandas index: the task strings
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["__index_level_0__"]
    assert info["codebase_version"] == "v3.0" and info["video_path"] is None
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["fps"] == 10 and info["total_episodes"] == 2 and info["total_tasks"] == 2
    assert "total_chunks" not in info and "total_videos" not in info
    assert info["features"]["observation.state"] == {"dtype": "float32", "shape": [6], "names": JOINTS, "fps": 10}
    assert info["features"]["action"]["shape"] == [6]
    assert info["features"]["observation.images.front"]["dtype"] == "image"
    stats = json.loads((out / "meta" / "stats.json").read_text())
    assert set(stats) == set(info["features"])
    image_stats = stats["observation.images.front"]  # per channel, 0..1, shaped as LeRobot's (3, 1, 1)
    assert np.asarray(image_stats["mean"]).shape == np.asarray(image_stats["std"]).shape == (3, 1, 1)
    assert 0.0 <= np.min(image_stats["min"]) <= np.max(image_stats["max"]) <= 1.0
    assert len(stats["action"]["q99"]) == 6 and stats["index"]["count"] == [info["total_frames"]]
    index = 0
    for episode_index, (bag_path, episode) in enumerate(zip(recorded, episodes)):
        assert episode["episode_index"] == episode_index and episode["tasks"] == [INSTRUCTIONS[episode_index]]
        assert (episode["data/chunk_index"], episode["data/file_index"]) == (0, episode_index)
        table = pq.read_table(out / "data" / "chunk-000" / f"file-{episode_index:03d}.parquet")
        assert (episode["dataset_from_index"], episode["dataset_to_index"]) == (index, index + table.num_rows)
        assert set(table.column_names) == set(info["features"])
        bag = read_bag(bag_path)
        images = bag.count("/camera/image_raw")
        # Every frame is a row unless it has no joint state before it or no command after it (an edge frame).
        assert table.num_rows == episode["length"] == images - episode["dropped_frames"]
        assert episode["dropped_frames"] <= 2
        assert table.column("episode_index").to_pylist() == [episode_index] * table.num_rows
        assert table.column("index").to_pylist() == list(range(index, index + table.num_rows))
        assert table.column("task_index").to_pylist() == [episode_index] * table.num_rows
        timestamps = np.asarray(table.column("timestamp").to_pylist())
        assert timestamps[0] == 0.0 and np.all(np.diff(timestamps) > 0)
        # The exported pixels are the recorded pixels.
        stamps_and_images = {}
        for message in bag.of("/camera/image_raw"):
            msg = deserialize(message.data, "sensor_msgs/msg/Image")
            stamps_and_images[msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9] = msg.data
        png = table.column("observation.images.front")[0].as_py()["bytes"]
        exported = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert any(np.array_equal(exported.reshape(-1), data) for data in stamps_and_images.values())
        index += table.num_rows
    assert info["total_frames"] == index


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_when_a_bag_is_damaged_expect_an_error_naming_it_and_no_dataset_left(recorded, tmp_path, capsys,
                                                                             damage: str) -> None:
    bag = tmp_path / "damaged_episode"
    shutil.copytree(recorded[0], bag)
    storage = next(bag.glob("*.mcap"))
    content = storage.read_bytes()
    if damage == "truncated":
        storage.write_bytes(content[: len(content) // 2])
    else:
        storage.write_bytes(content[:4096] + b"\xa5" * (len(content) - 8192) + content[-4096:])
    out = tmp_path / "dataset"
    assert export_dataset.main([str(bag), str(recorded[1]), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert str(bag) in error and "truncated or corrupt" in error
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_when_the_bag_is_from_a_robot_with_other_joints_expect_an_error_naming_both(recorded, tmp_path,
                                                                                    capsys) -> None:
    out = tmp_path / "dataset"
    other = ["shoulder", "elbow", "wrist"]
    assert export_dataset.main([str(recorded[0]), "--out", str(out), "--joint-names", *other]) == 2
    error = capsys.readouterr().err
    assert "joint names" in error and "joint_1" in error and "shoulder" in error
    assert not out.exists()


def _write_bag(path: Path, images: str | None) -> Path:
    """A small bag written with the same writer the recorder uses, with or without camera images."""
    def make(typename: str, **fields):
        return typestore().types[typename](**fields)

    writer = EpisodeBagWriter(path)
    for i in range(5):
        stamp = make("builtin_interfaces/msg/Time", sec=100, nanosec=i * 100_000_000)
        ns = 100_000_000_000 + i * 100_000_000
        state = make("sensor_msgs/msg/JointState", header=make("std_msgs/msg/Header", stamp=stamp, frame_id=""),
                     name=JOINTS, position=np.zeros(6), velocity=np.zeros(0), effort=np.zeros(0))
        writer.write("/joint_states", "sensor_msgs/msg/JointState", ns,
                     serialize(state, "sensor_msgs/msg/JointState"))
        command = make("std_msgs/msg/Float64MultiArray", data=np.full(6, 0.1 * i),
                       layout=make("std_msgs/msg/MultiArrayLayout", dim=[], data_offset=0))
        writer.write("/forward_position_controller/commands", "std_msgs/msg/Float64MultiArray", ns + 1000,
                     serialize(command, "std_msgs/msg/Float64MultiArray"))
        if images == "compressed":
            rgb = np.zeros((4, 4, 3), dtype=np.uint8)
            rgb[..., 0] = 40 * i
            png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].reshape(-1)
            compressed = make("sensor_msgs/msg/CompressedImage", format="rgb8; png compressed bgr8", data=png,
                              header=make("std_msgs/msg/Header", stamp=stamp, frame_id="camera"))
            writer.write("/wrist/image_raw/compressed", "sensor_msgs/msg/CompressedImage", ns,
                         serialize(compressed, "sensor_msgs/msg/CompressedImage"))
        elif images == "raw":
            image = make("sensor_msgs/msg/Image", header=make("std_msgs/msg/Header", stamp=stamp, frame_id="camera"),
                         height=4, width=4, encoding="rgb8", is_bigendian=0, step=12,
                         data=np.full(48, i, dtype=np.uint8))
            writer.write("/camera/image_raw", "sensor_msgs/msg/Image", ns, serialize(image, "sensor_msgs/msg/Image"))
    return writer.finalize({"instruction": "wave"})


def test_when_a_bag_has_no_images_expect_an_error_saying_so(tmp_path, capsys) -> None:
    bag = _write_bag(tmp_path / "no_images", images=None)
    assert export_dataset.main([str(bag), "--out", str(tmp_path / "dataset")]) == 2
    assert "no camera images" in capsys.readouterr().err
    assert not (tmp_path / "dataset").exists()


@pytest.mark.parametrize("images", ["raw", "compressed"])
def test_when_a_written_bag_has_images_expect_one_row_per_frame_with_the_command_after_it(tmp_path,
                                                                                          images: str) -> None:
    bag = _write_bag(tmp_path / "with_images", images=images)
    out = tmp_path / "dataset"
    assert export_dataset.main([str(bag), "--out", str(out)]) == 0
    info = json.loads((out / "meta" / "info.json").read_text())
    camera = "camera" if images == "raw" else "wrist"  # from the topic when no cameras parameter is stored
    assert info["features"][f"observation.images.{camera}"]["shape"] == [4, 4, 3]
    table = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    assert table.num_rows == 5
    actions = np.asarray(table.column("action").to_pylist())
    np.testing.assert_allclose(actions[:, 0], [0.0, 0.1, 0.2, 0.3, 0.4], atol=1e-6)
    last = table.column(f"observation.images.{camera}")[4].as_py()["bytes"]
    pixel = cv2.imdecode(np.frombuffer(last, np.uint8), cv2.IMREAD_COLOR)[0, 0]
    assert tuple(pixel) == ((0, 0, 160) if images == "compressed" else (4, 4, 4))  # BGR as decoded by OpenCV


def test_when_given_an_unfinished_partial_folder_expect_it_refused(tmp_path, capsys) -> None:
    partial = tmp_path / "episode_x.partial"
    partial.mkdir()
    assert export_dataset.main([str(partial), "--out", str(tmp_path / "dataset")]) == 2
    assert "unfinished recording" in capsys.readouterr().err


def _string(text: str) -> bytes:
    return serialize(typestore().types["std_msgs/msg/String"](data=text), "std_msgs/msg/String")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_recorder_closes_an_episode_at_max_episode_bytes_and_deletes_the_oldest_past_max_total(
        tmp_path, storage: str) -> None:
    """ROS-free: the writer thread, per-episode and total bounds, with real bags on disk, in either storage."""
    config = RecorderConfig(output_dir=str(tmp_path), max_episode_bytes=40_000, max_total_bytes=100_000,
                            storage=storage)
    recorder = Recorder(config, {"/vla/instruction": "std_msgs/msg/String", "/data": "std_msgs/msg/String"})
    payload = _string("x" * 1000)
    ns = 1_000_000_000
    for episode in range(4):
        recorder.submit("/vla/instruction", _string(f"task {episode}"), ns)
        for _ in range(60):  # 60 kB offered, 40 kB allowed
            ns += 1_000_000
            assert recorder.submit("/data", payload, ns)
    stats = recorder.close()
    assert not stats.errors and stats.dropped == 0
    assert len(stats.episodes) == 4
    remaining = sorted(p for p in tmp_path.iterdir())
    # The oldest went, the newest stayed, and what stayed fits max_total_bytes (files, storage overhead included).
    assert remaining and stats.deleted
    assert [str(p) for p in remaining] == stats.episodes[len(stats.deleted):]
    assert stats.deleted == stats.episodes[:len(stats.deleted)]
    assert sum(directory_bytes(p) for p in remaining) <= config.max_total_bytes
    for episode in remaining:
        metadata = json.loads((episode / "episode.json").read_text())
        assert metadata["truncated"] is True and metadata["end_reason"] == "max_episode_bytes reached"
        assert metadata["message_counts"]["/data"] < 60
        assert read_bag(episode).count("/data") == metadata["message_counts"]["/data"]


def test_when_an_exported_dataset_is_loaded_for_training_expect_labels_from_the_recorded_commands(
        recorded, tmp_path) -> None:
    """Recorded runs back into the training path: the exported dataset becomes DemoDataset arrays and a few
    optimizer steps of the bundled policy run on them."""
    import torch

    from vla_ros.recording.training import load_training_data
    from vla_ros.training.dataset import DemoConfig
    from vla_ros.training.trainer import TrainConfig, train_policy

    out = tmp_path / "dataset"
    assert export_dataset.main([str(p) for p in recorded] + ["--out", str(out)]) == 0
    data = load_training_data(out, horizon=4, model_period=0.2)
    table = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    rows = table.num_rows
    actions = np.asarray(table.column("action").to_pylist(), dtype=np.float32)
    assert data.images.shape[1:] == (96, 96, 3) and data.states.shape[1] == 6
    assert data.targets.shape[1:] == (4, 6)
    np.testing.assert_array_equal(data.targets[0], actions[[0, 2, 4, 6]])  # 10 fps, 0.2 s period: stride 2
    np.testing.assert_array_equal(data.targets[rows - 1], np.repeat(actions[-1:], 4, axis=0))
    assert data.instructions == INSTRUCTIONS
    torch.set_num_threads(1)
    result = train_policy(data, TrainConfig(steps=2, batch_size=8, threads=1, warmup_steps=1,
                                            validation_fraction=0.0, log_every=1),
                          DemoConfig(image_size=(96, 96), horizon=4, model_period=0.2, expert_period=0.1),
                          log=lambda _: None)
    assert result.steps_done == 2 and all(np.isfinite(loss) for _, loss in result.losses)
    np.testing.assert_allclose(result.stats["state_mean"], data.states.mean(0), atol=1e-6)
