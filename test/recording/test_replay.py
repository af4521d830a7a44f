"""vla_replay through a real vla_node process on sim time, and the comparison it reports."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from vla_ros.recording import replay_runner as replay
from vla_ros.recording.bag import read_bag
from vla_ros.recording.episode import read_chunks, read_commands
from vla_ros.recording.replay import ReplayComparison, compare_chunks, compare_commands
from vla_ros.recording.replay_clock import ReplayClock

from recording_support import MODEL, record_episodes

TEST_BAG = Path(__file__).resolve().parents[1] / "data" / "replay_act_example"


def test_when_the_test_data_episode_is_replayed_through_the_node_expect_a_match(capsys) -> None:
    """The regression bag in test/data (recorded from act_example by recording_support.py)."""
    assert replay.main([str(TEST_BAG)]) == 0, capsys.readouterr()
    report = capsys.readouterr().out
    assert "MATCH" in report and "MISMATCH" not in report
    compared = int(report.split("chunks: ")[1].split(" compared")[0])
    assert compared >= len(read_chunks(read_bag(TEST_BAG))) // 2  # most recorded chunks were reproduced


def test_when_a_fresh_recording_is_replayed_expect_a_match(tmp_path, capsys) -> None:
    [episode] = record_episodes(tmp_path / "recordings", ["push the green block"], seconds_each=1.0)
    assert replay.main([str(episode)]) == 0, capsys.readouterr()


def test_when_an_episode_recorded_on_sim_time_is_replayed_expect_a_match(tmp_path, capsys) -> None:
    """Recorded as from a simulator: /clock owned by the robot side, node and recorder on sim time."""
    [episode] = record_episodes(tmp_path / "recordings", ["touch the cube"], seconds_each=1.0,
                                sim_clock_start=50.0)
    bag = read_bag(episode)
    assert 49e9 < bag.messages[0].stamp_ns < 1000e9  # sim-time stamps, not wall time
    assert replay.main([str(episode)]) == 0, capsys.readouterr()


def test_when_replayed_with_a_model_whose_outputs_differ_expect_mismatch_at_the_first_chunk(tmp_path,
                                                                                             capsys) -> None:
    """A copy of act_example whose action scale is doubled: same weights, different targets."""
    model = tmp_path / "act_scaled"
    shutil.copytree(MODEL, model)
    manifest = yaml.safe_load((model / "vla.yaml").read_text())
    manifest["action"]["normalization"]["std"] = [0.02] * 6
    (model / "vla.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    assert replay.main([str(TEST_BAG), "--model", str(model)]) == 1
    captured = capsys.readouterr()
    assert "differs from the recorded one" in captured.err
    assert "first chunk divergence" in captured.out and "MISMATCH" in captured.out


def test_when_replayed_chunks_differ_from_one_stamp_on_expect_that_stamp_reported_first() -> None:
    bag = read_bag(TEST_BAG)
    recorded = read_chunks(bag)
    replayed = copy.deepcopy(recorded)
    for chunk in replayed[3:]:
        chunk["targets"][2][1] += 0.01
    result = ReplayComparison()
    compare_chunks(recorded, replayed, tolerance=1e-3, result=result)
    assert result.chunks_compared == len(recorded)
    assert result.first_divergence is not None
    assert result.first_divergence.stamp == recorded[3]["obs_stamp"]
    assert "chunk step 2, dim 1" in result.first_divergence.detail
    assert not result.matched
    identical = ReplayComparison()
    compare_chunks(recorded, copy.deepcopy(recorded), 1e-9, identical)
    compare_commands(read_commands(bag), read_commands(bag), 1e-9, 0.001, identical)
    assert identical.matched and identical.commands_compared == len(read_commands(bag).times)


def test_when_replayed_chunks_share_no_observation_stamp_expect_mismatch() -> None:
    recorded = read_chunks(read_bag(TEST_BAG))
    shifted = copy.deepcopy(recorded)
    for chunk in shifted:
        chunk["obs_stamp"] += 0.0123
    result = ReplayComparison()
    compare_chunks(recorded, shifted, 1e-3, result)
    assert not result.matched and "no replayed chunk shares an observation stamp" in result.problems[0]


@pytest.mark.parametrize("broken", ["missing", "partial", "not_a_bag"])
def test_when_the_bag_is_unusable_expect_exit_2_naming_it(tmp_path, capsys, broken: str) -> None:
    path = {"missing": tmp_path / "nope", "partial": tmp_path / "ep.partial", "not_a_bag": tmp_path}[broken]
    if broken == "partial":
        path.mkdir()
    assert replay.main([str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_when_the_replay_clock_is_held_and_released_expect_it_to_stand_then_run_on_without_a_jump() -> None:
    import time

    clock = ReplayClock(10.0)
    time.sleep(0.02)
    held = clock.hold()
    assert held >= 10.02
    time.sleep(0.05)
    assert clock.now() == held  # a slow node's chunk: sim time stands while it infers
    clock.release()
    resumed = clock.now()
    assert held <= resumed < held + 0.02  # runs on from where it stood, not from where wall time got to
    clock.hold(5.0)
    assert clock.now() == 5.0
    clock.run_from(7.0)
    time.sleep(0.01)
    assert 7.01 <= clock.now() < 7.5
