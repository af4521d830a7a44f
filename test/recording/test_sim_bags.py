"""Episodes of models/sim_act driving the embedded sim (vla_sim + vla_node + vla_record, real processes, sim
time): the committed regression bags replay and match; a fresh one records, reads back, replays and exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from vla_ros.recording import export_dataset
from vla_ros.recording import replay_runner as replay
from vla_ros.recording.bag import read_bag
from vla_ros.recording.episode import read_chunks, read_commands
from vla_ros.recording.sim_bags import record_sim_episodes

DATA = Path(__file__).resolve().parents[1] / "data"
SIM_BAGS = sorted(DATA.glob("sim_sim_act_*"))


def _replay_matches(bag: Path, capsys) -> str:
    """One replay, no retry: each chunk report carries the state the model was given, which replay plays."""
    code = replay.main([str(bag)])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    return captured.out


def test_when_the_committed_sim_bags_exist_expect_three_small_ones() -> None:
    assert len(SIM_BAGS) == 3
    for bag in SIM_BAGS:
        assert sum(f.stat().st_size for f in bag.rglob("*") if f.is_file()) < 1.5e6


@pytest.mark.parametrize("bag", SIM_BAGS, ids=lambda p: p.name)
def test_when_a_sim_bag_is_replayed_through_the_node_expect_a_match(bag: Path, capsys) -> None:
    report = _replay_matches(bag, capsys)
    assert "MATCH" in report and "MISMATCH" not in report
    recorded = read_bag(bag)
    compared = int(report.split("chunks: ")[1].split(" compared")[0])
    assert compared >= len(read_chunks(recorded)) - 1  # lock-step: (almost) every recorded chunk
    # The replayed node's ticks stay on the recorded grid (replay sets the phase; stalls skip, never re-phase):
    # a command off it by more than max_time_offset is not compared, so a re-phase drops this count.
    commands = int(report.split("commands: ")[1].split(" compared")[0])
    assert commands >= 0.8 * len(read_commands(recorded).times)


def test_when_a_sim_episode_is_recorded_expect_it_to_read_back_replay_and_export(tmp_path, capsys) -> None:
    [episode] = record_sim_episodes(tmp_path / "recordings", [4], seconds_each=1.0, log=lambda _line: None)
    metadata = json.loads((episode / "episode.json").read_text())
    bag = read_bag(episode)
    assert {t: bag.count(t) for t in bag.topics} == metadata["message_counts"]
    assert metadata["model"]["name"] == "sim_act" and bag.count("/vla/action_chunk") >= 10
    assert 0 < bag.messages[0].stamp_ns < 1000e9  # sim time (from 0 at the sim's start), not wall time
    _replay_matches(episode, capsys)

    out = tmp_path / "dataset"
    assert export_dataset.main([str(episode), "--format", "lerobot", "--out", str(out)]) == 0
    info = json.loads((out / "meta" / "info.json").read_text())
    joints = metadata["node_config"]["joint_names"]
    assert info["features"]["observation.state"] == {"dtype": "float32", "shape": [6], "names": joints,
                                                      "fps": info["fps"]}
    assert info["features"]["action"]["names"] == joints
    assert info["features"]["observation.images.front"]["shape"][:2] == [96, 96]
    table = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    assert set(table.column_names) == set(info["features"])
    frames = bag.count("/camera/image_raw")
    episodes = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert table.num_rows == info["total_frames"] == episodes[0]["length"] == frames - episodes[0]["dropped_frames"]
    assert episodes[0]["dropped_frames"] <= 2
    assert np.all(np.diff(np.asarray(table.column("timestamp").to_pylist())) > 0)
