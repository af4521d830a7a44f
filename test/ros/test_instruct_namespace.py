"""vla_instruct reaches a node under a namespace, through real processes: `--namespace NS` and the standard
`--ros-args -r __ns:=/NS` move both its instruction and its status topic, as namespace:=NS moves vla_node's.

This process plays vla_node under /arm: it subscribes to /arm/vla/instruction and acknowledges each
instruction on the latched /arm/vla/status, as vla_node does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from vla_ros.ros.node import RELIABLE, RELIABLE_LATCHED
from vla_ros.safety import validate_instruction

from ros_harness import REPO_ROOT, wait_until

pytestmark = pytest.mark.ros

INSTRUCTION = "touch the red cube"


class NamespacedNodeStub:
    """vla_node's instruction and status endpoints under a namespace, nothing else."""

    def __init__(self, namespace: str) -> None:
        if not rclpy.ok():
            rclpy.init()  # shared by every harness in this test process; never shut down before exit
        self.node = Node(f"vla_node_stub_{os.getpid()}", namespace=namespace)
        self.received: list[str] = []
        self._lock = threading.Lock()
        self.status_publisher = self.node.create_publisher(String, "vla/status", RELIABLE_LATCHED)
        self.instruction_subscription = self.node.create_subscription(String, "vla/instruction",
                                                                      self._on_instruction, RELIABLE)
        self._publish_status("IDLE", "", 0)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def _publish_status(self, state: str, instruction: str, instruction_id: int) -> None:
        status = {"state": state, "reason": "", "instruction": instruction, "instruction_id": instruction_id}
        self.status_publisher.publish(String(data=json.dumps(status)))

    def _on_instruction(self, msg: String) -> None:
        with self._lock:
            self.received.append(msg.data)
            count = len(self.received)
        text, _ = validate_instruction(msg.data, max_length=1_000_000)
        self._publish_status("RUNNING" if text else "HOLD_NO_INSTRUCTION", text or "", count)

    def instructions(self) -> list[str]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


@pytest.fixture
def arm_node() -> Iterator[NamespacedNodeStub]:
    stub = NamespacedNodeStub("/arm")
    try:
        yield stub
    finally:
        stub.close()


def _instruct(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vla_ros.ros.instruct", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.mark.parametrize("namespace_args", [["--namespace", "arm"], ["--namespace", "/arm"],
                                            ["--ros-args", "-r", "__ns:=/arm"]], ids=" ".join)
def test_when_namespace_given_expect_instruction_and_acknowledgement_under_it(
        arm_node: NamespacedNodeStub, namespace_args: list[str]) -> None:
    result = _instruct(INSTRUCTION, "--wait-ack", "--timeout", "20", *namespace_args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "acknowledged" in result.stdout
    wait_until(lambda: arm_node.instructions() == [INSTRUCTION], 5, "the instruction on /arm/vla/instruction")


def test_when_namespace_given_without_wait_ack_expect_resolved_topic_reported(arm_node: NamespacedNodeStub) -> None:
    result = _instruct(INSTRUCTION, "--timeout", "20", "--ros-args", "-r", "__ns:=/arm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on /arm/vla/instruction" in result.stdout
    wait_until(lambda: arm_node.instructions() == [INSTRUCTION], 5, "the instruction on /arm/vla/instruction")


def test_when_no_namespace_given_expect_node_under_namespace_not_reached(arm_node: NamespacedNodeStub) -> None:
    result = _instruct(INSTRUCTION, "--wait-ack", "--timeout", "2")
    assert result.returncode == 1
    assert "no node subscribes to /vla/instruction" in result.stderr
    assert arm_node.instructions() == []


def test_when_namespace_invalid_expect_exit_2_and_message() -> None:
    result = _instruct(INSTRUCTION, "--namespace", "9arm", "--timeout", "2")
    assert result.returncode == 2
    assert "--namespace 9arm" in result.stderr
