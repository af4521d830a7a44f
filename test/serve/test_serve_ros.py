"""vla_node (backend remote) against vla_serve on a real local Ray (2 replicas, one Ray for the module): the
embedded sim driven through it for one episode, and the replicas killed mid-run (Ray restarts them; the node
holds, reconnects and resumes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vla_ros.bench.fleet import start_vla_serve, stop_vla_serve
from vla_ros.bench.remote import free_port, mirror_package

from ros_harness import JOINTS, NodeProcess, RobotStub

pytestmark = pytest.mark.ros
pytest.importorskip("ray.serve", reason="pip install .[serve]")
pytest.importorskip("openpi_client", reason="pip install --no-deps -r requirements-openpi.txt")

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
HOME = np.array([0.0, 0.4, 1.6, 0.0, 1.0, 0.0])
INFERENCE_TIMEOUT = 0.5


class Server:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.remote_dir = mirror_package(SIM_ACT, folder / "remote", f"ws://127.0.0.1:{self.port}")
        self.process: subprocess.Popen = start_vla_serve(SIM_ACT, self.port, "--replicas", "2",
                                                         "--cpus-per-replica", "0.5", "--max-batch-size", "4")

    def replica_pids(self, wanted: int = 2, attempts: int = 30) -> set[int]:
        """The replicas' pids, as their metadata reports them; new connections spread over the replicas."""
        from openpi_client.websocket_client_policy import WebsocketClientPolicy

        pids: set[int] = set()
        for _ in range(attempts):
            pids.add(int(WebsocketClientPolicy("127.0.0.1", self.port).get_server_metadata()["replica_pid"]))
            if len(pids) >= wanted:
                break
        return pids


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("serve"))
    yield running
    status, log = stop_vla_serve(running.process)
    assert status == 0, log[-2000:]


def test_when_vla_node_drives_the_embedded_sim_through_vla_serve_expect_an_episode(server: Server) -> None:
    from vla_ros.sim import demo

    run = demo.run_episodes(server.remote_dir, 1, first_seed=1, backend="remote", capture_frames=False,
                            log=lambda _line: None, episode_time_limit=4.0)
    assert run.backend == "remote" and len(run.results) == 1
    assert run.latencies_ms, "no chunk reached the robot through vla_serve"


def test_when_replicas_killed_mid_run_expect_hold_then_reconnect_and_resume(server: Server) -> None:
    robot = RobotStub("joint_position")
    robot.positions = HOME.copy()
    node = NodeProcess({"model_path": str(server.remote_dir), "backend": "remote",
                        "command_interface": "joint_position", "control_rate_hz": 50.0, "joint_names": JOINTS,
                        "safety.image_timeout": 1.0, "safety.state_timeout": 0.5,
                        "safety.inference_timeout": INFERENCE_TIMEOUT, "remote.timeout_s": 0.5,
                        "warmup_inferences": 0, "safety.auto_resume_max_s": 60.0})
    try:
        robot.wait_for_node(60)
        robot.instruct("touch the red cube")
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING" and s["inferences"] > 2, 30, "RUNNING")
        # Every replica, so the one holding this robot's connection is among them.
        for pid in server.replica_pids():
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        held = robot.wait_for_status(lambda s: s.get("state") == "HOLD_INFERENCE_LATE", 10, "late-inference hold")
        assert time.monotonic() - killed < INFERENCE_TIMEOUT + 1.5
        assert f"127.0.0.1:{server.port}" in held["reason"], held
        inferences = robot.received.last_status()["inferences"]
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING" and s["inferences"] > inferences + 2, 90,
                              "RUNNING again once Ray restarted the replicas")
        assert node.alive()
    finally:
        robot.close()
        node.stop()
