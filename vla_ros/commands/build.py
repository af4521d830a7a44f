"""The command each command_interface publishes, as plain data (ROS-free); vla_ros/ros/messages.py converts.

The safety layer produces one vector per tick: joint positions or velocities, a twist [vx vy vz wx wy wz], or
a pose [x y z qx qy qz qw]. What a consumer expects of it differs per interface: joint_trajectory_controller
takes a short horizon of points (from commands/trajectory.py), the forward controllers a bare array in the
controller's joint order, MoveIt Servo a twist in a frame, Cartesian controllers a pose in a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.core.types import CommandInterface


@dataclass(frozen=True)
class JointTrajectoryCommand:
    """Points (time from the command's stamp, positions), first the safety-filtered command of this tick."""

    joint_names: tuple[str, ...]
    points: tuple[tuple[float, np.ndarray], ...]


@dataclass(frozen=True)
class JointArrayCommand:
    """ros2_control forward controllers: one value per joint (positions or velocities)."""

    values: np.ndarray


@dataclass(frozen=True)
class TwistCommand:
    linear: np.ndarray  # m/s, [vx vy vz]
    angular: np.ndarray  # rad/s, [wx wy wz]
    frame_id: str


@dataclass(frozen=True)
class PoseCommand:
    position: np.ndarray  # m, [x y z]
    orientation_xyzw: np.ndarray  # unit quaternion
    frame_id: str


Command = JointTrajectoryCommand | JointArrayCommand | TwistCommand | PoseCommand


def build_command(interface: CommandInterface, command: np.ndarray, joint_names: tuple[str, ...] | list[str],
                  frame_id: str, trajectory: list[tuple[float, np.ndarray]] | None = None) -> Command:
    """The command for `interface` from the tick's vector (and, for joint_trajectory, its guarded horizon)."""
    values = np.asarray(command, dtype=float)
    if interface is CommandInterface.JOINT_TRAJECTORY:
        if not trajectory:
            raise ValueError("joint_trajectory needs at least one trajectory point (the tick's command)")
        return JointTrajectoryCommand(tuple(joint_names), tuple((float(t), np.asarray(p, dtype=float))
                                                                for t, p in trajectory))
    if interface is CommandInterface.TWIST:
        return TwistCommand(values[:3].copy(), values[3:6].copy(), frame_id)
    if interface is CommandInterface.POSE:
        return PoseCommand(values[:3].copy(), values[3:7].copy(), frame_id)
    return JointArrayCommand(values.copy())
