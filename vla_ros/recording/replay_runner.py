"""`vla_replay BAG`: play a recorded episode's inputs into a fresh vla_node on sim time and compare its outputs.

The node (module vla_ros.ros.node, in its own process) gets the recorded node parameters (episode metadata),
`use_sim_time:=true`, and the recorded model and backend unless --model / --backend say otherwise. This process
publishes /clock from the bag's receive stamps (at wall speed, standing still while the node takes longer over a
chunk than it did when recording, so a loaded machine replays the recorded timing) and plays the camera images,
joint states and the instruction at their recorded times, byte for byte (original header stamps included). It
records the node's commands and action chunks and compares them with the recorded ones;
vla_ros/recording/replay.py says what is compared and how tightly.

Exit status: 0 match, 1 mismatch (the first divergence is printed), 2 bad input (unreadable bag, missing model,
a node that does not start).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vla_ros.recording.bag import BagContents, BagError, read_bag
from vla_ros.recording.episode import (
    ACTION_CHUNK_TOPIC,
    COMMAND_TYPES,
    IMAGE_TYPES,
    INSTRUCTION_TOPIC,
    JOINT_STATE_TYPE,
    read_chunks,
    read_commands,
)
from vla_ros.recording.metadata import model_sha256
from vla_ros.recording.pairing import pair_states, stamp_key
from vla_ros.recording.replay import ReplayComparison, compare_chunks, compare_commands
from vla_ros.recording.replay_player import CHUNK_WAIT_LIMIT_S, Player, ReplayInputError

# Parameters that describe the recording process rather than the node's behaviour.
NOT_REPLAYED = {"use_sim_time", "start_type_description_service", "autostart"}
LEAD_S = 0.5  # sim time the node sees before the first recorded message
TICK_LEAD_S = 0.0015  # the node sees a tick's deadline up to ~3 ms late (clock published every 2 ms, 1 ms polls)


def node_parameters(bag: BagContents, model: str | None, backend: str | None) -> dict[str, object]:
    recorded = bag.metadata.get("node_config") or {}
    if not isinstance(recorded, dict) or not recorded:
        raise ReplayInputError(f"{bag.path}: the episode metadata holds no node parameters (node_config); "
                               "it was not recorded by vla_ros recorder_node with vla_node running")
    params = {k: v for k, v in recorded.items() if k not in NOT_REPLAYED and v is not None}
    # The status rate is the fastest allowed: while the replay clock stands, the inference count in /vla/status
    # (on a steady-clock timer) is how replay learns the node has its chunk (see Player._wait_for_chunk).
    params.update(use_sim_time=True, autostart=True, status_rate_hz=50.0)
    model_info = bag.metadata.get("model") or {}
    if model and not Path(model).exists():
        raise ReplayInputError(f"--model {model}: no such model package")
    params["model_path"] = str(model or find_recorded_model(model_info, str(params.get("model_path", ""))))
    if backend or model_info.get("backend"):
        params["backend"] = backend or model_info["backend"]
    return params


def find_recorded_model(model_info: dict, configured: str) -> Path:
    """The recorded model: at its recorded path, else by its package name under this checkout's models/ or the
    installed share/vla_ros/models (bags move between machines; the sha256 check below catches a different one)."""
    from vla_ros.ros.model_path import resolve_model_path

    candidates = [model_info.get("path"), configured]
    if model_info.get("name"):
        candidates += [str(Path(__file__).resolve().parents[2] / "models" / str(model_info["name"])),
                       str(model_info["name"])]
    for candidate in filter(None, candidates):
        path = resolve_model_path(str(candidate))
        if path.exists():
            return path
    raise ReplayInputError(f"the recorded model ({model_info.get('name')!r} at {model_info.get('path')!r}) "
                           "is not here; pass --model PATH")


def clock_origin(bag: BagContents, command_times, control_period: float) -> float:
    """Sim time of the episode's start on the replay clock, LEAD_S before the first message, moved back onto the
    recorded control-tick grid (less TICK_LEAD_S): vla_node restarts its tick schedule, every control period
    from the clock it reads, on a clock jump (Player.settle_clock makes one to this value), so its commands fall
    on the recorded commands' times, which the command comparison matches within --max-time-offset."""
    origin = max(0.0, bag.messages[0].stamp_ns * 1e-9 - LEAD_S)
    if len(command_times) and control_period > 0:
        # The recorded grid: the commonest phase (1 ms bins), as a tick can come off the grid (a chunk's start).
        phases = np.round((np.asarray(command_times, dtype=float) % control_period) * 1e3).astype(int)
        phase = np.bincount(phases % max(1, round(control_period * 1e3))).argmax() * 1e-3
        aligned = origin - (origin - phase) % control_period - TICK_LEAD_S
        origin = aligned if aligned >= 0 else max(0.0, aligned + control_period)  # near sim time 0: a tick later
    return origin


def check_playable(bag: BagContents) -> None:
    kinds = set(bag.topics.values())
    missing = [what for what, ok in (("camera images", bool(kinds & set(IMAGE_TYPES))),
                                     ("joint states", JOINT_STATE_TYPE in kinds),
                                     ("an instruction", bag.count(INSTRUCTION_TOPIC) > 0),
                                     ("commands", bool(kinds & set(COMMAND_TYPES))),
                                     ("action chunks", bag.count(ACTION_CHUNK_TOPIC) > 0)) if not ok]
    if missing:
        raise ReplayInputError(f"{bag.path}: nothing to replay or compare: no {', no '.join(missing)} "
                               f"(topics: {sorted(bag.topics)})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vla_replay", description=__doc__.splitlines()[0])
    parser.add_argument("bag", help="an episode bag folder written by recorder_node")
    parser.add_argument("--model", default=None, help="model package to replay with (default: the recorded one)")
    parser.add_argument("--backend", default=None, help="inference backend (default: the recorded one)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="max |error| of action-chunk targets with the same observation stamp")
    parser.add_argument("--command-tolerance", type=float, default=0.05,
                        help="max |error| of commands matched by time (loose: chunk arrival timing varies)")
    parser.add_argument("--max-time-offset", type=float, default=0.005,
                        help="commands further apart in time than this (s) are not compared")
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    return parser.parse_args(argv)


def replay(args: argparse.Namespace) -> ReplayComparison:
    from vla_ros.bench.rig import NodeProcess

    bag = read_bag(args.bag)
    check_playable(bag)
    params = node_parameters(bag, args.model, args.backend)
    recorded_sha = (bag.metadata.get("model") or {}).get("sha256")
    if recorded_sha and model_sha256(Path(str(params["model_path"]))) != recorded_sha:
        print(f"vla_replay: warning: model {params['model_path']} differs from the recorded one "
              f"(sha256 {recorded_sha[:12]}...): expect divergence", file=sys.stderr)
    recorded_commands = read_commands(bag)
    control_period = 1.0 / float(params.get("control_rate_hz") or 50.0)
    player = Player(bag, recorded_commands.topic, recorded_commands.msgtype,
                    clock_origin(bag, recorded_commands.times, control_period))
    node = NodeProcess(params)
    try:
        # While the node starts: the state each recorded chunk was inferred with (reported, or searched for).
        pairs = pair_states(bag, read_chunks(bag), str(params["model_path"]), str(params.get("backend", "auto")),
                            args.tolerance)
        player.wait(lambda: player.command_sub.get_publisher_count() > 0 or not node.alive(), args.startup_timeout,
                    "vla_node's command publisher")
        player.wait(lambda: player.last_status().get("state") not in (None, "IDLE") or not node.alive(),
                    args.startup_timeout, "vla_node to activate")
        status = player.last_status()
        if not node.alive() or status.get("state") == "FAULT":
            raise ReplayInputError(f"vla_node did not start: {status.get('reason')}\n{node.log()[-2000:]}")
        # Every subscription first: the camera's belongs to vla_node's camera process, whose start-up (a Python
        # interpreter importing rclpy) would otherwise compete with settle_clock for the CPU.
        for topic, publisher in player.publishers.items():
            player.wait(lambda p=publisher: p.get_subscription_count() > 0, args.startup_timeout,
                        f"vla_node to subscribe to {topic}")
        player.settle_clock(control_period)
        chunk_ready = {stamp_key(float(c["obs_stamp"])): float(c["chunk_ready"])
                       for c in read_chunks(bag) if "chunk_ready" in c}
        try:
            player.play(pairs, chunk_ready, node.alive)
        except ReplayInputError as error:
            raise ReplayInputError(f"{error}\n{node.log()[-2000:]}") from None
        if player.late_chunks:
            print(f"vla_replay: warning: {player.late_chunks} frame(s) got no chunk within {CHUNK_WAIT_LIMIT_S:.0f} "
                  "s; their chunks may use other joint states than recorded", file=sys.stderr)
        result = ReplayComparison()
        with player.lock:
            replayed_chunks = list(player.chunks)
        compare_chunks(read_chunks(bag), replayed_chunks, args.tolerance, result)
        compare_commands(recorded_commands, player.replayed_commands(recorded_commands.topic),
                         args.command_tolerance, args.max_time_offset, result)
        return result
    finally:
        node.stop()
        player.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = replay(args)
    except (BagError, ReplayInputError) as error:
        print(f"vla_replay: {error}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.matched else 1


if __name__ == "__main__":
    sys.exit(main())
