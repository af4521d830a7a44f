"""Commands per command_interface as plain data: the vector each consumer expects, in the right fields."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.commands import (
    JointArrayCommand,
    JointTrajectoryCommand,
    PoseCommand,
    TwistCommand,
    build_command,
)
from vla_ros.core.types import CommandInterface

JOINTS = ("a", "b", "c")


@pytest.mark.parametrize("interface", [CommandInterface.JOINT_POSITION, CommandInterface.JOINT_VELOCITY])
def test_when_forward_controller_interface_expect_bare_array_copy(interface: CommandInterface) -> None:
    vector = np.array([0.1, 0.2, 0.3])
    command = build_command(interface, vector, JOINTS, "base")
    assert isinstance(command, JointArrayCommand)
    vector[0] = 9.0
    np.testing.assert_array_equal(command.values, [0.1, 0.2, 0.3])


def test_when_twist_expect_linear_then_angular_in_the_frame() -> None:
    command = build_command(CommandInterface.TWIST, np.arange(6.0), JOINTS, "tool0")
    assert isinstance(command, TwistCommand)
    np.testing.assert_array_equal(command.linear, [0, 1, 2])
    np.testing.assert_array_equal(command.angular, [3, 4, 5])
    assert command.frame_id == "tool0"


def test_when_pose_expect_position_and_xyzw_quaternion() -> None:
    command = build_command(CommandInterface.POSE, np.array([1, 2, 3, 0, 0, 0, 1.0]), JOINTS, "base")
    assert isinstance(command, PoseCommand)
    np.testing.assert_array_equal(command.position, [1, 2, 3])
    np.testing.assert_array_equal(command.orientation_xyzw, [0, 0, 0, 1])


def test_when_joint_trajectory_expect_joint_names_and_points_in_order() -> None:
    points = [(0.01, np.zeros(3)), (0.02, np.ones(3))]
    command = build_command(CommandInterface.JOINT_TRAJECTORY, np.zeros(3), JOINTS, "base", points)
    assert isinstance(command, JointTrajectoryCommand)
    assert command.joint_names == JOINTS
    assert [t for t, _ in command.points] == [0.01, 0.02]


def test_when_joint_trajectory_without_points_expect_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one trajectory point"):
        build_command(CommandInterface.JOINT_TRAJECTORY, np.zeros(3), JOINTS, "base", [])
