"""ament_python package: `colcon build` on a ROS 2 install, or `pip install .` into a venv with the ros-jazzy wheels."""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "vla_ros"
HERE = Path(__file__).resolve().parent

# console script name -> "module:function"
EXECUTABLES = {
    "vla_node": "vla_ros.ros.spin:vla_node",
    "vla_instruct": "vla_ros.ros.instruct:main",
    "vla_sim": "vla_ros.sim.launcher:vla_sim",
    "vla_demo": "vla_ros.sim.demo:main",
    "vla_export": "vla_ros.training.export_cli:main",
    "vla_bench": "vla_ros.bench.cli:main",
    "vla_train": "vla_ros.training.cli:main",
    "vla_replay": "vla_ros.recording.replay_runner:main",
    "vla_export_dataset": "vla_ros.recording.export_dataset:main",
    "vla_record": "vla_ros.recording.launcher:vla_record",
    "vla_serve": "vla_ros.serve.cli:main",
}


# The workbench beside the runtime. A robot installs requirements.txt (or -gpu) and none of these; `make test`
# and `make demo` install .[dev]. ROS packages come from the ros-jazzy-* wheels or a ROS install, not from here.
_SIM = ["mujoco>=3.1", "matplotlib>=3.8"]
_RECORD = ["rosbags>=0.11", "pyarrow>=15"]
EXTRAS = {
    "sim": _SIM,
    "train": [*_SIM],
    "bench": [*_SIM, *_RECORD, "hypothesis>=6.100"],
    "record": _RECORD,
    # vla_serve: policy servers for fleets of robots on Ray Serve (replicas, batching, KubeRay); never on a robot.
    "serve": ["ray[serve]==2.60.*", "fastapi>=0.110", "uvicorn>=0.29"],
}
EXTRAS["dev"] = sorted({*(r for rs in EXTRAS.values() for r in rs), "pytest>=8.0", "ruff>=0.6"})


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing `folder` (recursively) under share/vla_ros/<folder>."""
    entries: dict[str, list[str]] = {}
    for path in sorted((HERE / folder).rglob("*")):
        skipped = "__pycache__" in path.parts or "engine_cache" in path.parts or path.suffix in (".engine", ".pyc")
        if path.is_file() and not skipped:
            relative = path.relative_to(HERE)
            entries.setdefault(os.path.join("share", PACKAGE, str(relative.parent)), []).append(str(relative))
    return sorted(entries.items())


def lib_wrappers() -> list[tuple[str, list[str]]]:
    """`ros2 run vla_ros <exe>` looks in lib/vla_ros. colcon puts console scripts there (setup.cfg); a pip
    install puts them in bin/, so small launchers are installed to lib/vla_ros as well."""
    folder = HERE / "build" / "lib_wrappers"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name in EXECUTABLES:
        script = folder / name
        # Hand off to the console script pip wrote to <prefix>/bin: it carries this environment's interpreter,
        # so `ros2 run` works without the venv on PATH.
        script.write_text('#!/bin/sh\n'
                          f'exec "$(dirname "$(readlink -f "$0")")/../../bin/{name}" "$@"\n')
        script.chmod(0o755)
        files.append(str(script.relative_to(HERE)))
    return [(os.path.join("lib", PACKAGE), files)]


data_files = [
    ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
    (f"share/{PACKAGE}", ["package.xml"]),
    *tree("launch"),
    *tree("config"),
    *tree("models"),
]
if os.environ.get("COLCON") is None:
    data_files += lib_wrappers()

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={"vla_ros": ["**/*.md"]},
    data_files=data_files,
    install_requires=["setuptools"],
    extras_require=EXTRAS,
    zip_safe=False,
    maintainer="vla_ros maintainers",
    maintainer_email="maintainers@vla-ros.dev",
    description="Vision-language-action model runtime for ROS 2 with a fixed-rate, safety-filtered command output",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in EXECUTABLES.items()]},
)
