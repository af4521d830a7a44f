"""Every launch argument does what its description says, with every shipped profile.

The launch files hand their arguments to vla_ros.ros.launch_support (upstream `launch` cannot be installed
here); these tests call the same plan functions with the defaults the launch files declare, read from their
source, and check what vla_node, vla_record and vla_sim would get. What vla_node sees is computed
independently of launch_support: its params files read with vla_ros.core.parameters.load_params_file, then
the launch arguments' overrides.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from vla_ros.core.parameters import load_params_file, parse_cameras
from vla_ros.ros import launch_support
from vla_ros.ros.launch_support import (
    LaunchConfigurationError,
    LaunchPlan,
    NodeLaunch,
    demo_launch_plan,
    node_parameters_and_remaps,
    sim_launch_plan,
    vla_launch_plan,
)

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
PROFILES = ("default", "ur5e", "fr3", "sim")
PLANS: dict[str, Callable[..., LaunchPlan]] = {
    "vla.launch.py": vla_launch_plan, "sim.launch.py": sim_launch_plan, "demo.launch.py": demo_launch_plan}


def _declared(launch_file: str) -> dict[str, str]:
    """{name: default} of the launch file's ARGUMENTS table, read from its source."""
    tree = ast.parse((REPO / "launch" / launch_file).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            return {name: default for name, default, _ in ast.literal_eval(node.value)}
    raise AssertionError(f"{launch_file}: no ARGUMENTS table")


def _plan(launch_file: str, **arguments: str) -> LaunchPlan:
    return PLANS[launch_file](REPO, {**_declared(launch_file), **arguments})


def _vla(**arguments: str) -> LaunchPlan:
    return _plan("vla.launch.py", **arguments)


def _node_sees(node: NodeLaunch, node_name: str = "vla_node") -> dict[str, object]:
    """The parameters the node would have from these layers (later wins, as in launch_ros)."""
    values: dict[str, object] = {}
    for layer in node.parameters:
        values.update(load_params_file(Path(layer), node_name) if isinstance(layer, str) else layer)
    return values


def _profile(name: str) -> dict[str, object]:
    return {**load_params_file(REPO / "config" / "default.yaml"), **load_params_file(REPO / "config" / f"{name}.yaml")}


def _params_file(tmp_path: Path, parameters: dict[str, object], key: str = "/**/vla_node") -> str:
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump({key: {"ros__parameters": parameters}}))
    return str(path)


# ----- vla.launch.py: one check per argument, run with every profile -----
def _check_model_path(profile: str, tmp_path: Path) -> None:
    assert _node_sees(_vla(config=profile, model_path="/models/x").vla_node)["model_path"] == "/models/x"


def _check_config(profile: str, tmp_path: Path) -> None:
    sees = _node_sees(_vla(config=profile).vla_node)
    for name in ("joint_names", "cameras", "command_topic", "control_rate_hz", "joint_limits.upper"):
        assert sees[name] == _profile(profile)[name], name


def _check_params_file(profile: str, tmp_path: Path) -> None:
    """Applied over the profile: what it sets wins, what it leaves out stays the profile's."""
    plan = _vla(config=profile, params_file=_params_file(tmp_path, {"control_rate_hz": 33.0}))
    sees = _node_sees(plan.vla_node)
    assert sees["control_rate_hz"] == 33.0
    assert sees["joint_names"] == _profile(profile)["joint_names"]


def _check_namespace(profile: str, tmp_path: Path) -> None:
    plan = _vla(config=profile, namespace="arm", record="true")
    assert plan.namespace == "arm"
    assert plan.recorder is not None
    # No remap pins the node's relative topics to global names: they move under /arm with the namespace.
    assert plan.vla_node.remappings == plan.recorder.remappings == []
    assert _node_sees(plan.vla_node)["joint_names"] == _profile(profile)["joint_names"]


def _check_backend(profile: str, tmp_path: Path) -> None:
    assert _node_sees(_vla(config=profile, backend="torch").vla_node)["backend"] == "torch"


def _check_remote_url(profile: str, tmp_path: Path) -> None:
    url = "wss://policy.example:8000"
    assert _node_sees(_vla(config=profile, backend="remote", remote_url=url).vla_node)["remote_url"] == url


def _check_use_sim_time(profile: str, tmp_path: Path) -> None:
    for word, expected in (("true", True), ("false", False), ("True", True), ("0", False)):
        plan = _vla(config=profile, use_sim_time=word, record="true")
        assert plan.recorder is not None
        assert _node_sees(plan.vla_node)["use_sim_time"] is expected
        assert _node_sees(plan.recorder)["use_sim_time"] is expected


def _check_camera_topic(profile: str, tmp_path: Path) -> None:
    """The profile's camera, whatever topic it had, now on /my/cam, under its own (the model's) name."""
    (camera,) = parse_cameras(list(_profile(profile)["cameras"]))  # type: ignore[arg-type]
    assert camera.topic != "/my/cam"
    assert _node_sees(_vla(config=profile, camera_topic="/my/cam").vla_node)["cameras"] == [f"{camera.name}=/my/cam"]
    named = _vla(config=profile, camera_topic=f"{camera.name}=/named/cam")
    assert _node_sees(named.vla_node)["cameras"] == [f"{camera.name}=/named/cam"]


def _check_joint_states_topic(profile: str, tmp_path: Path) -> None:
    plan = _vla(config=profile, joint_states_topic="/robot/joint_states", record="true")
    assert plan.recorder is not None
    assert ("joint_states", "/robot/joint_states") in plan.vla_node.remappings
    assert plan.recorder.remappings == plan.vla_node.remappings


def _check_instruction_topic(profile: str, tmp_path: Path) -> None:
    plan = _vla(config=profile, instruction_topic="/operator/instruction", record="true")
    assert plan.recorder is not None
    assert ("vla/instruction", "/operator/instruction") in plan.vla_node.remappings
    assert plan.recorder.remappings == plan.vla_node.remappings


def _check_record(profile: str, tmp_path: Path) -> None:
    assert _vla(config=profile, record="false").recorder is None
    recorder = _vla(config=profile, record="true").recorder
    assert recorder is not None
    assert _node_sees(recorder) == {"output_dir": "recordings",
                                    "use_sim_time": bool(_profile(profile).get("use_sim_time", False))}


def _check_record_dir(profile: str, tmp_path: Path) -> None:
    recorder = _vla(config=profile, record="true", record_dir=str(tmp_path / "episodes")).recorder
    assert recorder is not None
    assert _node_sees(recorder)["output_dir"] == str(tmp_path / "episodes")


def _check_fastdds_transport(profile: str, tmp_path: Path) -> None:
    assert _vla(config=profile, fastdds_transport="UDPv4").environment == {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}
    assert _vla(config=profile, fastdds_transport="").environment == {}


VLA_CHECKS: dict[str, Callable[[str, Path], None]] = {
    name.removeprefix("_check_"): check for name, check in globals().items() if name.startswith("_check_")}


def test_when_vla_launch_argument_added_expect_a_check_for_it() -> None:
    assert set(VLA_CHECKS) == set(_declared("vla.launch.py"))


@pytest.mark.parametrize("argument", sorted(VLA_CHECKS))
@pytest.mark.parametrize("profile", PROFILES)
def test_when_vla_launch_argument_given_expect_it_reaches_the_nodes(profile: str, argument: str,
                                                                    tmp_path: Path) -> None:
    VLA_CHECKS[argument](profile, tmp_path)


@pytest.mark.parametrize("profile", PROFILES)
def test_when_vla_launch_defaults_expect_profile_as_is(profile: str) -> None:
    plan = _vla(config=profile)
    expected = {**_profile(profile), "use_sim_time": bool(_profile(profile).get("use_sim_time", False))}
    assert _node_sees(plan.vla_node) == expected
    assert plan.vla_node.remappings == []
    assert (plan.namespace, plan.recorder, plan.sim) == ("", None, None)
    assert plan.environment == {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}
    assert _node_sees(plan.vla_node)["use_sim_time"] is (profile == "sim")


def test_when_params_file_keys_the_namespaced_node_expect_its_cameras_used(tmp_path: Path) -> None:
    params_file = _params_file(tmp_path, {"cameras": ["wrist=/wrist/image"]}, key="/arm/vla_node")
    under_arm = _vla(config="ur5e", params_file=params_file, namespace="arm", camera_topic="/my/cam")
    assert under_arm.vla_node.overrides()["cameras"] == ["wrist=/my/cam"]
    without_namespace = _vla(config="ur5e", params_file=params_file, camera_topic="/my/cam")
    assert without_namespace.vla_node.overrides()["cameras"] == ["front=/my/cam"]


def test_when_several_cameras_expect_named_topics_replaced(tmp_path: Path) -> None:
    params_file = _params_file(tmp_path, {"cameras": ["front=/cam/front", "wrist=/cam/wrist"]})
    plan = _vla(config="fr3", params_file=params_file, camera_topic="wrist=/my/wrist")
    assert _node_sees(plan.vla_node)["cameras"] == ["front=/cam/front", "wrist=/my/wrist"]
    with pytest.raises(LaunchConfigurationError, match=r"name 2 cameras \['front', 'wrist'\]"):
        _vla(config="fr3", params_file=params_file, camera_topic="/my/cam")
    with pytest.raises(LaunchConfigurationError, match="no camera 'top'"):
        _vla(config="fr3", params_file=params_file, camera_topic="top=/my/top")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"config": "ur5"}, r"config:=ur5: no config/ur5\.yaml \(profiles: \['default', 'fr3', 'sim', 'ur5e'\]"),
    ({"config": ""}, "config:=: no config/.yaml"),
    ({"params_file": "/no/such/robot.yaml"}, r"config:=<name> picks config/<name>\.yaml"),
    ({"use_sim_time": "yes"}, "use_sim_time:=yes: expected true or false"),
    ({"record": "on"}, "record:=on: expected true or false"),
    ({"record": "true", "record_dir": ""}, "record_dir:=''"),
    ({"backend": "jax"}, "backend:=jax"),
    ({"camera_topic": "my cam"}, "camera_topic:=my cam: not a valid ROS topic name"),
    ({"joint_states_topic": "/js/"}, "joint_states_topic:=/js/: not a valid ROS topic name"),
    ({"instruction_topic": "1st"}, "instruction_topic:=1st: not a valid ROS topic name"),
    ({"namespace": "my arm"}, "namespace:=my arm: not a valid ROS namespace"),
])
def test_when_vla_launch_argument_invalid_expect_launch_refused(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(LaunchConfigurationError, match=message):
        _vla(**arguments)


# ----- sim.launch.py and demo.launch.py (config/sim.yaml over default.yaml) -----
def test_when_sim_launch_defaults_expect_embedded_sim_on_sim_time() -> None:
    plan = _plan("sim.launch.py")
    assert _node_sees(plan.vla_node) == {**_profile("sim"), "model_path": "sim_act", "use_sim_time": True}
    assert plan.sim is not None and plan.sim.remappings == []
    assert _node_sees(plan.sim, "vla_sim")["seed"] == 0
    assert plan.environment == {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}


@pytest.mark.parametrize("embedded_sim", ["true", "false"])
def test_when_sim_launch_arguments_given_expect_them_in_the_nodes(embedded_sim: str) -> None:
    plan = _plan("sim.launch.py", embedded_sim=embedded_sim, model_path="/models/x", camera_topic="/gz/camera",
                 seed="7", fastdds_transport="UDPv4")
    assert _node_sees(plan.vla_node)["model_path"] == "/models/x"
    assert _node_sees(plan.vla_node)["cameras"] == ["front=/gz/camera"]
    assert plan.environment == {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}
    if embedded_sim == "false":
        assert plan.sim is None
        return
    assert plan.sim is not None
    assert _node_sees(plan.sim, "vla_sim")["seed"] == 7
    assert _node_sees(plan.sim, "vla_sim")["image_width"] == 96  # sim.yaml's vla_sim section still applies
    # The embedded sim publishes its camera where vla_node now listens.
    assert plan.sim.remappings == [("/camera/image_raw", "/gz/camera")]


def test_when_demo_launch_arguments_given_expect_them_in_the_nodes() -> None:
    default = _plan("demo.launch.py")
    assert _node_sees(default.vla_node) == {**_profile("sim"), "model_path": "sim_act", "use_sim_time": True}
    assert default.environment == {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}
    plan = _plan("demo.launch.py", model_path="/models/x", seed="3")
    assert _node_sees(plan.vla_node)["model_path"] == "/models/x"
    assert plan.sim is not None and _node_sees(plan.sim, "vla_sim")["seed"] == 3


@pytest.mark.parametrize(("launch_file", "arguments", "message"), [
    ("sim.launch.py", {"seed": "x"}, "seed:=x: expected an integer"),
    ("demo.launch.py", {"seed": "1.5"}, "seed:=1.5: expected an integer"),
    ("sim.launch.py", {"embedded_sim": "gazebo"}, "embedded_sim:=gazebo: expected true or false"),
])
def test_when_sim_argument_invalid_expect_launch_refused(launch_file: str, arguments: dict[str, str],
                                                          message: str) -> None:
    with pytest.raises(LaunchConfigurationError, match=message):
        _plan(launch_file, **arguments)


def test_when_node_arguments_unknown_expect_refused() -> None:
    with pytest.raises(LaunchConfigurationError, match=r"\['camera'\]"):
        node_parameters_and_remaps([REPO / "config" / "default.yaml"], {"camera": "/x"})


# ----- nothing declared can be silently ignored -----
# A non-default value per argument, and what it needs to take effect (record_dir only matters when recording).
SAMPLES: dict[str, tuple[dict[str, str], str]] = {
    "model_path": ({}, "/models/other"), "config": ({}, "fr3"), "params_file": ({}, "PARAMS_FILE"),
    "namespace": ({}, "arm"), "backend": ({}, "onnxruntime"), "use_sim_time": ({}, "true"),
    "remote_url": ({}, "ws://127.0.0.1:8000"),
    "camera_topic": ({}, "/my/cam"), "joint_states_topic": ({}, "/js"), "instruction_topic": ({}, "/say"),
    "record": ({}, "true"), "record_dir": ({"record": "true"}, "/tmp/episodes"),
    "fastdds_transport": ({}, "SHM"), "embedded_sim": ({}, "false"), "seed": ({}, "5"),
}


def _launch_file_ids(path: Path) -> str:
    return path.name


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=_launch_file_ids)
def test_when_launch_argument_declared_expect_every_one_handed_to_the_plan(path: Path) -> None:
    """From the source: every DeclareLaunchArgument comes from ARGUMENTS, every ARGUMENTS entry goes to the
    plan function, and every Node takes its parameters and remappings from the plan."""
    tree = ast.parse(path.read_text())
    comprehensions = [n for n in ast.walk(tree) if isinstance(n, (ast.ListComp, ast.DictComp))]

    def over_arguments(call: ast.Call) -> bool:
        return any(call in ast.walk(c) and getattr(c.generators[0].iter, "id", "") == "ARGUMENTS"
                   and ast.unparse(call.args[0]) == ast.unparse(c.generators[0].target.elts[0])  # type: ignore[attr-defined]
                   for c in comprehensions if call.args)

    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    declarations = [c for c in calls if getattr(c.func, "id", "") == "DeclareLaunchArgument"]
    assert declarations and all(over_arguments(c) for c in declarations), \
        "declare launch arguments only in ARGUMENTS, so that each one reaches the plan"
    plan_calls = [c for c in calls if getattr(c.func, "id", "").endswith("_launch_plan")]
    assert [c.func.id for c in plan_calls] == [PLANS[path.name].__name__]  # type: ignore[attr-defined]
    (handed,) = plan_calls[0].args[1:]
    assert isinstance(handed, ast.DictComp) and getattr(handed.generators[0].iter, "id", "") == "ARGUMENTS"
    assert ast.unparse(handed.value) == "LaunchConfiguration(name).perform(context)"
    for node in (c for c in calls if getattr(c.func, "id", "") == "Node"):
        keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
        assert keywords["parameters"].startswith("plan.") and keywords["parameters"].endswith(".parameters")
        assert keywords["remappings"] == keywords["parameters"].replace(".parameters", ".remappings")


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=_launch_file_ids)
def test_when_launch_argument_declared_expect_the_plan_uses_it(path: Path, tmp_path: Path) -> None:
    """The plan refuses names it does not use, and each declared argument changes what is started."""
    declared = _declared(path.name)
    plan = PLANS[path.name]
    with pytest.raises(LaunchConfigurationError, match=r"\['not_declared'\] are declared but nothing uses them"):
        plan(REPO, {**declared, "not_declared": "x"})
    params_file = _params_file(tmp_path, {"control_rate_hz": 33.0})
    for name in declared:
        assert name in SAMPLES, f"add a non-default sample value for the new argument {name!r}"
        context, sample = SAMPLES[name]
        sample = params_file if sample == "PARAMS_FILE" else sample
        assert sample != declared[name]
        baseline = plan(REPO, {**declared, **context})
        assert plan(REPO, {**declared, **context, name: sample}) != baseline, f"{name}:={sample} changed nothing"
        with pytest.raises(LaunchConfigurationError, match=rf"\['{name}'\] are not declared"):
            plan(REPO, {k: v for k, v in declared.items() if k != name})


def test_when_launch_support_imported_expect_no_ros_launch_needed() -> None:
    source = Path(launch_support.__file__).read_text()
    assert "import launch" not in source and "from launch" not in source
