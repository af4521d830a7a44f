"""package.xml declares what the installed code imports, no more and no less.

The rule: every ROS 2 module imported anywhere in vla_ros/ or launch/ (both are installed) is an exec_depend
(or depend) of the same name; a Python library with a rosdep key is declared through that key (ROSDEP_KEYS);
a library installed from pip only (no rosdep key) is listed in PIP_ONLY, so a new import has to be sorted into
one of the two. In the other direction every declared exec_depend/depend is imported, and every test_depend is
imported by test/ (TEST_ROSDEP_KEYS).
"""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ros_packages import is_ros_module

REPO = Path(__file__).resolve().parents[2]
INSTALLED_SOURCES = (REPO / "vla_ros", REPO / "launch")

ROSDEP_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml", "PIL": "python3-pil",
               "msgpack": "python3-msgpack", "websockets": "python3-websockets"}
TEST_ROSDEP_KEYS = {"pytest": "python3-pytest", "hypothesis": "python3-hypothesis"}
# From pip only (requirements*.txt, setup.py extras), named in package.xml's comment rather than declared
# (hypothesis also drives `vla_bench fuzz`, installed with the bench extra).
PIP_ONLY = frozenset({"torch", "onnx", "onnxruntime", "tensorrt", "tokenizers", "mujoco", "matplotlib", "pyarrow",
                      "rosbags", "hypothesis", "openpi_server", "ray", "fastapi", "uvicorn"})


def _imported_top_level(roots: tuple[Path, ...]) -> set[str]:
    names: set[str] = set()
    for root in roots:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.partition(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.partition(".")[0])
    return names


def _declared(*tags: str) -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def _required_keys(imported: set[str]) -> set[str]:
    return {name for name in imported if is_ros_module(name)} | {ROSDEP_KEYS[name] for name in imported
                                                                if name in ROSDEP_KEYS}


def test_when_reading_the_installed_code_expect_every_third_party_import_sorted_into_ros_rosdep_or_pip() -> None:
    imported = _imported_top_level(INSTALLED_SOURCES)
    unsorted = {name for name in imported
                if name not in sys.stdlib_module_names and name != "vla_ros" and not is_ros_module(name)
                and name not in ROSDEP_KEYS and name not in PIP_ONLY}
    assert not unsorted, f"add these to ROSDEP_KEYS (and package.xml) or to PIP_ONLY: {sorted(unsorted)}"


def test_when_comparing_package_xml_with_the_imports_expect_the_same_runtime_dependencies() -> None:
    required = _required_keys(_imported_top_level(INSTALLED_SOURCES))
    declared = _declared("exec_depend", "depend")
    assert not required - declared, f"imported but not declared in package.xml: {sorted(required - declared)}"
    assert not declared - required, f"declared in package.xml but imported nowhere: {sorted(declared - required)}"


def test_when_comparing_test_dependencies_with_the_test_imports_expect_each_one_used() -> None:
    test_imports = _imported_top_level((REPO / "test",))
    for key in _declared("test_depend"):
        modules = [name for name, rosdep_key in TEST_ROSDEP_KEYS.items() if rosdep_key == key]
        assert any(name in test_imports for name in modules), f"test_depend {key} is imported by no test"
