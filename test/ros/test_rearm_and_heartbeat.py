"""Through real processes: an operator heartbeat (S14), the resume limit (S15) and the /clock wait status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Bool

from vla_ros.ros.qos import RELIABLE

from ros_harness import JOINTS, NodeProcess, RobotStub, wait_until

HOME = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
HEARTBEAT = "/vla/heartbeat"


def _node(model, **params) -> NodeProcess:
    return NodeProcess({"model_path": str(model), "command_interface": "joint_position", "control_rate_hz": 50.0,
                        "joint_names": JOINTS, "safety.image_timeout": 0.3, "safety.state_timeout": 0.3,
                        "safety.inference_timeout": 3.0, **params})


def _heartbeat_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vla_ros.ros.instruct", "--heartbeat", "--heartbeat-topic",
                             HEARTBEAT, "--rate", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())


@pytest.fixture
def robot():
    stub = RobotStub("joint_position")
    stub.positions = HOME.copy()
    yield stub
    stub.close()


def test_when_heartbeat_required_expect_motion_only_while_vla_instruct_heartbeat_runs(joint_model, robot) -> None:
    node = _node(joint_model, **{"safety.heartbeat_topic": HEARTBEAT, "safety.heartbeat_timeout": 0.3,
                                 "safety.auto_resume_max_s": 1.0})
    heartbeat = None
    try:
        robot.wait_for_node()
        robot.instruct("touch the red cube")
        status = robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_HEARTBEAT", 30, "HOLD_NO_HEARTBEAT")
        assert HEARTBEAT in status["reason"]
        heartbeat = _heartbeat_process()
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING", 20, "RUNNING while the heartbeat runs")
        heartbeat.send_signal(signal.SIGINT)  # the operator lets go: the tool sends false and exits cleanly
        _, err = heartbeat.communicate(timeout=10)
        assert heartbeat.returncode == 0 and "Traceback" not in err, err
        status = robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_HEARTBEAT", 5, "hold on release")
        # The released heartbeat says false at once; without it, the 0.3 s timeout would have been the reason.
        assert "says stop" in status["reason"] or "heartbeat_timeout" in status["reason"]
        # Held longer than auto_resume_max_s: a new heartbeat alone does not restart motion.
        time.sleep(1.5)
        heartbeat = _heartbeat_process()
        status = robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 20, "dropped")
        assert "auto_resume_max_s" in status["reason"]
        robot.instruct("touch the red cube")
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING", 20, "RUNNING on a new instruction")
    finally:
        if heartbeat is not None and heartbeat.poll() is None:
            heartbeat.kill()
            heartbeat.wait()
        node.stop()


def test_when_use_sim_time_and_no_clock_expect_status_and_diagnostics_say_waiting_for_clock(joint_model,
                                                                                            robot) -> None:
    diagnostics: list[str] = []
    robot.node.create_subscription(DiagnosticArray, "/diagnostics",
                                   lambda m: diagnostics.extend(s.message for s in m.status), RELIABLE)
    node = _node(joint_model, use_sim_time=True, status_rate_hz=10.0)
    try:
        robot.wait_for_node()
        status = robot.wait_for_status(lambda s: "waiting for /clock" in s.get("reason", ""), 30, "clock wait")
        assert status["state"] == "IDLE" and "use_sim_time" in status["reason"]
        # Repeated at status_rate_hz although sim time stands still, so a subscriber that matched late (or a
        # diagnostic aggregator watching for staleness) still hears it: one publish on the change is not enough.
        wait_until(lambda: sum("waiting for /clock" in m for m in diagnostics) >= 5, 10, "diagnostics saying so")
    finally:
        node.stop()


def test_when_estop_reset_expect_no_command_change_until_a_new_instruction(joint_model, robot) -> None:
    node = _node(joint_model)
    try:
        robot.wait_for_node()
        robot.instruct("touch the red cube")
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING", 30, "RUNNING")
        robot.estop_pub.publish(Bool(data=True))
        robot.wait_for_status(lambda s: s.get("state") == "ESTOP", 5, "ESTOP")
        robot.estop_pub.publish(Bool(data=False))
        wait_until(lambda: robot.call(robot.reset_client).success, 10, "reset accepted")
        status = robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 5, "hold after reset")
        assert "re-armed" in status["reason"], status
        t0 = time.monotonic()
        wait_until(lambda: len(robot.received.commands_since(t0)) >= 25, 5, "commands after the reset")
        held = np.array([list(m.data) for m in robot.received.commands_since(t0)])
        np.testing.assert_allclose(held, np.tile(HOME, (len(held), 1)), atol=1e-9)
        robot.instruct("touch the red cube")
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING", 20, "RUNNING on the new instruction")
    finally:
        node.stop()

