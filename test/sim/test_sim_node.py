"""`vla_sim` as a real ROS 2 process: stamped images, joint states, /clock, commands, episode reset."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

JOINTS = ["joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6", "gripper"]


@pytest.fixture(scope="module")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen]:
    # Output goes to a file, not a pipe nobody drains (a full pipe would block the node).
    log = (tmp_path_factory.mktemp("vla_sim") / "vla_sim.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "vla_ros.sim.node", "--ros-args", "-p", "image_width:=96", "-p",
         "image_height:=72", "-p", "camera_rate_hz:=20.0", "-p", "seed:=4"],
        stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log = log  # type: ignore[attr-defined]
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture(scope="module")
def probe(sim_process: subprocess.Popen) -> Iterator[Node]:
    owns_context = not rclpy.ok()  # other test modules in this process may have initialised rclpy already
    if owns_context:
        rclpy.init()
    node = Node("sim_node_test_probe")
    yield node
    node.destroy_node()
    if owns_context:
        rclpy.shutdown()


def spin_until(node: Node, condition: Callable[[], bool], timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            process.log.seek(0)  # type: ignore[attr-defined]
            output = process.log.read()  # type: ignore[attr-defined]
            raise AssertionError(f"vla_sim exited with {process.returncode}:\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        rclpy.spin_once(node, timeout_sec=0.05)


def wait_for_more(node: Node, messages: list, count: int, process: subprocess.Popen) -> None:
    target = len(messages) + count
    spin_until(node, lambda: len(messages) >= target, 10.0, process)


def test_when_sim_node_runs_expect_stamped_streams_and_position_commands_obeyed(
        probe: Node, sim_process: subprocess.Popen) -> None:
    images: list[Image] = []
    states: list[JointState] = []
    clocks: list[Clock] = []
    image_sub = probe.create_subscription(Image, "/camera/image_raw", images.append, qos_profile_sensor_data)
    state_sub = probe.create_subscription(JointState, "/joint_states", states.append, 10)
    clock_sub = probe.create_subscription(Clock, "/clock", clocks.append,
                                          QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    command_pub = probe.create_publisher(Float64MultiArray, "/forward_position_controller/commands", 10)
    subscriptions = (image_sub, state_sub, clock_sub)
    spin_until(probe, lambda: all(s.get_publisher_count() > 0 for s in subscriptions)
               and command_pub.get_subscription_count() > 0, 60.0, sim_process)

    spin_until(probe, lambda: len(images) >= 3 and len(states) >= 10 and len(clocks) >= 5, 30.0, sim_process)
    image = images[-1]
    assert (image.encoding, image.width, image.height, image.step) == ("rgb8", 96, 72, 96 * 3)
    pixels = np.frombuffer(bytes(image.data), dtype=np.uint8).reshape(72, 96, 3)
    assert pixels.std() > 5.0
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in images]
    assert stamps[-1] > stamps[0] > 0.0
    # Published at the configured rate in sim time (20 Hz; best effort may drop a frame, hence the median).
    assert float(np.median(np.diff(stamps))) == pytest.approx(0.05, abs=0.002)
    state_stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in states]
    assert float(np.median(np.diff(state_stamps))) == pytest.approx(0.01, abs=0.001)
    assert list(states[-1].name) == JOINTS
    assert states[-1].header.stamp.sec + states[-1].header.stamp.nanosec > 0
    clock_now = clocks[-1].clock.sec + clocks[-1].clock.nanosec * 1e-9
    assert abs(clock_now - stamps[-1]) < 1.0  # images are stamped with sim time

    start = np.array(states[-1].position)
    target = start.copy()
    target[0] += 0.4
    target[5] -= 0.3
    command_pub.publish(Float64MultiArray(data=target.tolist()))

    def reached() -> bool:
        return bool(np.max(np.abs(np.array(states[-1].position) - target)) < 0.02)

    spin_until(probe, reached, 20.0, sim_process)


def test_when_reset_service_called_expect_next_seeded_episode_published(probe: Node,
                                                                       sim_process: subprocess.Popen) -> None:
    episodes: list[dict] = []
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    probe.create_subscription(String, "/sim/episode", lambda m: episodes.append(json.loads(m.data)), latched)
    client = probe.create_client(Trigger, "/vla_sim/reset_episode")
    spin_until(probe, lambda: client.service_is_ready() and len(episodes) > 0, 60.0, sim_process)
    first = episodes[-1]
    assert {"episode_id", "task", "instruction", "success", "elapsed", "seed"} <= set(first)

    future = client.call_async(Trigger.Request())
    spin_until(probe, future.done, 20.0, sim_process)
    response = future.result()
    assert response.success
    new = json.loads(response.message)
    assert new["seed"] == first["seed"] + 1
    spin_until(probe, lambda: episodes[-1]["episode_id"] == new["episode_id"], 20.0, sim_process)
    assert episodes[-1]["instruction"] == new["instruction"]


def test_when_twist_commands_streamed_expect_arm_moves_then_holds_after_they_stop(
        probe: Node, sim_process: subprocess.Popen) -> None:
    states: list[JointState] = []
    probe.create_subscription(JointState, "/joint_states", states.append, 10)
    twist_pub = probe.create_publisher(TwistStamped, "/servo_node/delta_twist_cmds", 10)
    spin_until(probe, lambda: twist_pub.get_subscription_count() > 0 and len(states) > 0, 60.0, sim_process)
    start = np.array(states[-1].position)
    twist = TwistStamped()
    twist.header.frame_id = "base_link"
    twist.twist.linear.y = 0.1  # the base yaws left to move the tool along +y
    deadline = time.monotonic() + 30.0
    while np.abs(np.array(states[-1].position) - start).max() < 0.05:
        assert time.monotonic() < deadline, "the arm did not move under twist commands"
        twist_pub.publish(twist)
        wait_for_more(probe, states, 5, sim_process)  # 5 state messages: a ~20 Hz command stream
    # No more commands: after cmd_timeout the arm holds still.
    stamp = states[-1].header.stamp.sec + states[-1].header.stamp.nanosec * 1e-9

    def sim_time() -> float:
        return states[-1].header.stamp.sec + states[-1].header.stamp.nanosec * 1e-9

    spin_until(probe, lambda: sim_time() > stamp + 1.0, 30.0, sim_process)
    held = np.array(states[-1].position)
    spin_until(probe, lambda: sim_time() > stamp + 1.5, 30.0, sim_process)
    np.testing.assert_allclose(np.array(states[-1].position), held, atol=0.005)
