from __future__ import annotations

import numpy as np
import pytest

from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import build_node_config
from vla_ros.core.urdf import limits_from_urdf

URDF = """<robot name="arm">
  <link name="base"/><link name="l1"/><link name="l2"/><link name="l3"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="l1"/>
    <limit lower="-2.0" upper="2.5" velocity="1.5" effort="10"/></joint>
  <joint name="j2" type="prismatic"><parent link="l1"/><child link="l2"/>
    <limit lower="0.0" upper="0.3" velocity="0.2" effort="10"/></joint>
  <joint name="wheel" type="continuous"><parent link="l2"/><child link="l3"/>
    <limit velocity="3.0" effort="1"/></joint>
</robot>"""


def test_when_urdf_given_expect_position_and_velocity_limits_in_joint_names_order(tmp_path) -> None:
    path = tmp_path / "arm.urdf"
    path.write_text(URDF)
    limits = limits_from_urdf(path, ["j2", "j1"], [1.0, 2.0])
    np.testing.assert_array_equal(limits.lower, [0.0, -2.0])
    np.testing.assert_array_equal(limits.upper, [0.3, 2.5])
    np.testing.assert_array_equal(limits.max_velocity, [0.2, 1.5])
    np.testing.assert_array_equal(limits.max_acceleration, [1.0, 2.0])


def test_when_joint_missing_from_urdf_expect_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="joint 'j9' not found"):
        limits_from_urdf(URDF, ["j1", "j9"], [1.0, 1.0])


def test_when_joint_continuous_expect_refused_not_unlimited() -> None:
    with pytest.raises(ConfigError, match="'wheel' \\(continuous\\) has no position limits"):
        limits_from_urdf(URDF, ["wheel"], [1.0])


def test_node_config_takes_limits_from_urdf_parameter(tmp_path) -> None:
    path = tmp_path / "arm.urdf"
    path.write_text(URDF)
    config = build_node_config({"joint_names": ["j1", "j2"], "joint_limits.urdf": str(path),
                                "joint_limits.max_acceleration": [3.0, 3.0]})
    np.testing.assert_array_equal(config.limits.upper, [2.5, 0.3])
