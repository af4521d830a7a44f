"""Ctrl-C under `ros2 launch`, through real processes: the terminal's SIGINT to the whole process group, launch's
own SIGINT to each process a few ms later, SIGTERM after its timeout. At every phase (starting, loading the
model, running with an instruction, closing), vla_node, vla_record and vla_sim exit 0 without a traceback,
vla_node publishes one hold, the episode on disk is complete, and no child process is left behind.

The processes run as the installed console scripts (`make install`), in a process group of their own, as a
terminal would start them; this process plays the robot (RobotStub) in its own group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from vla_ros.recording.bag import PARTIAL_SUFFIX, read_bag

from ros_harness import JOINTS, RobotStub, wait_until

pytestmark = pytest.mark.ros

BIN = Path(sys.executable).parent
SIGTERM_TIMEOUT_S = 5.0  # launch's default sigterm_timeout
HOME = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])


class GroupedProcess:
    """A console script run as `EXE --ros-args --params-file FILE`, in the process group `group` (its own new
    group when None), with its output kept."""

    def __init__(self, executable: str, params: dict[str, object], group: int | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="vla_signals_")
        params_file = Path(self._dir.name) / "params.yaml"
        params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
        self.log_path = Path(self._dir.name) / "output.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([str(BIN / executable), "--ros-args", "--params-file", str(params_file)],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            process_group=0 if group is None else group)
        self.name = executable

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def handles_sigterm(self) -> bool:
        """The script has installed its shutdown handlers: its first lines ran, its slow imports have not. (A
        signal inside the interpreter's own start-up, before any of the script runs, cannot be handled.)"""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return False
        caught = int(status.split("SigCgt:")[1].split()[0], 16)
        return bool(caught & (1 << (signal.SIGTERM - 1)))

    def children(self) -> set[int]:
        found: set[int] = set()
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            try:
                found |= {int(pid) for pid in (task / "children").read_text().split()}
            except OSError:
                pass
        return found

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def launch_style_stop(processes: list[GroupedProcess], extra: signal.Signals | None = None) -> list[int]:
    """What a terminal's Ctrl-C under `ros2 launch` delivers: SIGINT to the group, SIGINT to each process about
    5 ms later (and `extra` right after, a signal arriving while they close), SIGTERM to those still running
    after SIGTERM_TIMEOUT_S. Returns the exit codes; a process still running 10 s after SIGTERM is killed."""
    os.killpg(processes[0].pid, signal.SIGINT)
    time.sleep(0.005)
    for process in processes:
        if process.process.poll() is None:
            process.process.send_signal(signal.SIGINT)
            if extra is not None:
                process.process.send_signal(extra)
    deadline = time.monotonic() + SIGTERM_TIMEOUT_S
    for process in processes:
        try:
            process.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.process.wait(timeout=10.0))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.process.returncode)
    return codes


def wait_for_exit(process: GroupedProcess, timeout: float) -> int:
    try:
        return process.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{process.name} still running after {timeout} s:\n{process.log()}") from None


def assert_clean_exit(processes: list[GroupedProcess], codes: list[int]) -> None:
    for process, code in zip(processes, codes):
        output = process.log()
        assert code == 0, f"{process.name} exited {code}:\n{output}"
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, f"{process.name}:\n{output}"


def assert_gone(pids: set[int]) -> None:
    def gone(pid: int) -> bool:
        try:
            return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return True

    wait_until(lambda: all(map(gone, pids)), 10.0, f"child processes {sorted(pids)} to exit")


def node_params(model: Path, **extra: object) -> dict[str, object]:
    return {"model_path": str(model), "command_interface": "joint_position", "control_rate_hz": 20.0,
            "joint_names": JOINTS, "safety.inference_timeout": 3.0, "safety.auto_resume_max_s": 30.0, **extra}


def recorder_params(output_dir: Path) -> dict[str, object]:
    return {"output_dir": str(output_dir), "cameras": ["front=/camera/image_raw"],
            "command_interface": "joint_position"}


@pytest.fixture
def robot():
    stub = RobotStub("joint_position", camera_rate_hz=20.0)
    stub.positions = HOME.copy()
    yield stub
    stub.close()


def test_when_signalled_while_starting_expect_node_recorder_and_sim_exit_0_quietly(joint_model, tmp_path) -> None:
    node = GroupedProcess("vla_node", node_params(joint_model))
    recorder = GroupedProcess("vla_record", recorder_params(tmp_path / "episodes"), group=node.pid)
    sim = GroupedProcess("vla_sim", {"image_width": 64, "image_height": 64}, group=node.pid)
    processes = [node, recorder, sim]
    try:
        wait_until(lambda: all(p.handles_sigterm() for p in processes), 30.0, "the scripts to start")
        assert_clean_exit(processes, launch_style_stop(processes))
    finally:
        for process in processes:
            process.kill()


def test_when_sigterm_arrives_while_the_model_loads_expect_exit_0_and_no_inference_process_left(joint_model) -> None:
    node = GroupedProcess("vla_node", node_params(joint_model))
    try:
        wait_until(lambda: node.children() or node.process.poll() is not None, 60.0, "the inference process")
        children = node.children()
        node.process.send_signal(signal.SIGTERM)
        node.process.send_signal(signal.SIGTERM)  # a second one while it closes changes nothing
        assert_clean_exit([node], [wait_for_exit(node, 30.0)])
        assert_gone(children)
    finally:
        node.kill()


def test_when_ctrl_c_under_launch_while_running_expect_one_hold_complete_episode_and_no_orphans(
        joint_model, robot, tmp_path) -> None:
    episodes = tmp_path / "episodes"
    node = GroupedProcess("vla_node", node_params(joint_model))
    recorder = GroupedProcess("vla_record", recorder_params(episodes), group=node.pid)
    processes = [node, recorder]
    try:
        robot.wait_for_node(60.0)
        wait_until(lambda: robot.instruction_pub.get_subscription_count() >= 2, 30.0, "vla_record's subscription")
        robot.wait_for_status(lambda s: s.get("state") == "HOLD_NO_INSTRUCTION", 60, "hold without instruction")
        robot.instruct("pick up the red block")
        robot.wait_for_status(lambda s: s.get("state") == "RUNNING", 30, "running")
        wait_until(lambda: any(p.name.endswith(PARTIAL_SUFFIX) for p in episodes.iterdir()), 10.0, "episode open")
        wait_until(lambda: len(robot.received.commands_since(time.monotonic() - 0.5)) > 0, 10.0, "motion commands")
        children = node.children()
        assert len(children) >= 2, f"expected the camera and inference processes, found {children}"
        stopped_at = time.monotonic()

        assert_clean_exit(processes, launch_style_stop(processes, extra=signal.SIGTERM))

        assert "published a hold command" in node.log()
        last_command = robot.received.commands_since(stopped_at)[-1]
        np.testing.assert_allclose(last_command.data, HOME, atol=1e-6)  # a hold at the measured position
        wait_until(lambda: robot.received.last_status().get("state") == "HOLD_NO_INSTRUCTION", 5.0, "hold status")
        assert_gone(children)
        finished = [p for p in episodes.iterdir()]
        assert len(finished) == 1 and not finished[0].name.endswith(PARTIAL_SUFFIX), finished
        bag = read_bag(finished[0])
        assert bag.metadata["instruction"] == "pick up the red block"
        assert bag.metadata["end_reason"] == "recorder stopped"
        assert bag.count("/joint_states") > 0 and bag.count("/vla/instruction") == 1
    finally:
        for process in processes:
            process.kill()


def test_when_sim_runs_and_signals_repeat_while_it_closes_expect_exit_0(robot) -> None:
    sim = GroupedProcess("vla_sim", {"image_width": 64, "image_height": 64})
    try:
        wait_until(lambda: robot.node.count_publishers("/sim/episode") > 0, 60.0, "vla_sim's publishers")
        assert_clean_exit([sim], launch_style_stop([sim], extra=signal.SIGTERM))
    finally:
        sim.kill()
