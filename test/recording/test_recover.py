"""A recorder killed with SIGKILL: its `.partial` episode is finished later, up to its last whole message, by
`vla_record --recover DIR` or by the next vla_record started on the same folder; and the recorder keeps the
loss bounded by flushing at least every FLUSH_INTERVAL_S."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vla_ros.recording.bag import PARTIAL_SUFFIX, EpisodeBagWriter, read_bag, serialize, typestore
from vla_ros.recording.recorder import FLUSH_INTERVAL_S
from vla_ros.recording.recovery import recover_folder, salvage_mcap

BIN = Path(sys.executable).parent
JOINT_STATE = "sensor_msgs/msg/JointState"
STRING = "std_msgs/msg/String"


def _joint_state(position: float) -> bytes:
    types = typestore().types
    stamp = types["builtin_interfaces/msg/Time"](sec=0, nanosec=0)
    header = types["std_msgs/msg/Header"](stamp=stamp, frame_id="")
    message = types[JOINT_STATE](header=header, name=["joint_1"], position=np.array([position]),
                                 velocity=np.array([], dtype=float), effort=np.array([], dtype=float))
    return serialize(message, JOINT_STATE)


def _instruction(text: str) -> bytes:
    return serialize(typestore().types[STRING](data=text), STRING)


def _unfinished_episode(folder: Path, flushed: int, unflushed: int) -> Path:
    """An episode as a SIGKILL leaves it: `flushed` messages on disk, `unflushed` only in the writer's memory."""
    writer = EpisodeBagWriter(folder / "episode_1", "mcap", {"instruction": "pick", "model": {"sha256": "abc"}})
    writer.write("/vla/instruction", STRING, 1, _instruction("pick"))
    for index in range(flushed - 1):
        writer.write("/joint_states", JOINT_STATE, 10 + index, _joint_state(index))
    writer.flush()
    for index in range(unflushed):
        writer.write("/joint_states", JOINT_STATE, 1000 + index, _joint_state(-index))
    return writer.staging


def test_when_the_recorder_died_after_a_flush_expect_every_flushed_message_recovered_with_metadata(tmp_path) -> None:
    staging = _unfinished_episode(tmp_path, flushed=50, unflushed=7)

    recovered = recover_folder(tmp_path)

    assert [r.messages for r in recovered] == [50]
    assert not staging.exists()
    bag = read_bag(tmp_path / "episode_1")
    assert bag.count("/joint_states") == 49 and bag.count("/vla/instruction") == 1
    assert bag.metadata["instruction"] == "pick" and bag.metadata["model"] == {"sha256": "abc"}
    assert bag.metadata["recovered"]["messages"] == 50 and bag.metadata["truncated"] is True
    assert bag.metadata["message_counts"] == {"/vla/instruction": 1, "/joint_states": 49}


def test_when_the_file_ends_inside_a_chunk_expect_the_whole_chunks_kept_and_the_rest_counted(tmp_path) -> None:
    staging = _unfinished_episode(tmp_path, flushed=20, unflushed=0)
    writer_file = next(staging.rglob("*.mcap"))
    whole = writer_file.read_bytes()
    with writer_file.open("ab") as extra:  # the start of a chunk a SIGKILL interrupted
        extra.write(bytes([0x06]) + (5000).to_bytes(8, "little") + b"\x00" * 100)

    salvage = salvage_mcap(writer_file)

    assert len(salvage.messages) == 20 and salvage.discarded_bytes == len(writer_file.read_bytes()) - len(whole)
    assert "incomplete chunk" in recover_folder(tmp_path)[0].describe()


def test_when_the_storage_file_is_empty_expect_an_empty_readable_episode_that_says_so(tmp_path) -> None:
    staging = _unfinished_episode(tmp_path, flushed=1, unflushed=0)
    next(staging.rglob("*.mcap")).write_bytes(b"")

    recovered = recover_folder(tmp_path)

    assert recovered[0].messages == 0 and "empty storage file" in recovered[0].describe()
    assert read_bag(tmp_path / "episode_1").metadata["recovered"]["problem"] == "empty storage file"


def _record_until_killed(robot, episodes: Path, instruction: str) -> int:
    """vla_record records `instruction` until its messages are on disk, then SIGKILL; how many were on disk."""
    from ros_harness import NodeProcess, wait_until

    def subscribers() -> set[bytes]:
        return {bytes(info.endpoint_gid) for info in robot.node.get_subscriptions_info_by_topic("/vla/instruction")}

    # A killed recorder's subscription stays in the graph until its lease expires: wait for the new one.
    before = subscribers()
    recorder = NodeProcess({"output_dir": str(episodes), "cameras": ["front=/camera/image_raw"],
                            "command_interface": "joint_position"}, module="vla_ros.recording.node")
    try:
        wait_until(lambda: subscribers() - before, 30.0, "vla_record's subscription")
        wait_until(lambda: robot.instruction_pub.get_subscription_count() >= len(subscribers()), 30.0, "matching")
        robot.instruct(instruction)
        wait_until(lambda: list(episodes.glob("*" + PARTIAL_SUFFIX)), 10.0, "the episode to open")
        (partial,) = episodes.glob("*" + PARTIAL_SUFFIX)
        name = partial.name.removesuffix(PARTIAL_SUFFIX)
        mcap = partial / name / f"{name}.mcap"
        # The bound: what was recorded reaches the disk within a flush interval (10x: a busy 2-core machine).
        wait_until(lambda: len(salvage_mcap(mcap).messages) >= 10, 10 * FLUSH_INTERVAL_S, "flushed messages")
        on_disk = len(salvage_mcap(mcap).messages)
    finally:
        recorder.process.send_signal(signal.SIGKILL)
        recorder.process.wait(timeout=10)
    return on_disk


@pytest.mark.ros
def test_when_vla_record_is_killed_expect_recover_and_the_next_start_to_finish_the_episode(tmp_path) -> None:
    from ros_harness import NodeProcess, RobotStub, wait_until

    episodes = tmp_path / "episodes"
    robot = RobotStub("joint_position", camera_rate_hz=20.0)
    try:
        on_disk = _record_until_killed(robot, episodes, "pick up the red block")

        result = subprocess.run([str(BIN / "vla_record"), "--recover", str(episodes)], capture_output=True,
                                text=True, timeout=60)

        assert result.returncode == 0, result.stderr
        assert "1 episode(s) recovered" in result.stdout and "recovered episode" in result.stdout, result.stdout
        (finished,) = list(episodes.iterdir())
        bag = read_bag(finished)
        assert len(bag.messages) >= on_disk and bag.metadata["instruction"] == "pick up the red block"
        assert bag.count("/vla/instruction") == 1

        _record_until_killed(robot, episodes, "stack the cubes")
        restarted = NodeProcess({"output_dir": str(episodes), "cameras": ["front=/camera/image_raw"],
                                 "command_interface": "joint_position"}, module="vla_ros.recording.node")
        try:
            wait_until(lambda: "recovered episode" in restarted.log(), 30.0, "the restarted recorder's recovery")
            assert not list(episodes.glob("*" + PARTIAL_SUFFIX))
            assert sorted(read_bag(p).metadata["instruction"] for p in episodes.iterdir()) == [
                "pick up the red block", "stack the cubes"]
        finally:
            assert restarted.stop() == 0, restarted.log()
    finally:
        robot.close()
