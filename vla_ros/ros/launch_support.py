"""What the launch files start, as plain data: launch arguments in, node parameters and remappings out.

The launch files stay declarative (upstream `launch` cannot be installed in CI): they declare their arguments
and hand the values to one of the `*_launch_plan` functions here, which the tests call for every shipped
profile and every argument. Each plan function takes exactly the arguments its launch file declares and
refuses any other name, so an argument cannot be declared and then silently ignored.

An empty argument means "as the parameter files say": the profile's cameras, the profile's use_sim_time, the
node's own (relative) topic names under its namespace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import SCHEMA_BY_NAME, parse_cameras, validate_value

NODE_NAME = "vla_node"
SIM_NODE_NAME = "vla_sim"
SIM_CAMERA_TOPIC = "/camera/image_raw"  # where vla_sim publishes its camera
# The node's relative topic names that a launch argument may remap (argument name -> node topic).
TOPIC_ARGUMENTS = {"joint_states_topic": "joint_states", "instruction_topic": "vla/instruction"}
NODE_ARGUMENTS = ("model_path", "backend", "remote_url", "use_sim_time", "camera_topic", *TOPIC_ARGUMENTS)
VLA_LAUNCH_ARGUMENTS = ("model_path", "config", "params_file", "namespace", "backend", "remote_url", "use_sim_time",
                        "camera_topic", "joint_states_topic", "instruction_topic", "record", "record_dir",
                        "fastdds_transport")
SIM_LAUNCH_ARGUMENTS = ("model_path", "embedded_sim", "camera_topic", "seed", "fastdds_transport")
DEMO_LAUNCH_ARGUMENTS = ("model_path", "seed")
TRANSPORT_VARIABLE = "FASTDDS_BUILTIN_TRANSPORTS"

_TOKEN = r"[A-Za-z_][A-Za-z0-9_]*"
_TOPIC_NAME = re.compile(rf"^(~/|/)?{_TOKEN}(/{_TOKEN})*$")
_NAMESPACE = re.compile(rf"^/?({_TOKEN}(/{_TOKEN})*)?$")
_TRUE, _FALSE = ("true", "1"), ("false", "0")

ParameterLayer = str | dict[str, object]  # a params YAML path or a {name: value} dict, as launch_ros takes them


class LaunchConfigurationError(RuntimeError):
    """A launch argument is invalid or points at something that does not exist."""


@dataclass(frozen=True)
class NodeLaunch:
    """What launch_ros.actions.Node needs for one node: parameter layers (later wins) and remappings."""

    parameters: list[ParameterLayer]
    remappings: list[tuple[str, str]] = field(default_factory=list)

    def overrides(self) -> dict[str, object]:
        """The dict layers merged: the values that launch arguments set over the parameter files."""
        merged: dict[str, object] = {}
        for layer in self.parameters:
            if isinstance(layer, dict):
                merged.update(layer)
        return merged


@dataclass(frozen=True)
class LaunchPlan:
    """Everything one launch file starts. `recorder` / `sim` are None when that process is not started."""

    vla_node: NodeLaunch
    namespace: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    recorder: NodeLaunch | None = None
    sim: NodeLaunch | None = None


def require_params_file(path: str) -> None:
    """launch_ros only warns about a missing parameter file and starts the node anyway: a mistyped config:=
    would then run the robot on default.yaml's placeholder limits. Refuse to launch instead."""
    if not Path(path).is_file():
        raise LaunchConfigurationError(f"params_file {path!r} is not a file (config:=<name> picks "
                                       "config/<name>.yaml; params_file:= takes a path)")


# ----- the three launch files -----
def vla_launch_plan(share_dir: str | Path, arguments: Mapping[str, str]) -> LaunchPlan:
    """vla.launch.py: vla_node on a robot profile (config/default.yaml, then config/<config>.yaml, then
    params_file), optionally with vla_record beside it."""
    args = _exactly(arguments, VLA_LAUNCH_ARGUMENTS, "vla.launch.py")
    config_dir = Path(share_dir) / "config"
    # config:=default layers default.yaml once, not twice.
    files = list(dict.fromkeys([config_dir / "default.yaml", _profile_path(config_dir, args["config"])]))
    if args["params_file"]:
        require_params_file(args["params_file"])
        files.append(Path(args["params_file"]))
    namespace = _namespace(args["namespace"])
    node = node_parameters_and_remaps(files, {name: args[name] for name in NODE_ARGUMENTS}, namespace)
    recorder = None
    if _flag("record", args["record"]):
        if not args["record_dir"]:
            raise LaunchConfigurationError("record:=true with record_dir:='': expected a directory")
        # The recorder reads vla_node's live parameters (cameras, command topic, model) itself: no params file.
        recorder = NodeLaunch([{"output_dir": args["record_dir"],
                                "use_sim_time": node.overrides()["use_sim_time"]}], list(node.remappings))
    return LaunchPlan(node, namespace, _transport(args["fastdds_transport"]), recorder=recorder)


def sim_launch_plan(share_dir: str | Path, arguments: Mapping[str, str]) -> LaunchPlan:
    """sim.launch.py: vla_node on sim time against the embedded sim (vla_sim) or Gazebo."""
    args = _exactly(arguments, SIM_LAUNCH_ARGUMENTS, "sim.launch.py")
    sim_profile = Path(share_dir) / "config" / "sim.yaml"
    node_arguments = {"model_path": args["model_path"], "camera_topic": args["camera_topic"], "use_sim_time": "true"}
    node = node_parameters_and_remaps([Path(share_dir) / "config" / "default.yaml", sim_profile], node_arguments)
    sim = None
    if _flag("embedded_sim", args["embedded_sim"]):
        # The embedded sim publishes one camera; it follows camera_topic so that both ends meet.
        remaps = [(SIM_CAMERA_TOPIC, _camera_topic(node))] if args["camera_topic"] else []
        sim = NodeLaunch([str(sim_profile), {"seed": _seed(args["seed"])}], remaps)
    return LaunchPlan(node, environment=_transport(args["fastdds_transport"]), sim=sim)


def demo_launch_plan(share_dir: str | Path, arguments: Mapping[str, str]) -> LaunchPlan:
    """demo.launch.py: vla_sim + vla_node on sim time, the processes `make demo` runs."""
    args = _exactly(arguments, DEMO_LAUNCH_ARGUMENTS, "demo.launch.py")
    sim_profile = Path(share_dir) / "config" / "sim.yaml"
    node = node_parameters_and_remaps([Path(share_dir) / "config" / "default.yaml", sim_profile],
                                      {"model_path": args["model_path"], "use_sim_time": "true"})
    sim = NodeLaunch([str(sim_profile), {"seed": _seed(args["seed"])}])
    return LaunchPlan(node, environment=_transport("LARGE_DATA"), sim=sim)


# ----- vla_node's parameters and remappings -----
def node_parameters_and_remaps(parameter_files: Sequence[str | Path], arguments: Mapping[str, str],
                               namespace: str = "") -> NodeLaunch:
    """vla_node's parameter layers and remappings for `arguments` (names in NODE_ARGUMENTS; an absent or
    empty one keeps what the files say) over `parameter_files` (later files win, as in launch_ros).

    camera_topic replaces the topic of the profile's camera and keeps its name (the model's input name), so it
    works whatever topic the profile subscribes to; with several cameras it takes NAME=TOPIC[,NAME=TOPIC].
    """
    unknown = sorted(set(arguments) - set(NODE_ARGUMENTS))
    if unknown:
        raise LaunchConfigurationError(f"no vla_node parameter follows the launch arguments {unknown}")
    values = {name: str(arguments.get(name, "")).strip() for name in NODE_ARGUMENTS}
    effective = parameters_from_files(parameter_files, namespace)
    overrides: dict[str, object] = {}
    for name in ("model_path", "backend", "remote_url"):
        if values[name]:
            overrides[name] = values[name]
    for name in ("backend", "remote_url"):
        if values[name]:
            _validate(name, values[name])
    # Always explicit: the recorder has no params file and must follow the same clock as the node.
    overrides["use_sim_time"] = (_flag("use_sim_time", values["use_sim_time"]) if values["use_sim_time"]
                                 else bool(effective.get("use_sim_time", False)))
    if values["camera_topic"]:
        cameras = effective.get("cameras", SCHEMA_BY_NAME["cameras"].default)
        overrides["cameras"] = cameras_with_topics(_strings(cameras), values["camera_topic"])
    remappings = []
    for argument, node_topic in TOPIC_ARGUMENTS.items():
        if values[argument]:
            remappings.append((node_topic, _topic(argument, values[argument])))
    return NodeLaunch([*(str(path) for path in parameter_files), overrides], remappings)


def cameras_with_topics(cameras: list[str], camera_topic: str) -> list[str]:
    """`cameras` (name=topic entries) with the topics that camera_topic gives: a bare topic for the one camera,
    or NAME=TOPIC[,NAME=TOPIC] for named ones. Names stay: they are the model's input names."""
    try:
        specs = parse_cameras(cameras)
    except ConfigError as error:
        raise LaunchConfigurationError(f"the parameter files' cameras: {error}") from None
    topics = {spec.name: spec.topic for spec in specs}
    if "=" not in camera_topic:
        if len(specs) != 1:
            raise LaunchConfigurationError(
                f"camera_topic:={camera_topic}: the parameters name {len(specs)} cameras {list(topics)}; "
                "expected camera_topic:=NAME=TOPIC[,NAME=TOPIC]")
        return [f"{specs[0].name}={_topic('camera_topic', camera_topic)}"]
    for entry in camera_topic.split(","):
        name, _, topic = (part.strip() for part in entry.partition("="))
        if name not in topics:
            raise LaunchConfigurationError(f"camera_topic:={camera_topic}: no camera {name!r} in the parameters "
                                           f"(cameras: {list(topics)})")
        topics[name] = _topic("camera_topic", topic)
    return [f"{name}={topic}" for name, topic in topics.items()]


def parameters_from_files(parameter_files: Sequence[str | Path], namespace: str = "",
                          node_name: str = NODE_NAME) -> dict[str, object]:
    """The flat parameters that `node_name` under `namespace` takes from ROS 2 params files, later files
    winning, with the node-name keys ROS matches (`/**`, `/**/vla_node`, `vla_node`, `/ns/vla_node`, `*`)."""
    node_path = "/".join(["", *[part for part in namespace.split("/") if part], node_name])
    values: dict[str, object] = {}
    for path in parameter_files:
        document = yaml.safe_load(Path(path).read_text()) or {}
        for key, section in document.items():
            if isinstance(section, dict) and _key_matches(str(key), node_path):
                values.update(_flatten(section.get("ros__parameters") or {}))
    return values


def _key_matches(key: str, node_path: str) -> bool:
    """rcl's node-name match of a params-file key: `/**` any number of tokens, `*` one token; a key without a
    leading slash is absolute as well."""
    pattern = key if key.startswith("/") else "/" + key
    regex = "".join(r"(/[^/]+)*" if part == "**" else "/" + re.escape(part).replace(r"\*", "[^/]*")
                    for part in pattern.split("/")[1:])
    return re.fullmatch(regex, node_path) is not None


def _flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ----- argument values -----
def _exactly(arguments: Mapping[str, str], names: Sequence[str], launch_file: str) -> dict[str, str]:
    unknown = sorted(set(arguments) - set(names))
    if unknown:
        raise LaunchConfigurationError(f"{launch_file}: launch arguments {unknown} are declared but nothing uses "
                                       f"them (the plan takes {list(names)})")
    missing = [name for name in names if name not in arguments]
    if missing:
        raise LaunchConfigurationError(f"{launch_file}: launch arguments {missing} are not declared")
    return {name: str(arguments[name]).strip() for name in names}


def _profile_path(config_dir: Path, config: str) -> Path:
    path = config_dir / f"{config}.yaml"
    if not config or "/" in config or not path.is_file():
        shipped = sorted(p.stem for p in config_dir.glob("*.yaml"))
        raise LaunchConfigurationError(f"config:={config}: no config/{config}.yaml (profiles: {shipped}; "
                                       "params_file:= takes a path to your own YAML)")
    return path


def _flag(argument: str, value: str) -> bool:
    """The words launch's IfCondition accepts, refused otherwise (a typo must not mean false)."""
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise LaunchConfigurationError(f"{argument}:={value}: expected true or false")


def _topic(argument: str, topic: str) -> str:
    if not _TOPIC_NAME.match(topic):
        raise LaunchConfigurationError(f"{argument}:={topic}: not a valid ROS topic name")
    return topic


def _namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace):
        raise LaunchConfigurationError(f"namespace:={namespace}: not a valid ROS namespace")
    return namespace


def _validate(name: str, value: object) -> None:
    try:
        validate_value(SCHEMA_BY_NAME[name], value)
    except ConfigError as error:
        raise LaunchConfigurationError(f"{name}:={value}: {error}") from None


def _seed(seed: str) -> int:
    try:
        return int(seed)
    except ValueError:
        raise LaunchConfigurationError(f"seed:={seed}: expected an integer") from None


def _transport(value: str) -> dict[str, str]:
    """Empty leaves FASTDDS_BUILTIN_TRANSPORTS as the environment has it."""
    return {TRANSPORT_VARIABLE: value} if value else {}


def _camera_topic(node: NodeLaunch) -> str:
    """The topic of vla_node's first camera after the launch arguments (the one the embedded sim renders)."""
    return parse_cameras(_strings(node.overrides()["cameras"]))[0].topic


def _strings(values: object) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise LaunchConfigurationError(f"cameras={values!r}: expected a list of name=topic")
    return [str(value) for value in values]
