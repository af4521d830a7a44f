"""The one declarative parameter schema of vla_node, and its translation into validated config dataclasses.

ROS-free: vla_ros/ros/parameters.py turns each ParameterSpec into a declared ROS parameter with a
ParameterDescriptor (type, range, description, read_only) so `ros2 param describe` shows all of it, and the
tests validate every shipped config/*.yaml against this same schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from vla_ros.core.config import (
    Blending,
    CameraSpec,
    ConfigError,
    ExecutionConfig,
    InputConfig,
    JointLimits,
    OutOfWorkspace,
    RemoteConfig,
    SafetyConfig,
)
from vla_ros.core.types import CommandInterface
from vla_ros.core.urdf import limits_from_urdf

ParameterValue = bool | int | float | str | list[str] | list[float]


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: ParameterValue
    description: str
    read_only: bool = True  # changing it live is unsafe or needs a reconfigure
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def kind(self) -> type:
        if isinstance(self.default, list):
            return list
        return type(self.default)


DEFAULT_COMMAND_TOPICS: dict[CommandInterface, str] = {
    CommandInterface.JOINT_TRAJECTORY: "/joint_trajectory_controller/joint_trajectory",
    CommandInterface.JOINT_POSITION: "/forward_position_controller/commands",
    CommandInterface.JOINT_VELOCITY: "/forward_velocity_controller/commands",
    CommandInterface.TWIST: "/servo_node/delta_twist_cmds",
    CommandInterface.POSE: "/target_pose",
}

_REMOTE_DEFAULTS = RemoteConfig()
_SAFETY_DEFAULTS = SafetyConfig()
_EXECUTION_DEFAULTS = ExecutionConfig()


def _grouped(group: str, defaults: object, name: str, description: str, **options: object) -> ParameterSpec:
    """`group.name`, its default read from the group's config dataclass so the two can never disagree."""
    default = getattr(defaults, name)
    if isinstance(default, Enum):
        default = default.value
    elif isinstance(default, tuple):
        default = list(default)
    return ParameterSpec(f"{group}.{name}", default, description, **options)  # type: ignore[arg-type]


def _execution(name: str, description: str, **options: object) -> ParameterSpec:
    return _grouped("execution", _EXECUTION_DEFAULTS, name, description, **options)


def _safety(name: str, description: str, **options: object) -> ParameterSpec:
    return _grouped("safety", _SAFETY_DEFAULTS, name, description, **options)

SCHEMA: tuple[ParameterSpec, ...] = (
    ParameterSpec("autostart", True, "configure and activate the lifecycle node on start"),
    ParameterSpec("model_path", "", "model package directory (holding vla.yaml); relative paths resolve against "
                  "the installed share/vla_ros/models"),
    ParameterSpec("backend", "auto", "inference backend; auto tries tensorrt, onnxruntime (CUDA/TensorRT "
                  "providers), onnxruntime CPU, torch; remote = an openpi-protocol policy server named by a remote "
                  "package (auto picks it for one)",
                  choices=("auto", "tensorrt", "onnxruntime", "torch", "remote")),
    ParameterSpec("remote_url", "", "ws:// or wss:// URL of the policy server of a remote package; empty = the "
                  "URL in its vla.yaml"),
    ParameterSpec("remote.api_key_env", "", "name of the environment variable holding the API key sent as "
                  "'Authorization: Api-Key <key>' (the key itself is never a parameter, logged or in the status); "
                  "empty = no key"),
    ParameterSpec("remote.ca_file", "", "PEM file of the CA(s) that signed a wss:// server's certificate (a "
                  "private CA); empty = the system's trusted CAs"),
    ParameterSpec("remote.timeout_s", _REMOTE_DEFAULTS.timeout_s, "longest wait for a connection or for one reply "
                  "from the policy server, s; past it the node holds on safety.inference_timeout and reconnects",
                  min_value=0.01, max_value=60.0),
    ParameterSpec("remote.max_message_bytes", _REMOTE_DEFAULTS.max_message_bytes, "largest message accepted from "
                  "the policy server, bytes; a larger reply is refused as malformed",
                  min_value=1024, max_value=1 << 30),
    ParameterSpec("inference_threads", 1, "intra-op threads of the inference backend; keep below the core count "
                  "so the control loop keeps a core", min_value=1, max_value=64),
    ParameterSpec("inference_process", True, "run preprocessing and the model in a child process, so their "
                  "Python work does not hold the GIL the control thread needs; false = a thread in vla_node"),
    ParameterSpec("camera_process", True, "receive the cameras in a child process (<node>_camera_rx) that hands "
                  "frames over in shared memory, so taking ~1 MB messages out of DDS does not hold the GIL the "
                  "control thread needs; false = a thread in vla_node"),
    ParameterSpec("warmup_inferences", 2, "inferences run during configure so the first real one is not a cold "
                  "start", min_value=0, max_value=100),
    ParameterSpec("control_rate_hz", _EXECUTION_DEFAULTS.control_rate_hz, "rate at which commands are published",
                  min_value=1.0, max_value=1000.0),
    ParameterSpec("command_interface", CommandInterface.JOINT_TRAJECTORY.value, "what the node publishes",
                  choices=tuple(i.value for i in CommandInterface)),
    ParameterSpec("command_topic", "", "command topic; empty = the default of command_interface"),
    ParameterSpec("frame_id", "base_link", "frame_id of TwistStamped/PoseStamped commands (the robot base frame)"),
    ParameterSpec("joint_names", ["joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6"],
                  "joints in command order; joint_states are reordered by name to this"),
    ParameterSpec("cameras", ["front=/camera/image_raw"], "cameras as name=topic (names as in the model "
                  "manifest); a topic ending in /compressed subscribes sensor_msgs/CompressedImage"),
    ParameterSpec("camera_reliability", "best_effort", "QoS reliability of the camera subscriptions: best_effort "
                  "(sensor-data QoS, matches every publisher) or reliable (needs a reliable publisher; no frame is "
                  "lost to a full shared-memory segment, see config/fastdds_large_frames.xml)",
                  choices=("best_effort", "reliable")),
    ParameterSpec("camera_sync_tolerance", 0.05, "max spread of camera stamps in one observation, s",
                  min_value=0.0, max_value=1.0),
    ParameterSpec("control_thread_priority", 0, "SCHED_FIFO priority of the control thread (1-98, as "
                  "ros2_control's thread_priority); 0 = normal scheduling. Needs rtprio permission, else a warning",
                  min_value=0, max_value=98),
    ParameterSpec("io_thread_priority", 0, "SCHED_FIFO priority of vla_node's other Python threads (executor, "
                  "camera reception, and the inference thread when inference_process is true), below "
                  "control_thread_priority; 0 = normal scheduling. They share the GIL with the control thread: "
                  "an ordinary process preempting one of them while it holds the GIL would stall the control "
                  "loop too", min_value=0, max_value=98),
    ParameterSpec("status_rate_hz", 2.0, "rate of /vla/status and /diagnostics (also sent on every state change)",
                  read_only=False, min_value=1.0, max_value=50.0),
    ParameterSpec("joint_limits.urdf", "", "URDF file (or XML text) to take position and velocity limits from "
                  "instead of joint_limits.lower/upper/max_velocity; accelerations still come from "
                  "joint_limits.max_acceleration"),
    ParameterSpec("joint_limits.lower", [-6.283] * 6, "lower position limits, rad (per joint_names)"),
    ParameterSpec("joint_limits.upper", [6.283] * 6, "upper position limits, rad"),
    ParameterSpec("joint_limits.max_velocity", [1.0] * 6, "velocity limits, rad/s"),
    ParameterSpec("joint_limits.max_acceleration", [5.0] * 6, "acceleration limits, rad/s^2"),
    _execution("blending", "how overlapping chunks combine", choices=tuple(b.value for b in Blending)),
    _execution("ensemble_decay", "ACT temporal-ensembling weight decay m in exp(-m*i)", min_value=0.0,
               max_value=10.0),
    _execution("crossfade_s", "crossfade from the previous chunk to a new one, s", min_value=0.0, max_value=2.0),
    _execution("trajectory_horizon_s", "future horizon sent as JointTrajectory points, s", min_value=0.01,
               max_value=5.0),
    _execution("trajectory_points", "points per JointTrajectory", min_value=1, max_value=100),
    _execution("injected_delay_s", "experiments only: each chunk reaches execution this long after its "
               "observation's stamp, on the node's clock (sim time in sim), as from a slow model", min_value=0.0,
               max_value=5.0),
    _execution("inference_interval_s", "least time between the observations of consecutive inferences, s: each "
               "chunk then runs at least about this long before the next takes over (0 = infer on every new frame)",
               min_value=0.0, max_value=10.0),
    _safety("image_timeout", "hold when the newest image is older, s", min_value=0.001, max_value=10.0),
    _safety("state_timeout", "hold when the newest joint state is older, s", min_value=0.001, max_value=10.0),
    _safety("max_observation_age", "observations older than this are not used for inference, s",
            min_value=0.001, max_value=10.0),
    _safety("inference_timeout", "hold when no new chunk came for this long, s", min_value=0.01, max_value=60.0),
    _safety("position_margin", "margin inside the joint limits, rad", min_value=0.0, max_value=1.0),
    _safety("max_delta", "max position step from the measured state per control tick, rad", min_value=1e-5,
            max_value=1.0),
    _safety("max_ee_speed", "end-effector linear speed cap, m/s (0.25 = ISO 10218 reduced speed)",
            min_value=0.001, max_value=2.0),
    _safety("max_ee_angular_speed", "end-effector angular speed cap, rad/s", min_value=0.001, max_value=6.3),
    _safety("max_ee_linear_accel", "end-effector linear deceleration used to bring twist commands to zero on a "
            "hold, m/s^2", min_value=0.01, max_value=50.0),
    _safety("max_ee_angular_accel", "end-effector angular deceleration on a hold, rad/s^2", min_value=0.01,
            max_value=100.0),
    _safety("workspace_min", "workspace box min [x y z], m, base frame"),
    _safety("workspace_max", "workspace box max [x y z], m"),
    _safety("out_of_workspace", "pose targets outside the workspace box",
            choices=tuple(o.value for o in OutOfWorkspace)),
    _safety("blend_in_s", "blend from the measured state into model commands on activation and after a hold, s",
            min_value=0.0, max_value=10.0),
    _safety("max_instruction_length", "longer instructions are rejected, characters", min_value=1,
            max_value=100000),
    _safety("heartbeat_topic", "operator heartbeat (std_msgs/Bool, true = may move; an enabling device or a "
            "supervising process): while it is missing, older than safety.heartbeat_timeout or false the node "
            "holds (HOLD_NO_HEARTBEAT); '' = not required"),
    _safety("heartbeat_timeout", "hold when the newest heartbeat is older, s", min_value=0.01, max_value=10.0),
    _safety("auto_resume_max_s", "a hold for stale inputs, late inference or a missing heartbeat resumes by "
            "itself when its cause clears only if it lasted at most this long; a longer one drops the "
            "instruction and motion needs a new one, s", min_value=0.0, max_value=60.0),
)

SCHEMA_BY_NAME: dict[str, ParameterSpec] = {spec.name: spec for spec in SCHEMA}

# Declared by rclpy itself on every node; allowed in params files, not part of our schema.
ROS_STANDARD_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})


@dataclass(frozen=True)
class NodeConfig:
    """Everything vla_node needs, validated."""

    model_path: str
    backend: str
    inference_threads: int
    inference_process: bool
    warmup_inferences: int
    interface: CommandInterface
    command_topic: str
    frame_id: str
    joint_names: tuple[str, ...]
    inputs: InputConfig
    limits: JointLimits
    execution: ExecutionConfig
    safety: SafetyConfig
    status_rate_hz: float
    control_thread_priority: int = 0
    io_thread_priority: int = 0
    camera_process: bool = True
    camera_reliability: str = "best_effort"
    remote: RemoteConfig = field(default_factory=RemoteConfig)

    def __post_init__(self) -> None:
        if self.io_thread_priority > 0 and self.io_thread_priority >= self.control_thread_priority:
            # Equal or higher, an I/O thread would keep the control thread off the CPU, not the other way round.
            raise ConfigError(f"io_thread_priority={self.io_thread_priority}: expected below "
                              f"control_thread_priority={self.control_thread_priority} (or 0 for normal scheduling)")


def validate_value(spec: ParameterSpec, value: object) -> None:
    """Type, range and choice check of one value against its spec (ConfigError names it)."""
    if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if spec.kind is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{spec.name}={value!r}: expected a list")
    elif not isinstance(value, spec.kind) or (spec.kind is int and isinstance(value, bool)):
        raise ConfigError(f"{spec.name}={value!r}: expected {spec.kind.__name__}")
    if spec.min_value is not None and value < spec.min_value:  # type: ignore[operator]
        raise ConfigError(f"{spec.name}={value!r}: expected >= {spec.min_value}")
    if spec.max_value is not None and value > spec.max_value:  # type: ignore[operator]
        raise ConfigError(f"{spec.name}={value!r}: expected <= {spec.max_value}")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{spec.name}={value!r}: expected one of {list(spec.choices)}")


def parse_cameras(entries: list[str]) -> tuple[CameraSpec, ...]:
    cameras = []
    for entry in entries:
        name, sep, topic = entry.partition("=")
        if not sep or not name.strip() or not topic.strip():
            raise ConfigError(f"cameras entry {entry!r}: expected 'name=topic'")
        topic = topic.strip()
        cameras.append(CameraSpec(name.strip(), topic, compressed=topic.rstrip("/").endswith("/compressed")))
    return tuple(cameras)


def build_node_config(values: Mapping[str, object]) -> NodeConfig:
    """Merge `values` over the schema defaults, validate each, and build the config dataclasses."""
    unknown = sorted(set(values) - set(SCHEMA_BY_NAME) - ROS_STANDARD_PARAMETERS)
    if unknown:
        raise ConfigError(f"unknown parameters {unknown}")
    merged: dict[str, object] = {spec.name: spec.default for spec in SCHEMA}
    merged.update({k: v for k, v in values.items() if k in SCHEMA_BY_NAME})
    for spec in SCHEMA:
        validate_value(spec, merged[spec.name])
    joint_names = tuple(str(n) for n in merged["joint_names"])  # type: ignore[union-attr]
    interface = CommandInterface(merged["command_interface"])
    if merged["joint_limits.urdf"]:
        limits = limits_from_urdf(str(merged["joint_limits.urdf"]), joint_names,
                                  list(merged["joint_limits.max_acceleration"]))  # type: ignore[arg-type]
    else:
        limits = JointLimits.from_lists(
            joint_names,
            list(merged["joint_limits.lower"]),  # type: ignore[arg-type]
            list(merged["joint_limits.upper"]),  # type: ignore[arg-type]
            list(merged["joint_limits.max_velocity"]),  # type: ignore[arg-type]
            list(merged["joint_limits.max_acceleration"]),  # type: ignore[arg-type]
        )
    execution = ExecutionConfig(
        control_rate_hz=float(merged["control_rate_hz"]),  # type: ignore[arg-type]
        blending=Blending(merged["execution.blending"]),
        ensemble_decay=float(merged["execution.ensemble_decay"]),  # type: ignore[arg-type]
        crossfade_s=float(merged["execution.crossfade_s"]),  # type: ignore[arg-type]
        trajectory_horizon_s=float(merged["execution.trajectory_horizon_s"]),  # type: ignore[arg-type]
        trajectory_points=int(merged["execution.trajectory_points"]),  # type: ignore[call-overload]
        injected_delay_s=float(merged["execution.injected_delay_s"]),  # type: ignore[arg-type]
        inference_interval_s=float(merged["execution.inference_interval_s"]),  # type: ignore[arg-type]
    )
    safety = SafetyConfig(
        image_timeout=float(merged["safety.image_timeout"]),  # type: ignore[arg-type]
        state_timeout=float(merged["safety.state_timeout"]),  # type: ignore[arg-type]
        max_observation_age=float(merged["safety.max_observation_age"]),  # type: ignore[arg-type]
        inference_timeout=float(merged["safety.inference_timeout"]),  # type: ignore[arg-type]
        position_margin=float(merged["safety.position_margin"]),  # type: ignore[arg-type]
        max_delta=float(merged["safety.max_delta"]),  # type: ignore[arg-type]
        max_ee_speed=float(merged["safety.max_ee_speed"]),  # type: ignore[arg-type]
        max_ee_angular_speed=float(merged["safety.max_ee_angular_speed"]),  # type: ignore[arg-type]
        max_ee_linear_accel=float(merged["safety.max_ee_linear_accel"]),  # type: ignore[arg-type]
        max_ee_angular_accel=float(merged["safety.max_ee_angular_accel"]),  # type: ignore[arg-type]
        workspace_min=tuple(float(v) for v in merged["safety.workspace_min"]),  # type: ignore[union-attr]
        workspace_max=tuple(float(v) for v in merged["safety.workspace_max"]),  # type: ignore[union-attr]
        out_of_workspace=OutOfWorkspace(merged["safety.out_of_workspace"]),
        blend_in_s=float(merged["safety.blend_in_s"]),  # type: ignore[arg-type]
        max_instruction_length=int(merged["safety.max_instruction_length"]),  # type: ignore[call-overload]
        heartbeat_topic=str(merged["safety.heartbeat_topic"]),
        heartbeat_timeout=float(merged["safety.heartbeat_timeout"]),  # type: ignore[arg-type]
        auto_resume_max_s=float(merged["safety.auto_resume_max_s"]),  # type: ignore[arg-type]
    )
    inputs = InputConfig(parse_cameras(list(merged["cameras"])),  # type: ignore[call-overload]
                         float(merged["camera_sync_tolerance"]))  # type: ignore[arg-type]
    command_topic = str(merged["command_topic"]) or DEFAULT_COMMAND_TOPICS[interface]
    return NodeConfig(
        model_path=str(merged["model_path"]),
        backend=str(merged["backend"]),
        inference_threads=int(merged["inference_threads"]),  # type: ignore[call-overload]
        inference_process=bool(merged["inference_process"]),
        warmup_inferences=int(merged["warmup_inferences"]),  # type: ignore[call-overload]
        interface=interface,
        command_topic=command_topic,
        frame_id=str(merged["frame_id"]),
        joint_names=joint_names,
        inputs=inputs,
        limits=limits,
        execution=execution,
        safety=safety,
        status_rate_hz=float(merged["status_rate_hz"]),  # type: ignore[arg-type]
        control_thread_priority=int(merged["control_thread_priority"]),  # type: ignore[call-overload]
        io_thread_priority=int(merged["io_thread_priority"]),  # type: ignore[call-overload]
        camera_process=bool(merged["camera_process"]),
        camera_reliability=str(merged["camera_reliability"]),
        remote=RemoteConfig(
            url=str(merged["remote_url"]),
            api_key_env=str(merged["remote.api_key_env"]),
            ca_file=str(merged["remote.ca_file"]),
            timeout_s=float(merged["remote.timeout_s"]),  # type: ignore[arg-type]
            max_message_bytes=int(merged["remote.max_message_bytes"]),  # type: ignore[call-overload]
        ),
    )


def load_params_file(path: Path, node_name: str = "vla_node") -> dict[str, object]:
    """Read a ROS 2 --params-file YAML and return the flat parameter dict of `node_name` (or `/**`)."""
    import yaml

    document = yaml.safe_load(Path(path).read_text()) or {}
    values: dict[str, object] = {}
    for key in ("/**", node_name, f"/{node_name}", f"/**/{node_name}"):
        section = document.get(key, {}) or {}
        values.update(_flatten(section.get("ros__parameters", {}) or {}))
    return values


def _flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
