"""vla_replay's ROS side: the replay clock on /clock, the recorded inputs played in lock-step with the node's
chunks, and what the node publishes back (vla_ros/recording/replay_runner.py runs it and compares)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from vla_ros.recording.bag import BagContents, BagMessage
from vla_ros.recording.episode import (
    ACTION_CHUNK_TOPIC,
    IMAGE_TYPES,
    INSTRUCTION_TOPIC,
    JOINT_STATE_TYPE,
    TimedCommands,
    command_time,
    command_vector,
)
from vla_ros.recording.pairing import stamp_key
from vla_ros.recording.replay_clock import ReplayClock

TAIL_S = 0.3  # sim time kept running after the last one, for the last chunk and commands
PRE_PLAY_S = 60.0  # how far before the episode the clock starts while the node comes up
STATE_ACK_LIMIT_S = 1.0  # wall s to wait for the node to count the joint states played (best effort may drop one)
HOLD_LIMIT_S = 0.15  # sim time a frame's chunk may take where the bag does not say (below state_timeout)
CHUNK_WAIT_LIMIT_S = 30.0  # wall s the clock stands waiting for one chunk before playing on regardless
SETTLE_S = 0.2  # wall s the clock stands at each value of settle_clock(); the node must see both values


class ReplayInputError(RuntimeError):
    pass


def frame_stamp(message: BagMessage) -> float:
    """A recorded image's header stamp (what the node keys the frame, and its chunk, by)."""
    from vla_ros.inputs.cdr import parse_compressed_image, parse_image

    parse = parse_compressed_image if message.msgtype == "sensor_msgs/msg/CompressedImage" else parse_image
    return parse(message.data).stamp


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

        # A context this player starts, it shuts down in close(): left to interpreter exit, DDS threads still
        # running can abort the process (a failed exit status after a printed MATCH).
        self._owns_context = not rclpy.ok()
        if self._owns_context:
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
        self.states_published = self.states_lost = 0
        self._last_status: dict = {}  # only the newest counts; the node sends 50 a second
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
        which the node restarts its tick schedule from the clock it reads (see replay_runner.clock_origin)."""
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
            self._last_status = json.loads(msg.data)

    def last_status(self) -> dict:
        with self.lock:
            return self._last_status

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise ReplayInputError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.005)

    def play(self, pairs: dict[int, BagMessage | None], chunk_ready: dict[int, float],
             node_alive: Callable[[], bool]) -> None:
        """Publish the inputs at their recorded times. Lock-step where a chunk was recorded: the joint state
        the node was given with that frame (`pairs`: the chunk report's "state", or for older bags the searched
        one, see vla_ros/recording/pairing.py) goes out, and once the node has counted it, the message that made
        the node infer (the frame, or the instruction for a frame already there); nothing more is played until
        the node has published that frame's chunk, so the node infers on the recorded frame with the recorded
        state, whatever the machine's load. `chunk_ready`: the sim time each recorded chunk was ready (see
        _wait_for_chunk). Raises ReplayInputError if the node exits meanwhile."""
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
            if awaited is None:
                self._publish(message)
                continue
            # The clock stands from here until the frame is out: the node must hold the paired state (its
            # joint-state count in /vla/status says so) before the frame arrives, and sim time must not run on
            # while replay waits for that.
            self.clock.hold()
            if pairs[awaited] is not None:
                self._publish(pairs[awaited])
                self._wait_for_states()
            inferences_before = self.inferences()
            self._publish(message)
            self.clock.release()
            ready = chunk_ready.get(awaited, self.now() + HOLD_LIMIT_S)
            self._wait_for_chunk(awaited, ready, inferences_before, node_alive)
        end = self.bag.messages[-1].stamp_ns * 1e-9 + TAIL_S
        while self.now() < end:
            time.sleep(0.005)

    def inferences(self) -> int:
        return int(self.last_status().get("inferences", 0))

    def _publish(self, message: BagMessage) -> None:
        if message.msgtype == JOINT_STATE_TYPE:
            self.states_published += 1
        self.publishers[message.topic].publish(message.data)

    def _wait_for_states(self) -> None:
        """Until the node has counted every joint state played (less those lost before: the topic is best
        effort), so the newest it holds is the last one published."""
        deadline = time.monotonic() + STATE_ACK_LIMIT_S
        while True:
            received = int(self.last_status().get("joint_states_received", 0))
            if received >= self.states_published - self.states_lost:
                return
            if time.monotonic() > deadline:
                self.states_lost = self.states_published - received
                return
            time.sleep(0.001)

    def _wait_for_chunk(self, key: int, recorded_ready: float, inferences_before: int,
                        node_alive: Callable[[], bool]) -> None:
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
                if not node_alive():
                    raise ReplayInputError("vla_node exited during the replay")
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
        self._spin.join(1.0)
        self.node.destroy_node()
        if self._owns_context:
            import rclpy

            rclpy.try_shutdown()
