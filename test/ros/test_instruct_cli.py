"""vla_instruct against a real node, and with no node at all."""

from __future__ import annotations

import subprocess
import sys
import time

from ros_harness import JOINTS, REPO_ROOT, NodeProcess, RobotStub


def _instruct(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vla_ros.ros.instruct", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


def test_when_no_node_listens_expect_nonzero_exit_and_clear_message() -> None:
    started = time.monotonic()
    result = _instruct("pick up the red block", "--topic", "/nobody/listens/here", "--timeout", "2")
    assert result.returncode != 0
    assert "no node subscribes to /nobody/listens/here" in result.stderr
    assert time.monotonic() - started < 30


def test_when_node_running_expect_wait_ack_exits_zero_and_node_reports_instruction(joint_model) -> None:
    robot = RobotStub("joint_position")
    node = NodeProcess({"model_path": str(joint_model), "command_interface": "joint_position",
                        "joint_names": JOINTS, "control_rate_hz": 50.0})
    try:
        robot.wait_for_node()
        result = _instruct("touch the red cube", "--wait-ack", "--timeout", "20")
        assert result.returncode == 0, result.stderr + node.log()
        assert "acknowledged" in result.stdout
        robot.wait_for_status(lambda s: s.get("instruction") == "touch the red cube", 5, "instruction in status")
        # Repeating the active instruction is acknowledged only when the node took the new message.
        again = _instruct("touch the red cube", "--wait-ack", "--timeout", "20")
        assert again.returncode == 0, again.stderr
        stop = _instruct("", "--wait-ack", "--timeout", "20")
        assert stop.returncode == 0, stop.stderr
        robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 5, "stopped")
    finally:
        robot.close()
        node.stop()
