"""The installed package (make test installs it into the venv) is laid out for ament and `ros2 run`."""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PREFIX = Path(sys.prefix)
SHARE = PREFIX / "share" / "vla_ros"
INSTALLED = (PREFIX / "share" / "ament_index" / "resource_index" / "packages" / "vla_ros").exists()

needs_install = pytest.mark.skipif(not INSTALLED and not os.environ.get("CI"),
                                   reason="vla_ros not installed in this environment (make test installs it)")


def _setup_executables() -> dict[str, str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXECUTABLES":
            return ast.literal_eval(node.value)
    raise AssertionError("EXECUTABLES not found in setup.py")


def _documented_executables() -> dict[str, str]:
    """docs/interface.md's executables table: console script name -> "module:function"."""
    rows = re.findall(r"^\| `(vla_\w+)[^`]*` \| `([\w.]+:\w+)` \|", (REPO / "docs" / "interface.md").read_text(),
                      flags=re.MULTILINE)
    return dict(rows)


def test_when_comparing_the_interface_doc_with_setup_expect_the_same_executables_and_entry_points() -> None:
    documented = _documented_executables()
    assert documented, "no executables table found in docs/interface.md"
    assert documented == _setup_executables()


@needs_install
def test_ament_index_share_and_lib_are_installed() -> None:
    assert (SHARE / "package.xml").is_file()
    for launch_file in ("vla.launch.py", "sim.launch.py", "demo.launch.py"):
        assert (SHARE / "launch" / launch_file).is_file()
    for config in ("default.yaml", "sim.yaml", "ur5e.yaml", "fr3.yaml"):
        assert (SHARE / "config" / config).is_file()
    for name in ("vla_node", "vla_instruct"):
        wrapper = PREFIX / "lib" / "vla_ros" / name
        assert wrapper.is_file() and os.access(wrapper, os.X_OK), wrapper


@needs_install
def test_ament_index_finds_the_package() -> None:
    from ament_index_python.packages import get_package_share_directory

    assert Path(get_package_share_directory("vla_ros")) == SHARE


def _launch_calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]


@pytest.mark.parametrize("path", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files_start_declared_executables_and_existing_configs(path: Path) -> None:
    executables = set(_setup_executables())
    source = path.read_text()
    for call in _launch_calls(path):
        for keyword in call.keywords:
            if keyword.arg == "executable":
                assert ast.literal_eval(keyword.value) in executables
            if keyword.arg == "package":
                assert ast.literal_eval(keyword.value) == "vla_ros"
    for config in re.findall(r'"config", "([\w.]+\.yaml)"', source):
        assert (REPO / "config" / config).is_file(), config
    assert "generate_launch_description" in source


@pytest.mark.parametrize("path", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_path_joins_hold_only_strings_or_substitutions(path: Path) -> None:
    """Jazzy's PathJoinSubstitution rejects a nested list item with a TypeError at launch time."""
    for call in _launch_calls(path):
        if getattr(call.func, "id", "") == "PathJoinSubstitution":
            (items,) = call.args
            assert not any(isinstance(item, ast.List) for item in items.elts), ast.unparse(call)


def test_launch_refuses_a_params_file_that_does_not_exist(tmp_path: Path) -> None:
    from vla_ros.ros.launch_support import LaunchConfigurationError, require_params_file

    existing = tmp_path / "robot.yaml"
    existing.write_text("{}")
    require_params_file(str(existing))
    with pytest.raises(LaunchConfigurationError, match=r"config:=<name> picks config/<name>\.yaml"):
        require_params_file(str(tmp_path / "typo.yaml"))


def test_shipped_profiles_apply_under_any_namespace() -> None:
    """`/**/vla_node` keys: `namespace:=arm` must not silently drop the robot's limits."""
    for profile in sorted((REPO / "config").glob("*.yaml")):
        document = __import__("yaml").safe_load(profile.read_text())
        assert "/**/vla_node" in document, profile.name
