"""Commands as plain data per command_interface, and the guarded JointTrajectory horizon (ROS-free)."""

from vla_ros.commands.build import (
    Command,
    JointArrayCommand,
    JointTrajectoryCommand,
    PoseCommand,
    TwistCommand,
    build_command,
)
from vla_ros.commands.trajectory import guard_horizon

__all__ = ["Command", "JointArrayCommand", "JointTrajectoryCommand", "PoseCommand", "TwistCommand",
           "build_command", "guard_horizon"]
