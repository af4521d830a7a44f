"""A recorded episode as aligned arrays: one row per camera frame (observation) with the state and command.

Alignment (documented in the export's info.json too):
- frames: the header stamps of the first camera's images; other cameras contribute the newest image at or
  before each such stamp;
- observation.state: the newest /joint_states at or before the frame stamp (by header stamp), reordered to
  `joint_names`;
- action: the first command published at or after the frame stamp (header stamp where the command type has
  one, else the bag's receive time), as the command vector of its interface (see `command_vector`);
Frames with no state before them or no command after them are left out (the count is reported).
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from vla_ros.inputs.images import ImageError, decode_compressed_image, decode_raw_image
from vla_ros.recording.bag import BagContents, BagError, deserialize

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
JOINT_STATE_TYPE = "sensor_msgs/msg/JointState"
COMMAND_TYPES = ("trajectory_msgs/msg/JointTrajectory", "std_msgs/msg/Float64MultiArray",
                 "geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/PoseStamped")
ACTION_CHUNK_TOPIC = "/vla/action_chunk"
INSTRUCTION_TOPIC = "/vla/instruction"


def stamp_seconds(stamp) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def command_vector(msgtype: str, msg) -> np.ndarray:
    """The command as a flat vector: JointTrajectory -> first point's positions; Float64MultiArray -> data;
    TwistStamped -> [vx vy vz wx wy wz]; PoseStamped -> [x y z qx qy qz qw]."""
    if msgtype == "trajectory_msgs/msg/JointTrajectory":
        return np.asarray(msg.points[0].positions if msg.points else [], dtype=np.float64)
    if msgtype == "std_msgs/msg/Float64MultiArray":
        return np.asarray(msg.data, dtype=np.float64)
    if msgtype == "geometry_msgs/msg/TwistStamped":
        t = msg.twist
        return np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])
    if msgtype == "geometry_msgs/msg/PoseStamped":
        p, q = msg.pose.position, msg.pose.orientation
        return np.array([p.x, p.y, p.z, q.x, q.y, q.z, q.w])
    raise BagError(f"unsupported command type {msgtype!r}")


def command_time(msgtype: str, msg, receive_ns: int) -> float:
    header = getattr(msg, "header", None)
    if header is not None and (header.stamp.sec or header.stamp.nanosec):
        return stamp_seconds(header.stamp)
    return receive_ns * 1e-9


@dataclass(frozen=True)
class TimedCommands:
    topic: str
    msgtype: str
    times: np.ndarray  # [K] s
    vectors: np.ndarray  # [K, D]


def read_commands(bag: BagContents) -> TimedCommands:
    topics = [t for t, m in bag.topics.items() if m in COMMAND_TYPES]
    if not topics:
        raise BagError(f"{bag.path}: no command topic (none of the types {list(COMMAND_TYPES)}; topics: "
                       f"{sorted(bag.topics)})")
    if len(topics) > 1:
        raise BagError(f"{bag.path}: several command topics {sorted(topics)}; expected one")
    topic = topics[0]
    msgtype = bag.topics[topic]
    times, vectors = [], []
    for message in bag.of(topic):
        msg = deserialize(message.data, msgtype)
        vector = command_vector(msgtype, msg)
        if vector.size:
            times.append(command_time(msgtype, msg, message.stamp_ns))
            vectors.append(vector)
    if not vectors:
        raise BagError(f"{bag.path}: command topic {topic} holds no commands")
    order = np.argsort(times, kind="stable")
    return TimedCommands(topic, msgtype, np.asarray(times)[order], np.stack(vectors)[order])


def read_chunks(bag: BagContents) -> list[dict]:
    """The /vla/action_chunk reports (JSON) of the bag, in publication order."""
    from vla_ros.inputs.cdr import string_payload_bytes

    return [json.loads(string_payload_bytes(m.data)) for m in bag.of(ACTION_CHUNK_TOPIC)]


def camera_names(bag: BagContents) -> dict[str, str]:
    """Image topic -> camera name: the node's `cameras` parameter (name=topic) when the episode stored it, else
    the topic's last meaningful path element (`/wrist/image_raw` -> `wrist`)."""
    topics = [t for t, m in bag.topics.items() if m in IMAGE_TYPES]
    configured = {}
    node_config = bag.metadata.get("node_config", {}) if isinstance(bag.metadata, dict) else {}
    for entry in node_config.get("cameras", []) if isinstance(node_config, dict) else []:
        name, _, topic = str(entry).partition("=")
        configured["/" + topic.strip().lstrip("/")] = name.strip()
    names = {}
    for topic in sorted(topics):
        if topic in configured:
            names[topic] = configured[topic]
            continue
        parts = [p for p in PurePosixPath(topic).parts if p not in ("/", "image_raw", "compressed", "image")]
        names[topic] = parts[-1] if parts else "camera"
    if len(set(names.values())) != len(names):  # two topics shortened to one name: keep them apart
        names = {t: t.strip("/").replace("/", "_") for t in names}
    return names


def decode_image(msgtype: str, data: bytes) -> tuple[float, np.ndarray]:
    msg = deserialize(data, msgtype)
    try:
        if msgtype == "sensor_msgs/msg/CompressedImage":
            image = decode_compressed_image(msg.format, msg.data)
        else:
            image = decode_raw_image(msg.encoding, msg.height, msg.width, msg.step, msg.data)
    except ImageError as error:
        raise BagError(f"undecodable image: {error}") from None
    return stamp_seconds(msg.header.stamp), image


@dataclass
class EpisodeArrays:
    path: str
    instruction: str
    joint_names: list[str]
    cameras: dict[str, str]  # topic -> camera name
    frame_stamps: np.ndarray  # [N] s, header stamps of the first camera
    images: dict[str, list[np.ndarray]]  # camera name -> N HxWx3 uint8 RGB
    states: np.ndarray  # [N, J]
    actions: np.ndarray  # [N, D]
    dropped_frames: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        if len(self.frame_stamps) < 2:
            return 0.0
        return float(1.0 / np.median(np.diff(self.frame_stamps)))


def _joint_states(bag: BagContents, joint_names: list[str] | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    topics = [t for t, m in bag.topics.items() if m == JOINT_STATE_TYPE]
    messages = [m for t in topics for m in bag.of(t)]
    if not messages:
        raise BagError(f"{bag.path}: no joint states (no {JOINT_STATE_TYPE} messages; topics: {sorted(bag.topics)})")
    times, rows = [], []
    names: list[str] | None = list(joint_names) if joint_names else None
    for message in messages:
        msg = deserialize(message.data, JOINT_STATE_TYPE)
        recorded = list(msg.name)
        if names is None:
            names = recorded
        if not set(names) <= set(recorded):
            raise BagError(f"{bag.path}: joint names {recorded} differ from the expected {names} "
                           "(a bag from another robot? pass --joint-names to match)")
        index = {name: i for i, name in enumerate(recorded)}
        positions = np.asarray(msg.position, dtype=np.float64)
        times.append(stamp_seconds(msg.header.stamp) if msg.header.stamp.sec else message.stamp_ns * 1e-9)
        rows.append(positions[[index[n] for n in names]])
    order = np.argsort(times, kind="stable")
    assert names is not None
    return names, np.asarray(times)[order], np.stack(rows)[order]


def load_episode(bag: BagContents, joint_names: list[str] | None = None) -> EpisodeArrays:
    """Align a bag's frames, states and commands (see module docstring); BagError names what is missing."""
    cameras = camera_names(bag)
    if not cameras:
        raise BagError(f"{bag.path}: no camera images (no {' or '.join(IMAGE_TYPES)} topic; topics: "
                       f"{sorted(bag.topics)})")
    decoded: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
    for topic in cameras:
        stamped = sorted((decode_image(bag.topics[topic], m.data) for m in bag.of(topic)), key=lambda p: p[0])
        if not stamped:
            raise BagError(f"{bag.path}: camera topic {topic} holds no images")
        decoded[topic] = (np.array([s for s, _ in stamped]), [image for _, image in stamped])
    names, state_times, states = _joint_states(bag, joint_names)
    commands = read_commands(bag)
    primary = sorted(cameras)[0]
    stamps, primary_images = decoded[primary]
    rows: list[tuple[float, dict[str, np.ndarray], np.ndarray, np.ndarray]] = []
    for stamp, image in zip(stamps, primary_images):
        state_index = bisect_right(state_times, stamp) - 1
        command_index = bisect_left(commands.times, stamp)
        if state_index < 0 or command_index >= len(commands.times):
            continue
        frame = {cameras[primary]: image}
        for topic in cameras:
            if topic == primary:
                continue
            other_stamps, other_images = decoded[topic]
            other = bisect_right(other_stamps, stamp) - 1
            if other < 0:
                break
            frame[cameras[topic]] = other_images[other]
        else:
            rows.append((stamp, frame, states[state_index], commands.vectors[command_index]))
    if not rows:
        raise BagError(f"{bag.path}: no frame has a joint state before it and a command after it "
                       f"({len(stamps)} frames, {len(state_times)} states, {len(commands.times)} commands)")
    instruction = str(bag.metadata.get("instruction", "")) if bag.metadata else ""
    if not instruction:
        from vla_ros.inputs.cdr import string_payload_bytes

        texts = [string_payload_bytes(m.data).decode("utf-8", "replace") for m in bag.of(INSTRUCTION_TOPIC)]
        instruction = next((t for t in texts if t), "")
    return EpisodeArrays(
        path=str(bag.path), instruction=instruction, joint_names=names, cameras=cameras,
        frame_stamps=np.array([r[0] for r in rows]),
        images={name: [r[1][name] for r in rows] for name in cameras.values()},
        states=np.stack([r[2] for r in rows]), actions=np.stack([r[3] for r in rows]),
        dropped_frames=len(stamps) - len(rows))
