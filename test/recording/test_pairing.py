"""Which joint state vla_replay plays before each recorded frame (vla_ros/recording/pairing.py): the state the
chunk report carries, found among the recorded messages without running the model; the model search for
older bags without it finds the same states."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from vla_ros.inputs.joint_state import JointStateReorderer
from vla_ros.recording.bag import BagContents, BagMessage, deserialize, read_bag
from vla_ros.recording.episode import JOINT_STATE_TYPE, read_chunks
from vla_ros.recording.pairing import pair_states, stamp_key

ROOT = Path(__file__).resolve().parents[2]
SIM_BAGS = sorted((ROOT / "test" / "data").glob("sim_sim_act_*"))


def _positions(bag: BagContents, message: BagMessage) -> np.ndarray:
    msg = deserialize(message.data, message.msgtype)
    return JointStateReorderer(bag.metadata["node_config"]["joint_names"]).reorder(list(msg.name),
                                                                                     list(msg.position))


@pytest.mark.parametrize("path", SIM_BAGS, ids=lambda p: p.name)
def test_when_chunk_reports_carry_the_state_expect_those_recorded_messages_without_the_model(path: Path) -> None:
    bag = read_bag(path)
    chunks = read_chunks(bag)
    assert chunks and all(chunk.get("state") is not None for chunk in chunks)
    pairs = pair_states(bag, chunks, str(path / "no_such_model"), "onnxruntime", 1e-4)  # a search would fail
    assert set(pairs) == {stamp_key(float(c["obs_stamp"])) for c in chunks}
    for chunk in chunks:
        message = pairs[stamp_key(float(chunk["obs_stamp"]))]
        assert message in bag.messages  # a recorded message, played byte for byte
        assert np.array_equal(_positions(bag, message), np.asarray(chunk["state"]))


def test_when_the_reported_state_was_not_recorded_expect_it_played_in_the_nearest_message() -> None:
    bag = read_bag(SIM_BAGS[0])
    chunk = read_chunks(bag)[len(read_chunks(bag)) // 2]
    state = np.asarray(chunk["state"])
    dropped = [m for m in bag.messages if m.msgtype == JOINT_STATE_TYPE and np.array_equal(_positions(bag, m), state)]
    assert dropped
    thinned = dataclasses.replace(bag, messages=[m for m in bag.messages if m not in dropped])
    message = pair_states(thinned, [chunk], "no_such_model", "onnxruntime", 1e-4)[stamp_key(chunk["obs_stamp"])]
    assert message not in bag.messages and message.topic == dropped[0].topic
    assert np.array_equal(_positions(bag, message), state)


def test_when_reports_lack_the_state_expect_the_model_search_to_find_the_reported_one() -> None:
    """Older bags: the search (model run per candidate state) agrees with what newer reports say."""
    bag = read_bag(SIM_BAGS[0])
    chunks = read_chunks(bag)[:5]
    older = [{k: v for k, v in chunk.items() if k != "state"} for chunk in chunks]
    pairs = pair_states(bag, older, str(ROOT / "models" / "sim_act"), "onnxruntime", 1e-4)
    for chunk in chunks:
        assert np.array_equal(_positions(bag, pairs[stamp_key(chunk["obs_stamp"])]), np.asarray(chunk["state"]))


def test_when_a_report_says_the_node_held_no_state_expect_none_played() -> None:
    bag = read_bag(SIM_BAGS[0])
    chunk = {**read_chunks(bag)[0], "state": None}
    assert pair_states(bag, [chunk], "no_such_model", "onnxruntime", 1e-4) == {stamp_key(chunk["obs_stamp"]): None}
