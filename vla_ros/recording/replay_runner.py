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
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

from vla_ros.recording.bag import BagContents, BagError, BagMessage, read_bag
from vla_ros.recording.episode import (
    ACTION_CHUNK_TOPIC,
    COMMAND_TYPES,
    IMAGE_TYPES,
    INSTRUCTION_TOPIC,
    JOINT_STATE_TYPE,
    TimedCommands,
    command_time,
    command_vector,
    read_chunks,
    read_commands,
)
from vla_ros.recording.metadata import model_sha256
from vla_ros.recording.pairing import pair_states, stamp_key
from vla_ros.recording.replay import ReplayComparison, compare_chunks, compare_commands
from vla_ros.recording.replay_clock import ReplayClock

# Parameters that describe the recording process rather than the node's behaviour.
NOT_REPLAYED = {"use_sim_time", "start_type_description_service", "autostart"}
LEAD_S = 0.5  # sim time the node sees before the first recorded message
TAIL_S = 0.3  # sim time kept running after the last one, for the last chunk and commands
PRE_PLAY_S = 60.0  # how far before the episode the clock starts while the node comes up
PAIR_GAP_S = 0.02  # wall s between a frame's paired joint state and the frame: the node takes them in that order
HOLD_LIMIT_S = 0.15  # sim time a frame's chunk may take where the bag does not say (below state_timeout)
CHUNK_WAIT_LIMIT_S = 30.0  # wall s the clock stands waiting for one chunk before playing on regardless
SETTLE_S = 0.2  # wall s the clock stands at each value of settle_clock(); the node must see both values
TICK_LEAD_S = 0.0015  # the node sees a tick's deadline up to ~3 ms late (clock published every 2 ms, 1 ms polls)


class ReplayInputError(RuntimeError):
    pass


def frame_stamp(message: BagMessage) -> float:
    """A recorded image's header stamp (what the node keys the frame, and its chunk, by)."""
    from vla_ros.inputs.cdr import parse_compressed_image, parse_image

    parse = parse_compressed_image if message.msgtype == "sensor_msgs/msg/CompressedImage" else parse_image
    return parse(message.data).stamp


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


class Player:
    """The replaying process's ROS side: /clock, the recorded inputs, and what the node publishes."""

    def __init__(self, bag: BagContents, command_topic: str, command_type: str, origin: float) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import CompressedImage, Image, JointState
        from std_msgs.msg import String

        from vla_ros.ros.messages import seconds_to_time
        from vla_ros.ros.qos import RELIABLE, RELIABLE_LATCHED

        if not rclpy.ok():
            rclpy.init()
        self._seconds_to_time, self._clock_type = seconds_to_time, Clock
        self.node = Node("vla_replay")
        self.bag = bag
        classes = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage,
                   JOINT_STATE_TYPE: JointState}
        self.inputs = [m for m in bag.messages if m.topic == INSTRUCTION_TOPIC or m.msgtype in classes]
        self.publishers = {}
        for topic in sorted({m.topic for m in self.inputs}):
            if topic == INSTRUCTION_TOPIC:
                self.publishers[topic] = self.node.create_publisher(String, topic, RELIABLE)
            else:
                self.publishers[topic] = self.node.create_publisher(classes[bag.topics[topic]], topic,
                                                                    qos_profile_sensor_data)
        self.clock_pub = self.node.create_publisher(Clock, "/clock", 10)
        self.command_type = command_type
        self.lock = threading.Lock()
        self.commands: list[tuple[int, bytes]] = []
        self.chunks: list[dict] = []
        self.chunk_keys: set[int] = set()
        self.late_chunks = 0  # frames whose chunk did not come within CHUNK_WAIT_LIMIT_S
        self.statuses: list[dict] = []
        from vla_ros.ros.messages import MESSAGE_TYPES

        command_class = next(c for c in set(MESSAGE_TYPES.values())
                             if f"{c.__module__.split('.')[0]}/msg/{c.__name__}" == command_type)
        deep = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.command_sub = self.node.create_subscription(command_class, command_topic, self._on_command, deep,
                                                         raw=True)
        self.node.create_subscription(String, ACTION_CHUNK_TOPIC, self._on_chunk, deep)
        self.node.create_subscription(String, "/vla/status", self._on_status, RELIABLE_LATCHED)
        # Before playing, the clock runs (the node's sim-time timers, its status among them, and control ticks
        # need it to move) from well before the episode, past its start if the node is slow to come up (ROS time
        # cannot be negative, so an episode recorded near sim time 0 leaves little room); settle_clock() then
        # sets it to the episode's start, where play() goes on.
        self.origin = origin
        self.clock = ReplayClock(max(0.0, origin - PRE_PLAY_S))
        self._stop = threading.Event()
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()
        self._clock_thread = threading.Thread(target=self._publish_clock, daemon=True)
        self._clock_thread.start()

    def now(self) -> float:
        return self.clock.now()

    def settle_clock(self, control_period: float) -> None:
        """Stand the clock at the episode's start with vla_node's control ticks in phase with the recorded ones:
        held three periods later, then set back to the start, a backward jump of more than two periods, on
        which the node restarts its tick schedule from the clock it reads (see clock_origin)."""
        for held in (self.origin + 3 * control_period, self.origin):
            self.clock.hold(held)
            time.sleep(SETTLE_S)  # pacing: the node polls the clock every millisecond

    def _publish_clock(self) -> None:
        while not self._stop.wait(0.002):
            self.clock_pub.publish(self._clock_type(clock=self._seconds_to_time(self.now())))

    def _on_command(self, data: bytes) -> None:
        with self.lock:
            self.commands.append((int(self.now() * 1e9), data))

    def _on_chunk(self, msg) -> None:
        chunk = json.loads(msg.data)
        with self.lock:
            self.chunks.append(chunk)
            self.chunk_keys.add(stamp_key(float(chunk["obs_stamp"])))

    def _on_status(self, msg) -> None:
        with self.lock:
            self.statuses.append(json.loads(msg.data))

    def last_status(self) -> dict:
        with self.lock:
            return self.statuses[-1] if self.statuses else {}

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise ReplayInputError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.005)

    def play(self, pairs: dict[int, BagMessage | None], chunk_ready: dict[int, float]) -> None:
        """Publish the inputs at their recorded times. Lock-step where a chunk was recorded: the joint state
        the node was given with that frame (`pairs`: the chunk report's "state", or for older bags the searched
        one, see vla_ros/recording/pairing.py) goes out just before the message that made the node infer (the
        frame, or the instruction for a frame already there), and nothing more is played until the node has
        published that frame's chunk, so the node infers on the recorded frame with the recorded state, whatever
        the machine's load. `chunk_ready`: the sim time each recorded chunk was ready (see _wait_for_chunk)."""
        self.clock.run_from(self.origin)
        latest_frame: int | None = None
        instructed = False
        for message in self.inputs:
            due = message.stamp_ns * 1e-9
            while self.now() < due:
                time.sleep(min(0.002, max(0.0, due - self.now())))
            if message.msgtype in IMAGE_TYPES:
                latest_frame = stamp_key(frame_stamp(message))
            instructed = instructed or message.topic == INSTRUCTION_TOPIC
            triggers = message.msgtype in IMAGE_TYPES or message.topic == INSTRUCTION_TOPIC
            awaited = latest_frame if triggers and instructed and latest_frame in pairs else None
            with self.lock:
                awaited = None if awaited in self.chunk_keys else awaited
            paired = pairs[awaited] if awaited is not None else None
            if paired is not None:
                self.publishers[paired.topic].publish(paired.data)
                time.sleep(PAIR_GAP_S)  # pacing between two publications, not a wait for a condition
            inferences_before = self.inferences()
            self.publishers[message.topic].publish(message.data)
            if awaited is not None:
                self._wait_for_chunk(awaited, chunk_ready.get(awaited, self.now() + HOLD_LIMIT_S), inferences_before)
        end = self.bag.messages[-1].stamp_ns * 1e-9 + TAIL_S
        while self.now() < end:
            time.sleep(0.005)

    def inferences(self) -> int:
        return int(self.last_status().get("inferences", 0))

    def _wait_for_chunk(self, key: int, recorded_ready: float, inferences_before: int) -> None:
        """Wait for frame `key`'s chunk. Once sim time reaches the time the recorded chunk was ready, the clock
        stands until the node has accepted a chunk (its inference count, `inferences_before` when the frame went
        out, goes up): a node slower than when recording (a loaded machine) then sees the recorded inference
        time, not a longer one that would make its inputs stale and its chunk start later. The clock then runs
        again, because the node reports the chunk (/vla/action_chunk) with its first command, on a control tick."""
        deadline = time.monotonic() + CHUNK_WAIT_LIMIT_S
        held = released = False
        try:
            while time.monotonic() < deadline:
                with self.lock:
                    if key in self.chunk_keys:
                        return
                if not held and not released and self.clock.now() >= recorded_ready:
                    self.clock.hold()
                    held = True
                if held and self.inferences() > inferences_before:
                    self.clock.release()
                    held, released = False, True
                time.sleep(0.0005)
            self.late_chunks += 1
        finally:
            self.clock.release()

    def replayed_commands(self, topic: str) -> TimedCommands:
        import numpy as np

        from vla_ros.recording.bag import deserialize

        with self.lock:
            received = list(self.commands)
        times, vectors = [], []
        for stamp_ns, data in received:
            msg = deserialize(data, self.command_type)
            vector = command_vector(self.command_type, msg)
            if vector.size:
                times.append(command_time(self.command_type, msg, stamp_ns))
                vectors.append(vector)
        empty = np.zeros((0, 0))
        return TimedCommands(topic, self.command_type, np.asarray(times),
                             np.stack(vectors) if vectors else empty)

    def close(self) -> None:
        self._stop.set()
        self._clock_thread.join(1.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


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
        player.play(pairs, chunk_ready)
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
