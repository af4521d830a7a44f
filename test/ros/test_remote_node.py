"""vla_node with `backend: remote` through real processes: openpi's WebsocketPolicyServer (PyPI openpi-server)
serving the bundled sim model, the embedded sim driven through it, and the server's faults."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from vla_ros.bench.remote import free_port, mirror_package, start_server

from ros_harness import JOINTS, NodeProcess, RobotStub, wait_until

pytestmark = pytest.mark.ros
pytest.importorskip("openpi_server", reason="pip install --no-deps -r requirements-openpi.txt")

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
HOME = np.array([0.0, 0.4, 1.6, 0.0, 1.0, 0.0])
INFERENCE_TIMEOUT = 0.5


def _node(remote_dir: Path, **params) -> NodeProcess:
    return NodeProcess({"model_path": str(remote_dir), "backend": "remote", "command_interface": "joint_position",
                        "control_rate_hz": 50.0, "joint_names": JOINTS, "safety.image_timeout": 1.0,
                        "safety.state_timeout": 0.5, "safety.inference_timeout": INFERENCE_TIMEOUT,
                        "remote.timeout_s": 0.5, "warmup_inferences": 0, **params})


def _states(robot: RobotStub, seconds: float) -> list[str]:
    seen: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state = robot.received.last_status().get("state", "")
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.02)
    return seen


def test_when_server_killed_mid_episode_expect_late_hold_then_reconnect_and_resume(tmp_path: Path) -> None:
    port = free_port()
    remote_dir = mirror_package(SIM_ACT, tmp_path / "remote", f"ws://127.0.0.1:{port}")
    server = start_server(SIM_ACT, remote_dir, port)
    robot = RobotStub("joint_position")
    robot.positions = HOME.copy()
    node = _node(remote_dir, **{"safety.auto_resume_max_s": 20.0})
    try:
        robot.wait_for_node(60)
        robot.instruct("touch the red cube")
        status = robot.wait_for_status(lambda s: s.get("state") == "RUNNING" and s["inferences"] > 2, 30, "RUNNING")
        assert status["backend"] == "remote"
        assert {"round_trip", "server_infer", "bytes_sent", "bytes_received"} <= set(status["timings_ms"])
        server.kill()
        server.wait(10)
        killed = time.monotonic()
        held = robot.wait_for_status(lambda s: s.get("state") == "HOLD_INFERENCE_LATE", 10, "late-inference hold")
        assert time.monotonic() - killed < INFERENCE_TIMEOUT + 1.0
        assert f"127.0.0.1:{port}" in held["reason"], held  # the remote reason reaches /vla/status
        assert "FAULT" not in _states(robot, 1.0)  # a transient network error latches nothing
        inferences = robot.received.last_status()["inferences"]
        server = start_server(SIM_ACT, remote_dir, port)
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING" and s["inferences"] > inferences + 2, 30,
                              "RUNNING again after the server came back")
        assert node.alive()
    finally:
        robot.close()
        node.stop()
        server.kill()
        server.wait(10)


def test_when_server_replies_nan_while_running_expect_fault_with_reason_and_commands_held(tmp_path: Path) -> None:
    port = free_port()
    remote_dir = mirror_package(SIM_ACT, tmp_path / "remote", f"ws://127.0.0.1:{port}")
    server = start_server(SIM_ACT, remote_dir, port, "--fault", "nan", "--fault-after", "4")
    robot = RobotStub("joint_position")
    robot.positions = HOME.copy()
    node = _node(remote_dir)
    try:
        robot.wait_for_node(60)
        robot.instruct("touch the red cube")
        status = robot.wait_for_status(lambda s: s.get("state") == "FAULT", 30, "FAULT")
        assert "NaN or inf" in status["reason"], status
        t0 = time.monotonic()
        wait_until(lambda: len(robot.received.commands_since(t0)) >= 10, 5, "commands while faulted")
        commands = np.array([list(m.data) for m in robot.received.commands_since(t0)])
        assert np.all(np.isfinite(commands)) and np.all(np.abs(commands - commands[0]) < 1e-9)
    finally:
        robot.close()
        node.stop()
        server.kill()
        server.wait(10)


def test_when_server_unreachable_at_configure_expect_status_naming_url_and_reason(tmp_path: Path) -> None:
    port = free_port()
    remote_dir = mirror_package(SIM_ACT, tmp_path / "remote", f"ws://127.0.0.1:{port}")
    robot = RobotStub("joint_position")
    node = _node(remote_dir)
    try:
        status = robot.wait_for_status(lambda s: "configure failed" in s.get("reason", ""), 60, "configure failure")
        assert f"ws://127.0.0.1:{port}" in status["reason"] and "connection refused" in status["reason"], status
    finally:
        robot.close()
        node.stop()


def test_when_vla_node_drives_the_embedded_sim_through_openpi_server_expect_an_episode(tmp_path: Path) -> None:
    from vla_ros.sim import demo

    port = free_port()
    remote_dir = mirror_package(SIM_ACT, tmp_path / "remote", f"ws://127.0.0.1:{port}")
    server = start_server(SIM_ACT, remote_dir, port)
    try:
        run = demo.run_episodes(remote_dir, 1, first_seed=1, backend="remote", capture_frames=False,
                                log=lambda _line: None, episode_time_limit=4.0)
        assert run.backend == "remote" and len(run.results) == 1
        assert run.latencies_ms, "no chunk reached the robot through the server"
    finally:
        server.kill()
        server.wait(10)
