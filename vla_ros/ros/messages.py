"""Command messages for each command_interface, with the semantics their consumers expect."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

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


def twist_stamped(values: np.ndarray, stamp: Time, frame_id: str) -> TwistStamped:
    """MoveIt Servo delta_twist_cmds: [vx vy vz wx wy wz] in frame_id."""
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in values[:3])
    msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = (float(v) for v in values[3:6])
    return msg


def pose_stamped(values: np.ndarray, stamp: Time, frame_id: str) -> PoseStamped:
    """[x y z qx qy qz qw] in frame_id."""
    msg = PoseStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in values[:3])
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in values[3:7])
    return msg
