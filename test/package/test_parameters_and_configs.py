"""The parameter schema, and every shipped YAML validated against it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import (
    DEFAULT_COMMAND_TOPICS,
    SCHEMA,
    build_node_config,
    load_params_file,
)
from vla_ros.core.types import CommandInterface

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
NODE_PROFILES = sorted(p for p in CONFIG_DIR.glob("*.yaml"))


def test_schema_defaults_build_a_valid_config() -> None:
    config = build_node_config({})
    assert config.interface is CommandInterface.JOINT_TRAJECTORY
    assert config.command_topic == DEFAULT_COMMAND_TOPICS[CommandInterface.JOINT_TRAJECTORY]


def test_every_parameter_has_a_description_and_sane_range() -> None:
    for spec in SCHEMA:
        assert len(spec.description) > 10, spec.name
        if spec.min_value is not None:
            assert spec.max_value is not None and spec.min_value <= spec.max_value, spec.name


@pytest.mark.parametrize("profile", NODE_PROFILES, ids=lambda p: p.name)
def test_every_shipped_profile_validates_over_the_defaults(profile: Path) -> None:
    values = load_params_file(CONFIG_DIR / "default.yaml")
    values.update(load_params_file(profile))
    config = build_node_config(values)
    assert len(config.joint_names) == config.limits.dof


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"control_rate_hz": 0.5}, "control_rate_hz=0.5: expected >= 1.0"),
        ({"command_interface": "torque"}, "command_interface='torque': expected one of"),
        ({"safety.image_timeout": -1.0}, "safety.image_timeout=-1.0"),
        ({"backend": "jax"}, "backend='jax'"),
        ({"joint_limits.lower": [0.0] * 5}, "joint_limits.lower"),
        ({"joint_limits.lower": [1.0] * 6, "joint_limits.upper": [0.0] * 6}, "lower < upper"),
        ({"cameras": ["front"]}, "cameras entry 'front': expected 'name=topic'"),
        ({"cameras": ["a=/x", "a=/y"]}, "unique camera names"),
        ({"safety.workspace_min": [0.0, 0.0, 2.0]}, "min < max"),
        ({"no_such_parameter": 1}, "unknown parameters"),
        ({"control_thread_priority": 50, "io_thread_priority": 50}, "io_thread_priority=50: expected below "
                                                                   "control_thread_priority=50"),
        ({"io_thread_priority": 10}, "io_thread_priority=10: expected below control_thread_priority=0"),
    ],
)
def test_when_value_invalid_expect_error_naming_it(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        build_node_config(values)


def test_when_camera_topic_ends_in_compressed_expect_compressed_subscription() -> None:
    config = build_node_config({"cameras": ["front=/cam/image_raw/compressed", "wrist=/wrist/image"]})
    assert [c.compressed for c in config.inputs.cameras] == [True, False]


def test_when_use_sim_time_in_params_file_expect_accepted() -> None:
    assert build_node_config({"use_sim_time": True}).joint_names


def _controller_sections(document: dict) -> dict[str, dict]:
    return {name: (body or {}).get("ros__parameters", {}) for name, body in document.items()
            if name != "controller_manager"}


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "controllers").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_controller_config_enables_its_command_timeout(path: Path) -> None:
    """S12: when vla_node goes quiet, the downstream controller stops on its own."""
    sections = _controller_sections(yaml.safe_load(path.read_text()))
    assert sections, f"{path.name} defines no controller"
    for name, params in sections.items():
        if "moveit_servo" in params:
            assert params["moveit_servo"]["incoming_command_timeout"] > 0, name
        else:
            assert params.get("cmd_timeout", 0) > 0, f"{path.name}: {name} has no cmd_timeout > 0"
