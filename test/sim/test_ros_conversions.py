"""ROS message -> sim command conversions of the sim node (no running node needed)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Duration
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_ros.sim.node import seconds_from_stamp, stamp_from_seconds, trajectory_from_msg


def test_when_converting_stamps_expect_round_trip_to_the_nanosecond() -> None:
    stamp = stamp_from_seconds(12.345678901)
    assert (stamp.sec, stamp.nanosec) == (12, 345678901)
    assert seconds_from_stamp(stamp) == pytest.approx(12.345678901, abs=1e-9)


def test_when_trajectory_message_converted_expect_names_times_and_optional_velocities() -> None:
    msg = JointTrajectory()
    msg.joint_names = ["joint_2", "joint_1"]
    msg.points = [JointTrajectoryPoint(positions=[0.1, 0.2], time_from_start=Duration(sec=0, nanosec=500_000_000)),
                  JointTrajectoryPoint(positions=[0.3, 0.4], velocities=[0.0, 0.0], time_from_start=Duration(sec=1))]
    command = trajectory_from_msg(msg)
    assert command.joint_names == ("joint_2", "joint_1")
    assert command.start_time is None  # zero stamp: start on receipt, like JTC
    assert [p.time_from_start for p in command.points] == [0.5, 1.0]
    assert command.points[0].velocities is None
    np.testing.assert_allclose(command.points[1].velocities, [0.0, 0.0])

    msg.header.stamp = stamp_from_seconds(3.0)
    assert trajectory_from_msg(msg).start_time == pytest.approx(3.0)
