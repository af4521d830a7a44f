"""The simulated world: stepping, rendering, seeded resets and every command interface."""

from __future__ import annotations

import numpy as np
import pytest

import vla_ros.sim  # noqa: F401  (selects the GL backend before mujoco is imported)
from vla_ros.sim.commands import CommandError, CommandMode, JointTrajectoryCommand, TrajectoryPoint
from vla_ros.sim.kinematics import TOOL_DOWN_QUAT_XYZW
from vla_ros.sim.model import ARM_JOINTS, HOME_POSITIONS, JOINT_LOWER, JOINT_UPPER
from vla_ros.sim.world import ArmSim, SimConfig, SimConfigError


@pytest.fixture(scope="module")
def sim() -> ArmSim:
    world = ArmSim(SimConfig(image_width=160, image_height=120, randomize_home=0.0))
    yield world
    world.close()


@pytest.fixture()
def fresh(sim: ArmSim) -> ArmSim:
    sim.reset(seed=7)
    return sim


def test_when_stepped_expect_sim_time_advances_by_duration(fresh: ArmSim) -> None:
    start = fresh.time
    fresh.step(0.1)
    assert fresh.time - start == pytest.approx(0.1, abs=1e-9)


def test_when_rendered_expect_rgb_image_of_configured_size_with_content(fresh: ArmSim) -> None:
    image = fresh.render()
    assert image.shape == (120, 160, 3)
    assert image.dtype == np.uint8
    assert image.std() > 10.0  # not a blank frame
    # The three objects' colours are all visible: strongly red, green and blue pixels exist.
    r, g, b = (image[..., i].astype(int) for i in range(3))
    assert np.any((r > 150) & (g < 80) & (b < 80))
    assert np.any((g > 120) & (r < 80) & (b < 100))
    assert np.any((b > 150) & (r < 80))


def test_when_an_object_moves_expect_the_image_changes(fresh: ArmSim) -> None:
    before = fresh.render().astype(int)
    adr = fresh._object_qpos["red_cube"]  # test-only: teleport the cube across the table
    fresh.data.qpos[adr + 1] += 0.12
    fresh.step(0.01)
    after = fresh.render().astype(int)
    changed = np.abs(after - before).sum(axis=2) > 60
    assert changed.sum() > 50


def test_when_reset_with_same_seed_expect_same_episode_and_different_seed_differs(sim: ArmSim) -> None:
    first = sim.reset(seed=11)
    placement = sim.object_positions()
    again = sim.reset(seed=11)
    assert (again.task, again.instruction) == (first.task, first.instruction)
    for name, pos in sim.object_positions().items():
        np.testing.assert_allclose(pos, placement[name])
    sim.reset(seed=12)
    assert any(np.linalg.norm(sim.object_positions()[n] - placement[n]) > 1e-3 for n in placement)


def test_when_reset_expect_objects_resting_apart_on_the_table(sim: ArmSim) -> None:
    for seed in range(20):
        sim.reset(seed=seed)
        sim.step(0.3)
        positions = list(sim.object_positions().values())
        assert all(0.0 < p[2] < 0.05 for p in positions)
        gaps = [np.linalg.norm(a[:2] - b[:2]) for i, a in enumerate(positions) for b in positions[i + 1:]]
        assert min(gaps) > 0.1


def test_when_position_command_expect_joints_reach_target(fresh: ArmSim) -> None:
    target = HOME_POSITIONS + np.array([0.4, 0.2, -0.3, 0.5, -0.3, 0.6, 0.03])
    fresh.command_positions(target)
    fresh.step(2.0)
    np.testing.assert_allclose(fresh.joint_positions(), target, atol=0.01)


def test_when_position_command_moves_far_expect_speed_within_velocity_limit(fresh: ArmSim) -> None:
    fresh.command_positions(HOME_POSITIONS + np.array([1.5, 0, 0, 0, 0, 0, 0]))
    peak = 0.0
    for _ in range(100):
        fresh.step(0.01)
        peak = max(peak, abs(fresh.joint_velocities()[0]))
    assert 1.0 < peak <= fresh.controller.max_velocity[0] * 1.05


def test_when_position_command_beyond_limits_expect_joints_stop_at_limits(fresh: ArmSim) -> None:
    # Joints whose limits the arm can reach without hitting the table or itself.
    command = HOME_POSITIONS.copy()
    command[[0, 3, 5, 6]] = 10.0
    command[4] = -10.0
    fresh.command_positions(command)
    fresh.step(3.0)
    q = fresh.joint_positions()
    assert np.all(q <= JOINT_UPPER + 0.01) and np.all(q >= JOINT_LOWER - 0.01)
    np.testing.assert_allclose(q[[0, 3, 5, 6]], JOINT_UPPER[[0, 3, 5, 6]], atol=0.01)
    assert q[4] == pytest.approx(JOINT_LOWER[4], abs=0.01)


def test_when_velocity_command_expect_positions_integrate_it(fresh: ArmSim) -> None:
    start = fresh.joint_positions()
    velocity = np.array([0.3, 0.0, 0.0, -0.4, 0.0, 0.0])
    for _ in range(10):  # re-sent at 20 Hz like a controller would, within cmd_timeout
        fresh.command_velocities(velocity)
        fresh.step(0.05)
    moved = fresh.joint_positions()[:6] - start[:6]
    # 0.5 s at the commanded velocity, minus the short acceleration ramp at the limit.
    np.testing.assert_allclose(moved, velocity * 0.5, atol=0.03)


def test_when_velocity_commands_stop_expect_hold_after_timeout(fresh: ArmSim) -> None:
    fresh.command_velocities([0.5, 0, 0, 0, 0, 0])
    fresh.step(fresh.config.cmd_timeout + 0.3)
    assert fresh.controller.mode == CommandMode.HOLD
    held = fresh.joint_positions()
    fresh.step(0.5)
    np.testing.assert_allclose(fresh.joint_positions(), held, atol=0.005)
    assert held[0] - HOME_POSITIONS[0] < 0.5 * (fresh.config.cmd_timeout + 0.3)


def test_when_velocity_drives_into_a_limit_expect_joint_stops_at_limit(fresh: ArmSim) -> None:
    for _ in range(40):
        fresh.command_velocities([0, 0, 0, 0, -3.0, 0])
        fresh.step(0.05)
    assert fresh.joint_positions()[4] == pytest.approx(JOINT_LOWER[4], abs=0.02)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_when_twist_command_expect_tool_moves_in_commanded_direction(fresh: ArmSim, axis: int) -> None:
    fresh.command_positions(fresh.kinematics.solve_ik([0.4, 0.0, 0.2], TOOL_DOWN_QUAT_XYZW, HOME_POSITIONS[:6])
                            .positions)
    fresh.step(1.5)
    start, _ = fresh.tool_pose()
    twist = np.zeros(6)
    twist[axis] = 0.05
    for _ in range(20):
        fresh.command_twist(twist)
        fresh.step(0.05)
    moved = fresh.tool_pose()[0] - start
    assert moved[axis] == pytest.approx(0.05, abs=0.012)
    assert np.linalg.norm(np.delete(moved, axis)) < 0.01


def test_when_pose_command_expect_tool_reaches_pose_within_tolerance(fresh: ArmSim) -> None:
    target = np.array([0.45, -0.1, 0.15])
    # Tool down, yawed 30 degrees about the vertical.
    yaw = np.deg2rad(30)
    quat = np.array([np.sin(yaw / 2), np.cos(yaw / 2), 0.0, 0.0])
    assert fresh.command_pose(target, quat)
    fresh.step(2.5)
    position, orientation = fresh.tool_pose()
    assert np.linalg.norm(position - target) < 0.005
    assert abs(np.dot(orientation, quat)) > np.cos(0.02 / 2)  # within ~0.02 rad


def test_when_pose_is_out_of_reach_expect_rejected_and_arm_holds(fresh: ArmSim) -> None:
    assert not fresh.command_pose([2.0, 0.0, 0.5], TOOL_DOWN_QUAT_XYZW)
    assert fresh.controller.last_ik_error is not None
    start = fresh.joint_positions()
    fresh.step(0.5)
    np.testing.assert_allclose(fresh.joint_positions(), start, atol=0.005)


def test_when_trajectory_command_expect_points_followed_in_time(fresh: ArmSim) -> None:
    start = fresh.joint_positions()[:6]
    p1, p2 = start + 0.3, start + np.array([0.6, 0.3, -0.2, 0.3, 0.3, 0.3])
    trajectory = JointTrajectoryCommand(ARM_JOINTS, (TrajectoryPoint(1.0, p1), TrajectoryPoint(2.0, p2)))
    fresh.command_trajectory(trajectory)
    fresh.step(0.5)  # halfway to the first point: linear interpolation from the state at receipt
    np.testing.assert_allclose(fresh.joint_positions()[:6], start + 0.15, atol=0.02)
    fresh.step(0.5)
    np.testing.assert_allclose(fresh.joint_positions()[:6], p1, atol=0.02)
    fresh.step(1.5)  # past the last point: hold it
    np.testing.assert_allclose(fresh.joint_positions()[:6], p2, atol=0.01)


def test_when_trajectory_has_velocities_expect_cubic_segment_through_midpoint(fresh: ArmSim) -> None:
    start = fresh.joint_positions()[:6]
    goal = start + 0.4
    # Zero end velocities: the cubic passes the midpoint at half time, slower than linear early on.
    points = (TrajectoryPoint(1.0, goal, np.zeros(6)),)
    fresh.command_trajectory(JointTrajectoryCommand(ARM_JOINTS, points))
    fresh.step(0.25)
    early = fresh.joint_positions()[:6] - start
    fresh.step(0.25)
    np.testing.assert_allclose(fresh.joint_positions()[:6], start + 0.2, atol=0.02)
    np.testing.assert_allclose(early, 0.4 * (3 * 0.25**2 - 2 * 0.25**3), atol=0.02)


def test_when_new_trajectory_arrives_expect_it_replaces_the_old_one(fresh: ArmSim) -> None:
    start = fresh.joint_positions()[:6]
    fresh.command_trajectory(JointTrajectoryCommand(ARM_JOINTS, (TrajectoryPoint(1.0, start + 0.5),)))
    fresh.step(0.3)
    fresh.command_trajectory(JointTrajectoryCommand(ARM_JOINTS, (TrajectoryPoint(0.5, start - 0.2),)))
    fresh.step(1.5)
    np.testing.assert_allclose(fresh.joint_positions()[:6], start - 0.2, atol=0.01)


def test_when_trajectory_names_a_subset_expect_other_joints_hold(fresh: ArmSim) -> None:
    start = fresh.joint_positions()
    fresh.command_trajectory(JointTrajectoryCommand(("joint_3", "gripper"),
                                                    (TrajectoryPoint(0.5, np.array([start[2] - 0.3, 0.02])),)))
    fresh.step(1.0)
    q = fresh.joint_positions()
    assert q[2] == pytest.approx(start[2] - 0.3, abs=0.01)
    assert q[6] == pytest.approx(0.02, abs=0.003)
    np.testing.assert_allclose(np.delete(q, [2, 6]), np.delete(start, [2, 6]), atol=0.01)


@pytest.mark.parametrize("bad", [
    lambda s: s.command_positions([0.0] * 5),
    lambda s: s.command_velocities([np.nan] * 6),
    lambda s: s.command_twist([0.0] * 3),
    lambda s: s.command_trajectory(JointTrajectoryCommand(("elbow",), (TrajectoryPoint(1.0, np.zeros(1)),))),
    lambda s: s.command_trajectory(JointTrajectoryCommand(ARM_JOINTS, (TrajectoryPoint(1.0, np.zeros(6)),
                                                                       TrajectoryPoint(0.5, np.zeros(6))))),
])
def test_when_command_is_malformed_expect_command_error_and_no_motion(fresh: ArmSim, bad) -> None:
    start = fresh.joint_positions()
    with pytest.raises(CommandError):
        bad(fresh)
    fresh.step(0.3)
    np.testing.assert_allclose(fresh.joint_positions(), start, atol=0.005)


def test_when_config_field_is_invalid_expect_error_naming_it() -> None:
    with pytest.raises(SimConfigError, match="image_width"):
        SimConfig(image_width=0)
    with pytest.raises(SimConfigError, match="physics_dt"):
        SimConfig(physics_dt=0.1)


def test_when_angular_twist_about_z_expect_tool_yaws_in_place(fresh: ArmSim) -> None:
    fresh.command_positions(fresh.kinematics.solve_ik([0.4, 0.0, 0.2], TOOL_DOWN_QUAT_XYZW, HOME_POSITIONS[:6])
                            .positions)
    fresh.step(1.5)
    start_pos, start_quat = fresh.tool_pose()
    for _ in range(20):
        fresh.command_twist([0, 0, 0, 0, 0, 0.3])
        fresh.step(0.05)
    pos, quat = fresh.tool_pose()
    assert np.linalg.norm(pos - start_pos) < 0.01
    # Relative rotation angle between the orientations: ~0.3 rad/s for 1 s (minus the acceleration ramp).
    angle = 2 * np.arccos(min(1.0, abs(float(np.dot(quat, start_quat)))))
    assert angle == pytest.approx(0.3, abs=0.05)
