"""recorder_node: records what vla_node consumes and publishes into per-instruction rosbag2 episodes.

A separate process (like `ros2 bag record`), so recording shares nothing with the node's control thread: not its
GIL, not its executor. Subscriptions are raw (serialized bytes are written as received, no deserialization);
callbacks only enqueue, and vla_ros.recording.recorder writes on its own thread.

What to record follows the running node (`node_name`, default vla_node): the recorder asks it for its
parameters once it is up and subscribes to its cameras and command topic; its model_path is hashed, and all of
its parameters go into every episode's metadata. Parameters of the same names given to the recorder
(cameras, command_interface, command_topic, model_path) override the node's and, with cameras and
command_interface both given, recording starts without waiting for the node.

Other parameters: output_dir (default "recordings"), max_episode_mb (512), max_total_mb (8192), queue_size
(2000), storage (mcap | sqlite3).

Ctrl-C and SIGTERM (any number of them) finish the open episode, complete with its metadata, and exit 0
(vla_ros/ros/spin.py). Episodes left unfinished by a recorder that was killed are recovered when the next one
starts on the same output_dir, or by `vla_record --recover DIR` (recovery.py).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String

from vla_ros.core.parameters import DEFAULT_COMMAND_TOPICS, parse_cameras
from vla_ros.core.types import CommandInterface
from vla_ros.recording.metadata import git_revision, model_sha256
from vla_ros.recording.recorder import Recorder, RecorderConfig
from vla_ros.recording.recovery import recover_folder
from vla_ros.ros.messages import MESSAGE_TYPES
from vla_ros.ros.model_path import resolve_model_path
from vla_ros.ros.qos import RELIABLE_LATCHED
from vla_ros.ros.spin import init_rclpy, install_shutdown_signals, spin_until_shutdown

RELIABLE_DEEP = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
MIB = 1024 * 1024


def type_name(message_class: type) -> str:
    """'sensor_msgs/msg/Image' for sensor_msgs.msg.Image (the name rosbag2 stores)."""
    return f"{message_class.__module__.split('.')[0]}/msg/{message_class.__name__}"


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("vla_recorder")
        p = self.declare_parameter
        self._node_name = p("node_name", "vla_node").value
        self._output_dir = str(p("output_dir", "recordings").value)
        # Unset (the default): taken from the running node's parameters, so nothing has to be said twice.
        self._explicit = {
            "cameras": p("cameras", Parameter.Type.STRING_ARRAY).value,
            "command_interface": p("command_interface", "").value,
            "command_topic": p("command_topic", "").value,
            "model_path": p("model_path", "").value,
        }
        self._limits = dict(
            max_episode_bytes=int(p("max_episode_mb", 512).value) * MIB,
            max_total_bytes=int(p("max_total_mb", 8192).value) * MIB,
            queue_size=int(p("queue_size", 2000).value),
            storage=str(p("storage", "mcap").value),
        )
        self.recorder: Recorder | None = None
        # Episodes a killed recorder left unfinished, before this one adds its own.
        for recovered in recover_folder(self._output_dir):
            self.get_logger().warning(recovered.describe())
        self._parameter_client = AsyncParameterClient(self, self._node_name)
        self._parameter_timer = self.create_timer(0.5, self._fetch_node_parameters)
        self._fetching = False
        if self._explicit["cameras"] and self._explicit["command_interface"]:
            self._start(self._explicit)
        else:
            self.get_logger().info(f"waiting for {self._node_name}'s parameters (cameras, command_interface)")

    def _start(self, values: dict[str, object]) -> None:
        """Subscribe and create the recorder: explicit parameters win over the node's."""
        settings = {k: v if v not in (None, "", []) else values.get(k) for k, v in self._explicit.items()}
        cameras = parse_cameras(list(settings["cameras"] or ["front=/camera/image_raw"]))
        interface = CommandInterface(settings["command_interface"] or CommandInterface.JOINT_TRAJECTORY.value)
        command_topic = str(settings["command_topic"] or "") or DEFAULT_COMMAND_TOPICS[interface]
        # (relative topic, message class, QoS): the same relative names vla_node uses, so a namespace moves both.
        wanted: list[tuple[str, type, QoSProfile]] = [
            (c.topic, CompressedImage if c.compressed else Image, qos_profile_sensor_data) for c in cameras]
        wanted += [
            ("joint_states", JointState, qos_profile_sensor_data),
            ("vla/instruction", String, RELIABLE_DEEP),
            (command_topic, MESSAGE_TYPES[interface], RELIABLE_DEEP),
            ("vla/status", String, RELIABLE_LATCHED),
            ("vla/action_chunk", String, RELIABLE_DEEP),
        ]
        # Resolved (absolute) names are what the bag stores and what episodes are read back by.
        resolved = {topic: self.resolve_topic_name(topic) for topic, _, _ in wanted}
        topic_types = {resolved[topic]: type_name(message_class) for topic, message_class, _ in wanted}
        preroll = tuple(resolved[t] for t in [c.topic for c in cameras] + ["joint_states", "vla/status"])
        config = RecorderConfig(output_dir=self._output_dir, instruction_topic=resolved["vla/instruction"],
                                status_topic=resolved["vla/status"], preroll_topics=preroll, **self._limits)
        static: dict[str, object] = {"vla_ros_git": git_revision(), "model": {}}
        if settings["model_path"]:
            package_path = resolve_model_path(str(settings["model_path"]))
            if package_path.exists():
                static["model"] = {"path": str(package_path.resolve()), "sha256": model_sha256(package_path)}
            else:
                self.get_logger().warning(f"model_path {package_path} not found here: episodes carry no model hash")
        self.recorder = Recorder(config, topic_types, static)
        for topic, message_class, qos in wanted:
            self.create_subscription(message_class, topic, self._callback_for(resolved[topic]), qos, raw=True)
        self.get_logger().info(f"recording {sorted(topic_types)} into {Path(self._output_dir).resolve()}")

    def _callback_for(self, topic: str):
        recorder, clock = self.recorder, self.get_clock()
        assert recorder is not None

        def on_message(data: bytes) -> None:
            recorder.submit(topic, data, clock.now().nanoseconds)

        return on_message

    def _fetch_node_parameters(self) -> None:
        """Once the node's parameter services exist: list and get all of them, then stop asking."""
        if self._fetching or not self._parameter_client.services_are_ready():
            return
        self._fetching = True
        listed = self._parameter_client.list_parameters()
        listed.add_done_callback(self._on_listed)

    def _on_listed(self, future) -> None:
        result = future.result()
        if result is None:
            self._fetching = False
            return
        names = list(result.result.names)
        fetched = self._parameter_client.get_parameters(names)
        fetched.add_done_callback(lambda f: self._on_values(names, f))

    def _on_values(self, names: list[str], future) -> None:
        result = future.result()
        if result is None:
            self._fetching = False
            return
        values = {name: parameter_value_to_python(value) for name, value in zip(names, result.values)}
        if self.recorder is None:
            self._start(values)
        assert self.recorder is not None
        self.recorder.set_node_config(values)
        self._parameter_timer.cancel()
        self.get_logger().info(f"stored {len(values)} parameters of {self._node_name} in the episode metadata")


def main(args: list[str] | None = None) -> int:
    argv = list(sys.argv if args is None else args)
    own = argv[1:argv.index("--ros-args")] if "--ros-args" in argv else argv[1:]
    if "--recover" in own:
        return recover_command(own)
    install_shutdown_signals()
    # The writer thread logs through Python logging (it is ROS-free): show its episode and drop messages.
    logging.basicConfig(level=logging.INFO, format="[vla_recorder] %(levelname)s: %(message)s")
    init_rclpy(argv)
    node = RecorderNode()

    def finish_episode() -> None:
        if node.recorder is not None:
            stats = node.recorder.close()
            print(f"vla_recorder: {len(stats.episodes)} episode(s) written, {stats.dropped} message(s) dropped",
                  file=sys.stderr)
            for episode in stats.episodes:
                print(episode, file=sys.stderr)

    return spin_until_shutdown(node, SingleThreadedExecutor(), finish_episode)


def recover_command(own_args: list[str]) -> int:
    """`vla_record --recover DIR`: finish the unfinished episodes in DIR, one line each, and exit."""
    position = own_args.index("--recover")
    if position + 1 >= len(own_args):
        print("usage: vla_record --recover DIR", file=sys.stderr)
        return 2
    folder = Path(own_args[position + 1])
    if not folder.is_dir():
        print(f"vla_record --recover: {folder} is not a folder", file=sys.stderr)
        return 2
    recovered = recover_folder(folder)
    for episode in recovered:
        print(episode.describe())
    print(f"vla_record --recover: {len(recovered)} episode(s) recovered in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
