"""The node tests' view of the cross-process rig (vla_ros.bench.rig): vla_node runs in its own process, started
from the repository root; this process plays camera, robot and user through RobotStub."""

from __future__ import annotations

from pathlib import Path

from vla_ros.bench import rig_process
from vla_ros.bench.rig import DEFAULT_JOINTS, Received, RobotStub, wait_until

__all__ = ["JOINTS", "REPO_ROOT", "NodeProcess", "Received", "RobotStub", "wait_until"]

REPO_ROOT = Path(__file__).resolve().parents[2]
JOINTS = DEFAULT_JOINTS


class NodeProcess(rig_process.NodeProcess):
    """A rig NodeProcess run from the repository root, so `python -m vla_ros...` imports this checkout."""

    def __init__(self, params: dict[str, object], module: str = "vla_ros.ros.node",
                 extra_args: list[str] | None = None, extra_pythonpath: list[Path] | None = None) -> None:
        super().__init__(params, module, extra_args, cwd=REPO_ROOT, extra_pythonpath=extra_pythonpath)
