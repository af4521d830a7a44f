"""The `ros` marker's two halves: the import hook that hides ROS 2 (make test-no-ros) and the source reading that
decides which tests need ROS (test/support/ros_reach.py), checked on small made-up trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ros_packages import is_ros_module
from ros_reach import RosReach

WITHOUT_ROS = Path(__file__).resolve().parents[1] / "support" / "without_ros"


def _run_hidden(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WITHOUT_ROS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("statement", ["import rclpy", "from rclpy.node import Node", "from std_msgs.msg import String",
                                       "import rosidl_runtime_py", "import rmw_implementation",
                                       "from builtin_interfaces.msg import Time"])
def test_when_the_without_ros_folder_leads_pythonpath_expect_ros_imports_refused(statement: str) -> None:
    result = _run_hidden(f"{statement}\n")
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr and "ROS 2 is hidden" in result.stderr, result.stderr


def test_when_ros_is_hidden_expect_the_ros_free_runtime_and_its_children_unaffected() -> None:
    code = ("import numpy, yaml, rosbags, vla_ros.core.types, vla_ros.safety, subprocess, sys\n"
            "child = subprocess.run([sys.executable, '-c', 'import rclpy'], capture_output=True, text=True)\n"
            "assert child.returncode != 0 and 'ROS 2 is hidden' in child.stderr, child.stderr\n")
    result = _run_hidden(code)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("name", "ros"), [("rclpy", True), ("rclpy.qos", True), ("sensor_msgs.msg", True),
                                           ("std_srvs.srv", True), ("rcl_interfaces.msg", True),
                                           ("rosidl_runtime_py", True), ("ament_index_python.packages", True),
                                           ("rosbags.rosbag2", False), ("numpy", False), ("vla_ros.ros.node", False),
                                           ("yaml", False), ("cv2", False)])
def test_when_classifying_module_names_expect_only_ros_2_ones(name: str, ros: bool) -> None:
    assert is_ros_module(name) is ros


def _tree(root: Path, files: dict[str, str]) -> RosReach:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "test" / "support").mkdir(parents=True, exist_ok=True)
    return RosReach(root, root / "test" / "support", {"vla_node": "vla_ros.node:main"})


def test_when_a_package_module_imports_rclpy_lazily_expect_every_test_of_its_importer_marked(tmp_path: Path) -> None:
    reach = _tree(tmp_path, {"vla_ros/__init__.py": "", "vla_ros/runner.py": "def run():\n    import rclpy\n",
                             "test/test_a.py": "from vla_ros.runner import run\n\ndef test_one():\n    run()\n"})
    module = reach.test_module(tmp_path / "test" / "test_a.py")
    assert module.whole_module and not module.at_import  # importable without ROS, not runnable


def test_when_only_one_test_imports_ros_expect_only_that_test_marked(tmp_path: Path) -> None:
    reach = _tree(tmp_path, {"test/test_a.py": "def test_free():\n    pass\n\n"
                                               "def test_ros():\n    from std_msgs.msg import String\n"})
    module = reach.test_module(tmp_path / "test" / "test_a.py")
    assert not module.whole_module and module.tests == {"test_ros"}


def test_when_a_support_module_imports_ros_expect_its_importer_uncollectable_without_ros(tmp_path: Path) -> None:
    reach = _tree(tmp_path, {"test/support/harness.py": "import rclpy\n",
                             "test/test_a.py": "from harness import thing\n\ndef test_one():\n    pass\n"})
    assert reach.test_module(tmp_path / "test" / "test_a.py").at_import


def test_when_a_test_starts_a_ros_module_or_console_script_expect_it_marked(tmp_path: Path) -> None:
    reach = _tree(tmp_path, {"vla_ros/__init__.py": "", "vla_ros/node.py": "import rclpy\n",
                             "test/test_a.py": "import subprocess, sys\n\n"
                                               "def test_module():\n"
                                               "    subprocess.run([sys.executable, '-m', 'vla_ros.node'])\n\n"
                                               "def test_script():\n    subprocess.run(['vla_node', '--ros-args'])\n\n"
                                               "def test_message():\n    assert 'vla_node' in 'vla_node started'\n"})
    module = reach.test_module(tmp_path / "test" / "test_a.py")
    assert not module.whole_module and module.tests == {"test_module", "test_script"}


def test_when_a_ros_import_is_for_type_checking_only_expect_nothing_marked(tmp_path: Path) -> None:
    reach = _tree(tmp_path, {"test/test_a.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                                               "    import rclpy\n\ndef test_one():\n    pass\n"})
    module = reach.test_module(tmp_path / "test" / "test_a.py")
    assert not (module.at_import or module.whole_module or module.tests)
