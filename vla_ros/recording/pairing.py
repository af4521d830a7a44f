"""Which joint state vla_replay plays just before each recorded action chunk's camera frame.

vla_node reports in each /vla/action_chunk the joint state the model was given (`"state"`, positions in
`joint_names` order; vla_ros/pipeline/pipeline.py reads it after taking the frame). Replay plays exactly that
state before the frame: the recorded joint-state message with those positions (nearest the frame), or, should
the recorder have dropped it, the nearest recorded message with its positions replaced. A report with
`"state": null` (the node held no state) gets no state played, only the lock-step wait for its chunk.

Older bags lack `"state"`. For their chunks the state is searched for, as before: the node may or may not have
taken in the frame's own state before the frame woke inference, so the model is run here (recorded backend,
frame and instruction) with each recorded state within CANDIDATE_WINDOW_S of the frame stamp, and the one that
reproduces the recorded chunk is played. A chunk that no candidate reproduces within the tolerance keeps the
frame's own state (header stamp equal to the frame's, else the newest before it), so the replay still reports
its divergence: pairing cannot turn a changed model or pipeline into a match.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vla_ros.recording.bag import BagContents, BagMessage, deserialize, serialize
from vla_ros.recording.episode import IMAGE_TYPES, JOINT_STATE_TYPE, camera_names, decode_image, stamp_seconds

# States this far before / after a frame are candidates: the first chunk of an instruction is inferred when the
# instruction arrives, up to a camera period after the newest frame, with the state of that moment.
CANDIDATE_WINDOW_S = 0.1


def stamp_key(stamp: float) -> int:
    return round(stamp * 1e6)  # microseconds: stamps go through JSON floats


@dataclass(frozen=True)
class _State:
    stamp: float
    positions: np.ndarray  # in the node's joint order
    message: BagMessage


def _states(bag: BagContents, joint_names: list[str]) -> list[_State]:
    from vla_ros.inputs.joint_state import JointStateError, JointStateReorderer

    reorderer = JointStateReorderer(joint_names)
    states = []
    for message in (m for m in bag.messages if m.msgtype == JOINT_STATE_TYPE):
        msg = deserialize(message.data, message.msgtype)
        try:
            positions = reorderer.reorder(list(msg.name), list(msg.position))
        except JointStateError:
            continue  # the node rejected it too
        states.append(_State(stamp_seconds(msg.header.stamp), positions, message))
    return states


def _frames(bag: BagContents) -> dict[str, list[tuple[float, np.ndarray]]]:
    """Camera name -> (header stamp, RGB image), in stamp order."""
    names = camera_names(bag)
    frames: dict[str, list[tuple[float, np.ndarray]]] = {name: [] for name in names.values()}
    for message in (m for m in bag.messages if m.msgtype in IMAGE_TYPES):
        frames[names[message.topic]].append(decode_image(message.msgtype, message.data))
    return {name: sorted(items, key=lambda item: item[0]) for name, items in frames.items()}


def _frame_set(frames: dict[str, list[tuple[float, np.ndarray]]], stamp: float) -> dict[str, np.ndarray] | None:
    """Per camera the newest image at or before `stamp` plus the sync tolerance (the node's frame set)."""
    chosen = {}
    for name, items in frames.items():
        before = [image for s, image in items if s <= stamp + 0.05]
        if not before:
            return None
        chosen[name] = before[-1]
    return chosen


def _default_state(states: list[_State], stamp: float) -> _State | None:
    """The frame's own state: the newest at or before the frame, else (an episode's first frame) the first."""
    before = [s for s in states if s.stamp <= stamp + 1e-6]
    return before[-1] if before else (states[0] if states else None)


def _reported_state(states: list[_State], reported: list, stamp: float, joint_names: list[str]) -> BagMessage | None:
    """The recorded joint-state message carrying exactly the reported positions, nearest the frame; else the
    message nearest the frame with its positions replaced by the reported ones (the recorder dropped it)."""
    positions = np.asarray(reported, dtype=np.float64)
    by_distance = sorted(states, key=lambda s: abs(s.stamp - stamp))
    for state in by_distance:
        if state.positions.shape == positions.shape and np.array_equal(state.positions, positions):
            return state.message
    if not by_distance:
        return None
    nearest = by_distance[0].message
    msg = deserialize(nearest.data, nearest.msgtype)
    values, names = np.array(msg.position, dtype=np.float64), list(msg.name)
    if positions.shape != (len(joint_names),) or not set(joint_names) <= set(names):
        return nearest  # a report that does not fit the recorded joints: the replay shows the divergence
    values[[names.index(name) for name in joint_names]] = positions
    data = serialize(replace(msg, position=values), nearest.msgtype)
    return BagMessage(nearest.topic, nearest.msgtype, nearest.stamp_ns, data)


def pair_states(bag: BagContents, chunks: list[dict], package_dir: str, backend: str, tolerance: float
                ) -> dict[int, BagMessage | None]:
    """stamp_key(obs_stamp) -> the joint-state message to play just before that frame (None: play none, the
    node held no state). The model is loaded only for chunk reports without "state" (older bags)."""
    config = bag.metadata.get("node_config") or {}
    joint_names = list(config.get("joint_names") or [])
    states = _states(bag, joint_names)
    pairs: dict[int, BagMessage | None] = {}
    unreported = []
    for chunk in chunks:
        if "state" not in chunk:
            unreported.append(chunk)
            continue
        stamp = float(chunk["obs_stamp"])
        reported = chunk["state"]
        pairs[stamp_key(stamp)] = None if reported is None else _reported_state(states, reported, stamp,
                                                                                  joint_names)
    if unreported:
        pairs.update(_search_states(bag, unreported, states, config, package_dir, backend, tolerance))
    return pairs


def _search_states(bag: BagContents, chunks: list[dict], states: list[_State], config: dict, package_dir: str,
                   backend: str, tolerance: float) -> dict[int, BagMessage]:
    """Older bags: per chunk, the candidate state with which the model reproduces the recorded targets."""
    from vla_ros.core.types import CommandInterface, Observation
    from vla_ros.execution.synthesis import CommandSynthesizer
    from vla_ros.model import RuntimeOptions, create_policy, load_model_package

    package = load_model_package(package_dir)
    policy, _ = create_policy(package, backend=backend, options=RuntimeOptions(intra_op_threads=1))
    synthesizer = CommandSynthesizer(package.semantics, CommandInterface(config.get("command_interface")),
                                     1.0 / float(config.get("control_rate_hz", 50.0)), package.control_period,
                                     absolute_dims=package.absolute_dims)
    frames = _frames(bag)
    pairs: dict[int, BagMessage] = {}
    for chunk in chunks:
        stamp = float(chunk["obs_stamp"])
        fallback = _default_state(states, stamp)
        images = _frame_set(frames, stamp)
        if fallback is None or images is None:
            continue
        expected = np.asarray(chunk["targets"], dtype=np.float64)
        best, best_error = fallback, float("inf")
        for state in (s for s in states if abs(s.stamp - stamp) <= CANDIDATE_WINDOW_S):
            actions = policy.infer(Observation(images, stamp, str(chunk["instruction"]), state.positions))
            targets = synthesizer.to_targets(np.asarray(actions, dtype=float), state.positions)
            error = float(np.max(np.abs(targets - expected))) if targets.shape == expected.shape else float("inf")
            if error < best_error:
                best, best_error = state, error
        pairs[stamp_key(stamp)] = best.message if best_error <= tolerance else fallback.message
    return pairs
