"""The runtime's layers, read from the source: what a robot install runs never reaches the workbench.

Runtime: core < {inputs, model, execution, safety, commands} < pipeline < ros. Workbench: sim, training,
bench, recording, serve. Checked on every import statement, also those inside functions (lazy imports count).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vla_ros"
RUNTIME = ("core", "inputs", "model", "execution", "safety", "commands", "pipeline", "ros")
WORKBENCH = ("sim", "training", "bench", "recording", "serve")
STAGES = ("inputs", "model", "execution", "safety", "commands")
# Third-party packages installed only with the workbench extras (setup.py EXTRAS), never on a robot.
WORKBENCH_ONLY_DEPENDENCIES = {"mujoco", "matplotlib", "hypothesis", "rosbags", "pyarrow", "pytest", "ray", "fastapi",
                               "uvicorn"}
ROS_CLIENT_MODULES = {"rclpy", "rcl_interfaces", "builtin_interfaces", "diagnostic_msgs", "geometry_msgs",
                      "sensor_msgs", "std_msgs", "std_srvs", "trajectory_msgs", "rosgraph_msgs",
                      "ament_index_python", "lifecycle_msgs"}


def _imports(wing: str) -> list[tuple[str, str]]:
    """(file, imported module) for every absolute import under vla_ros/<wing>."""
    found = []
    for path in sorted((PACKAGE / wing).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(PACKAGE)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((str(path.relative_to(PACKAGE)), node.module))
    return found


def _wing_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "vla_ros" and len(parts) > 1 else None


def test_when_layout_read_expect_every_package_in_exactly_one_wing() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(RUNTIME) | set(WORKBENCH)


@pytest.mark.parametrize("wing", RUNTIME)
def test_when_runtime_module_imports_expect_no_workbench_package_or_dependency(wing: str) -> None:
    bad = [(f, m) for f, m in _imports(wing)
           if _wing_of(m) in WORKBENCH or m.split(".")[0] in WORKBENCH_ONLY_DEPENDENCIES]
    assert not bad, f"runtime imports the workbench: {bad}"


def test_when_core_imports_expect_only_core() -> None:
    bad = [(f, m) for f, m in _imports("core") if _wing_of(m) not in (None, "core")]
    assert not bad, f"core must be the ground floor: {bad}"


@pytest.mark.parametrize("wing", ("core", *STAGES))
def test_when_stage_imports_expect_nothing_from_the_layers_above(wing: str) -> None:
    bad = [(f, m) for f, m in _imports(wing) if _wing_of(m) in ("pipeline", "ros")]
    assert not bad, f"{wing} reaches up into the pipeline or the ROS adapter: {bad}"


@pytest.mark.parametrize("wing", ("core", *STAGES, "pipeline"))
def test_when_ros_free_layer_imports_expect_no_ros_client_library(wing: str) -> None:
    bad = [(f, m) for f, m in _imports(wing) if m.split(".")[0] in ROS_CLIENT_MODULES]
    assert not bad, f"{wing} must run without ROS: {bad}"


def test_when_robot_requirements_read_expect_no_workbench_dependency() -> None:
    root = PACKAGE.parent
    names = set()
    for name in ("requirements.txt", "requirements-gpu.txt", "requirements-common.txt"):
        for line in (root / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                names.add(line.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower())
    assert not names & WORKBENCH_ONLY_DEPENDENCIES
    assert not names & {"ruff", "mujoco"}


@pytest.mark.parametrize("init", ["__init__.py", "execution/__init__.py"])
def test_when_child_process_entry_packages_read_expect_no_imports(init: str) -> None:
    # `python -m vla_ros.execution.child_process` imports these first, before it drops the inherited real-time
    # priority: a thread pool created by an import here would keep SCHED_FIFO in the child.
    tree = ast.parse((PACKAGE / init).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
