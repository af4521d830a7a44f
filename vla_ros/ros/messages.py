"""ROS messages for the commands of vla_ros.commands, and stamp conversions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_ros.commands import Command, JointArrayCommand, JointTrajectoryCommand, TwistCommand
from vla_ros.core.types import CommandInterface

CommandMessage = JointTrajectory | Float64MultiArray | TwistStamped | PoseStamped

MESSAGE_TYPES: dict[CommandInterface, type] = {
    CommandInterface.JOINT_TRAJECTORY: JointTrajectory,
    CommandInterface.JOINT_POSITION: Float64MultiArray,
    CommandInterface.JOINT_VELOCITY: Float64MultiArray,
    CommandInterface.TWIST: TwistStamped,
    CommandInterface.POSE: PoseStamped,
}


def seconds_to_time(seconds: float) -> Time:
    sec, nanosec = divmod(round(seconds * 1e9), 1_000_000_000)
    return Time(sec=int(sec), nanosec=int(nanosec))


def seconds_to_duration(seconds: float) -> Duration:
    sec, nanosec = divmod(round(seconds * 1e9), 1_000_000_000)
    return Duration(sec=int(sec), nanosec=int(nanosec))


def time_to_seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def to_message(command: Command, stamp: Time) -> CommandMessage:
    """The message for a command built by vla_ros.commands; `stamp` is the tick's time on the node's clock."""
    if isinstance(command, JointTrajectoryCommand):
        return joint_trajectory(command.joint_names, stamp, command.points)
    if isinstance(command, JointArrayCommand):
        return float64_array(command.values)
    if isinstance(command, TwistCommand):
        msg = TwistStamped()
        _set_header(msg, stamp, command.frame_id)
        _set_xyz(msg.twist.linear, command.linear)
        _set_xyz(msg.twist.angular, command.angular)
        return msg
    msg = PoseStamped()
    _set_header(msg, stamp, command.frame_id)
    _set_xyz(msg.pose.position, command.position)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in command.orientation_xyzw)
    return msg


def _set_header(msg: TwistStamped | PoseStamped, stamp: Time, frame_id: str) -> None:
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id


def _set_xyz(vector: object, values: np.ndarray) -> None:
    vector.x, vector.y, vector.z = (float(v) for v in values[:3])


def joint_trajectory(joint_names: Sequence[str], stamp: Time,
                     points: Sequence[tuple[float, np.ndarray]]) -> JointTrajectory:
    """JTC message: header.stamp = when the trajectory starts; points' time_from_start relative to it."""
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = list(joint_names)
    for time_from_start, positions in points:
        point = JointTrajectoryPoint()
        point.positions = positions.tolist()
        point.time_from_start = seconds_to_duration(time_from_start)
        msg.points.append(point)
    return msg


def float64_array(values: np.ndarray) -> Float64MultiArray:
    """ros2_control forward controllers: one value per joint, in the controller's joint order."""
    msg = Float64MultiArray()
    msg.data = values.tolist()
    return msg
