"""vla_node behaviour through real ROS processes: instructions, bad input, e-stop, hold and reset.

One node process serves the whole module (starting one costs seconds); each test leaves it holding with no
instruction, e-stop released and re-armed.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Bool, String

from ros_harness import JOINTS, NodeProcess, RobotStub, wait_until

RATE_HZ = 50.0
HOME = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])


@pytest.fixture(scope="module")
def rig(joint_model):
    robot = RobotStub("joint_position", camera_rate_hz=20.0)
    robot.positions = HOME.copy()
    node = NodeProcess({
        "model_path": str(joint_model),
        "command_interface": "joint_position",
        "control_rate_hz": RATE_HZ,
        "joint_names": JOINTS,
        "safety.image_timeout": 0.5,
        "safety.state_timeout": 0.3,
        "safety.inference_timeout": 3.0,
        # Recovery from short holds is what these tests look at; a slow machine must not turn one into a
        # dropped instruction (test_rearm_and_heartbeat.py covers the limit).
        "safety.auto_resume_max_s": 30.0,
    })
    try:
        robot.wait_for_node()
        robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 30, "hold without instruction")
        yield robot, node
    finally:
        if not node.alive():
            print(node.log())
        robot.close()
        node.stop()


@pytest.fixture
def fresh(rig):
    robot, node = rig
    yield robot, node
    # Leave the node as the next test expects it: inputs flowing, no instruction, not latched.
    robot.publish_images = True
    robot.publish_states = True
    robot.positions = HOME.copy()
    robot.estop_pub.publish(Bool(data=False))
    robot.instruct("")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and robot.received.last_status().get("state") != "HOLD_NO_INSTRUCTION":
        robot.call(robot.reset_client)
        time.sleep(0.05)
    assert node.alive(), node.log()


def _run(robot: RobotStub, text: str = "pick up the red block") -> None:
    robot.instruct(text)
    robot.wait_for_status(lambda s: s.get("state") == "RUNNING" and s.get("instruction") == text, 15, "RUNNING")


def _last_command(robot: RobotStub) -> np.ndarray:
    return np.array(robot.received.commands[-1][1].data)


def _commands_after(robot: RobotStub, t0: float) -> np.ndarray:
    return np.array([list(m.data) for m in robot.received.commands_since(t0)])


def test_when_no_instruction_expect_hold_at_measured_position(fresh) -> None:
    robot, _ = fresh
    t0 = time.monotonic()
    wait_until(lambda: len(robot.received.commands_since(t0)) >= 5, 5, "hold commands")
    np.testing.assert_allclose(_commands_after(robot, t0), np.tile(HOME, (len(_commands_after(robot, t0)), 1)),
                               atol=1e-9)


def test_when_instruction_given_expect_running_and_motion_within_limits(fresh) -> None:
    robot, _ = fresh
    _run(robot)
    t0 = time.monotonic()
    wait_until(lambda: len(robot.received.commands_since(t0)) >= 20, 5, "running commands")
    commands = _commands_after(robot, t0)
    assert np.all(np.isfinite(commands))
    # S6: no step further than max_delta (default 0.05 rad) from the measured state.
    assert np.max(np.abs(commands - HOME)) <= 0.05 + 1e-9
    # RUNNING can come before the first chunk (nothing is late yet), and the status goes out at status_rate_hz
    # and on state changes, not per chunk: wait for one that counts an inference rather than read the last.
    robot.wait_for_status(lambda s: s.get("inferences", 0) > 0, 5, "a status counting an inference")


def test_when_empty_instruction_expect_stop_and_hold_at_measured(fresh) -> None:
    robot, _ = fresh
    _run(robot)
    robot.instruct("")
    status = robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 5, "stop")
    assert status["instruction"] == ""
    t0 = time.monotonic()
    wait_until(lambda: len(robot.received.commands_since(t0)) >= 3, 5, "hold commands")
    np.testing.assert_allclose(_last_command(robot), HOME, atol=1e-9)


def test_when_instruction_changes_expect_new_instruction_reported(fresh) -> None:
    robot, _ = fresh
    _run(robot, "touch the red cube")
    first_id = robot.received.last_status()["instruction_id"]
    _run(robot, "push the blue block to the left")
    assert robot.received.last_status()["instruction_id"] > first_id


def test_when_instruction_is_one_megabyte_expect_rejected_with_reason(fresh) -> None:
    robot, _ = fresh
    _run(robot, "touch the red cube")
    robot.instruct("x" * 1_000_000)
    status = robot.wait_for_status(lambda s: "instruction rejected" in s.get("last_rejection", ""), 10, "rejection")
    assert "1000000" in status["last_rejection"]
    assert status["state"] == "RUNNING"
    assert status["instruction"] == "touch the red cube"  # the previous instruction stays in force


def test_when_instruction_not_utf8_expect_rejected_with_reason(fresh) -> None:
    robot, _ = fresh
    _run(robot, "touch the red cube")
    good = serialize_message(String(data="ab"))
    robot.instruction_pub.publish(good[:8] + b"\xff\xfe" + good[10:])
    status = robot.wait_for_status(lambda s: "instruction rejected" in s.get("last_rejection", ""), 10, "rejection")
    assert "UTF-8" in status["last_rejection"]
    assert status["instruction"] == "touch the red cube"


def _image(robot: RobotStub, **overrides) -> Image:
    msg = robot.make_image()
    for key, value in overrides.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize(
    ("overrides", "reason_part"),
    [
        ({"encoding": "yuv422"}, "unsupported image encoding"),
        ({"data": bytes(100)}, "data length 100"),
        ({"height": 64, "width": 64, "step": 64 * 3, "data": bytes(64 * 64 * 3)}, "model expects"),
    ],
    ids=["unsupported-encoding", "length-mismatch", "wrong-size"],
)
def test_when_image_bad_expect_hold_with_reason_and_no_inference(fresh, overrides, reason_part) -> None:
    robot, _ = fresh
    _run(robot)
    robot.publish_images = False
    inferences = None
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        robot.image_pub.publish(_image(robot, **overrides))
        status = robot.received.last_status()
        if status.get("state") == "HOLD_STALE_IMAGE" and reason_part in status.get("reason", ""):
            inferences = status["inferences"]
            break
        time.sleep(0.05)
    assert inferences is not None, f"no hold naming {reason_part!r}: {robot.received.last_status()}"
    for _ in range(20):  # more bad frames: none may reach the model
        robot.image_pub.publish(_image(robot, **overrides))
        time.sleep(0.02)
    assert robot.received.last_status()["inferences"] == inferences
    np.testing.assert_allclose(_last_command(robot), HOME, atol=1e-9)


def test_when_compressed_image_garbage_expect_reason_in_status(rig, joint_model, tmp_path) -> None:
    """A second node subscribed to the compressed topic reports undecodable frames."""
    robot, _ = rig
    node = NodeProcess({"model_path": str(joint_model), "command_interface": "joint_position",
                        "cameras": ["front=/camera/image_raw/compressed"], "control_rate_hz": RATE_HZ},
                       extra_args=["-r", "__node:=vla_node_compressed", "-r", "/vla/status:=/vla/status_compressed"])
    statuses: list[str] = []
    sub = robot.node.create_subscription(String, "/vla/status_compressed", lambda m: statuses.append(m.data), 10)
    try:
        wait_until(lambda: robot.compressed_pub.get_subscription_count() > 0, 30, "compressed subscriber")
        robot.instruct("touch the red cube")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("could not be decoded" in s for s in statuses):
            msg = CompressedImage(format="jpeg", data=b"definitely not a jpeg")
            robot.compressed_pub.publish(msg)
            time.sleep(0.05)
        assert any("could not be decoded" in s for s in statuses), statuses[-1:] or node.log()
    finally:
        robot.node.destroy_subscription(sub)
        node.stop()


@pytest.mark.parametrize(
    ("names", "positions", "reason_part"),
    [
        (JOINTS[:-1], HOME[:-1].tolist(), "missing joints"),
        ([*JOINTS, "joint_1"], [*HOME.tolist(), 0.0], "duplicated joint names"),
        (JOINTS, [*HOME[:-1].tolist(), float("nan")], "non-finite"),
    ],
    ids=["missing", "duplicated", "nan"],
)
def test_when_joint_state_bad_expect_hold_with_reason(fresh, names, positions, reason_part) -> None:
    robot, _ = fresh
    _run(robot)
    robot.publish_states = False
    deadline = time.monotonic() + 5.0
    status: dict = {}
    while time.monotonic() < deadline:
        robot.state_pub.publish(JointState(name=list(names), position=list(positions)))
        status = robot.received.last_status()
        if status.get("state") != "RUNNING" and reason_part in status.get("reason", ""):
            break
        time.sleep(0.02)
    assert reason_part in status.get("reason", ""), status
    t0 = time.monotonic()
    wait_until(lambda: len(robot.received.commands_since(t0)) >= 3, 5, "commands while holding")
    commands = _commands_after(robot, t0)
    assert np.all(np.isfinite(commands))
    # Held at the last good measured state, never at a value taken from the bad message.
    np.testing.assert_allclose(commands[-1], HOME, atol=1e-9)


def test_when_joint_state_has_extra_joints_expect_running(fresh) -> None:
    robot, _ = fresh
    robot.joints = [*JOINTS, "gripper_finger"]
    robot.positions = np.append(HOME, 0.02)
    try:
        _run(robot)
    finally:
        robot.joints = list(JOINTS)
        robot.positions = HOME.copy()


def test_when_estop_expect_latched_until_released_and_reset(fresh) -> None:
    robot, _ = fresh
    _run(robot)
    robot.estop_pub.publish(Bool(data=True))
    robot.wait_for_status(lambda s: s.get("state") == "ESTOP", 2, "ESTOP")
    refused = robot.call(robot.reset_client)
    assert not refused.success and "e-stop" in refused.message.lower()
    robot.estop_pub.publish(Bool(data=False))
    time.sleep(0.3)  # give a wrongly unlatched node the chance to resume
    assert robot.received.last_status()["state"] == "ESTOP"
    accepted = robot.call(robot.reset_client)
    assert accepted.success, accepted.message
    # Re-arming never restarts motion by itself (S15): the node waits for a new instruction.
    status = robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 5, "hold after reset")
    assert "re-armed" in status["reason"] and status["instruction"] == ""
    time.sleep(0.3)  # give a node that restarts by itself the chance to
    assert robot.received.last_status()["state"] == "HOLD_NO_INSTRUCTION"
    _run(robot)


def test_when_hold_service_called_expect_hold_until_new_instruction(fresh) -> None:
    robot, _ = fresh
    _run(robot)
    response = robot.call(robot.hold_client)
    assert response.success
    robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 2, "hold")
    _run(robot, "touch the green sphere")


def test_when_camera_stops_expect_stale_image_hold_then_recovery(fresh) -> None:
    robot, _ = fresh
    _run(robot)
    robot.publish_images = False
    robot.wait_for_status(lambda s: s.get("state") == "HOLD_STALE_IMAGE", 3, "HOLD_STALE_IMAGE")
    robot.publish_images = True
    robot.wait_for_status(lambda s: s.get("state") == "RUNNING", 10, "recovery when images return")


def test_status_is_latched_for_late_joiners(rig) -> None:
    robot, _ = rig
    late: list[str] = []
    from vla_ros.ros.qos import RELIABLE_LATCHED

    sub = robot.node.create_subscription(String, "/vla/status", lambda m: late.append(m.data), RELIABLE_LATCHED)
    try:
        wait_until(lambda: bool(late), 10, "latched status")
    finally:
        robot.node.destroy_subscription(sub)


def _call(robot: RobotStub, client, request):
    wait_until(client.service_is_ready, 10, f"service {client.srv_name}")
    future = client.call_async(request)
    wait_until(future.done, 10, f"response of {client.srv_name}")
    return future.result()


def test_every_schema_parameter_is_described_with_type_range_and_read_only(rig) -> None:
    from rcl_interfaces.srv import DescribeParameters

    from vla_ros.core.parameters import SCHEMA

    robot, _ = rig
    client = robot.node.create_client(DescribeParameters, "/vla_node/describe_parameters")
    response = _call(robot, client, DescribeParameters.Request(names=[spec.name for spec in SCHEMA]))
    described = {d.name: d for d in response.descriptors}
    for spec in SCHEMA:
        descriptor = described[spec.name]
        assert descriptor.description.startswith(spec.description), spec.name
        assert descriptor.read_only == spec.read_only, spec.name
        if spec.min_value is not None and spec.kind is float:
            assert descriptor.floating_point_range[0].from_value == spec.min_value, spec.name
        if spec.min_value is not None and spec.kind is int:
            assert descriptor.integer_range[0].to_value == spec.max_value, spec.name


def test_when_setting_parameters_live_expect_read_only_and_range_enforced(rig) -> None:
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    robot, _ = rig
    client = robot.node.create_client(SetParameters, "/vla_node/set_parameters")

    def set_double(name: str, value: float):
        parameter = Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                                               double_value=value))
        return _call(robot, client, SetParameters.Request(parameters=[parameter])).results[0]

    assert not set_double("control_rate_hz", 10.0).successful  # read_only: unsafe to change live
    assert not set_double("safety.max_ee_speed", 2.0).successful
    assert not set_double("status_rate_hz", 500.0).successful  # out of its declared range
    assert set_double("status_rate_hz", 4.0).successful
