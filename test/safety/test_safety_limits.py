"""S4-S7 limit functions: unit cases and hypothesis properties on single steps and on closed loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vla_ros.safety.limits import (
    ACCEL_SCALED,
    DELTA_CAPPED,
    EE_SPEED_SCALED,
    POSITION_CLAMPED,
    VELOCITY_SCALED,
    WORKSPACE_CLAMPED,
    braking_speed,
    limit_joint_position,
    limit_joint_velocity,
    limit_pose,
    limit_twist,
    normalized_pose,
    quaternion_angle,
)

DT = 0.01
LOW = np.array([-1.9, -1.4, -2.9])  # joint limits less the margin
HIGH = np.array([1.9, 1.4, 2.9])
VMAX = np.array([1.0, 1.5, 2.0])
AMAX = np.array([5.0, 8.0, 10.0])
MAX_DELTA = 0.05
BOX_LOW = np.array([-1.0, -1.0, 0.0])
BOX_HIGH = np.array([1.0, 1.0, 1.5])
# Overflow / invalid-value warnings in the limit math would mean an unguarded division: fail on them.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
EPS = 1e-9

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
joint_vectors = st.lists(finite, min_size=3, max_size=3).map(np.array)
in_range = st.lists(st.floats(min_value=-3.5, max_value=3.5), min_size=3, max_size=3).map(np.array)


def outside_distance(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.maximum(low - x, x - high))


def position_step(target, anchor, previous_velocity, measured):
    return limit_joint_position(target, anchor, previous_velocity, measured, LOW, HIGH, VMAX, AMAX, MAX_DELTA, DT)


# ---------------------------------------------------------------- unit cases


def test_when_target_beyond_joint_limit_expect_stop_inside_margin_at_rest():
    command, velocity = np.array([1.5, 0.0, 0.0]), np.zeros(3)
    for _ in range(300):
        result = position_step(np.array([5.0, 0.0, 0.0]), command, velocity, command)
        assert np.all(result.command <= HIGH + EPS)
        assert np.all(np.abs(result.velocity - velocity) <= AMAX * DT + EPS)  # braked, not slammed
        command, velocity = result.command, result.velocity
    np.testing.assert_allclose(command, [1.9, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(velocity, 0.0, atol=1e-6)


def test_when_velocity_too_high_expect_one_scale_for_all_joints():
    anchor = np.zeros(3)
    target = np.array([0.3, 0.1, -0.05])  # 30 rad/s on joint 0 if taken in one step
    result = limit_joint_position(target, anchor, np.zeros(3), anchor, LOW, HIGH, VMAX, np.full(3, 1e9),
                                  1.0, DT)
    assert VELOCITY_SCALED in result.interventions
    assert np.all(np.abs(result.velocity) <= VMAX + EPS)
    np.testing.assert_allclose(result.velocity / np.linalg.norm(result.velocity), target / np.linalg.norm(target))


def test_when_step_exceeds_max_delta_from_measured_expect_uniform_cap():
    measured = np.zeros(3)
    anchor = np.array([0.045, 0.0, 0.0])  # the robot lags the previous command by 0.045
    result = limit_joint_position(anchor + np.array([1.0, 0.5, 0.0]), anchor, np.array([1.0, 0.5, 0.0]), measured,
                                  LOW, HIGH, VMAX, AMAX, MAX_DELTA, DT)
    assert DELTA_CAPPED in result.interventions
    assert np.all(np.abs(result.command - measured) <= MAX_DELTA + EPS)
    step = result.command - anchor
    assert step[0] > 0 and step[1] > 0 and abs(step[0] / step[1] - 2.0) < 1e-6  # direction kept


def test_when_measured_outside_limits_expect_motion_only_towards_inside():
    measured = np.array([1.95, 0.0, 0.0])  # beyond the margin
    result = position_step(np.array([1.95, 0.2, 0.0]), measured, np.zeros(3), measured)
    assert POSITION_CLAMPED in result.interventions
    assert result.command[0] <= measured[0] + EPS


def test_when_joint_velocity_heads_to_limit_expect_braking_to_rest_inside():
    position, velocity = np.array([1.5, 0.0, 0.0]), np.zeros(3)
    for _ in range(300):
        result = limit_joint_velocity(np.array([1.0, 0.0, 0.0]), velocity, position, LOW, HIGH, VMAX, AMAX,
                                      MAX_DELTA, DT)
        assert np.all(np.abs(result.velocity - velocity) <= AMAX * DT + EPS)
        velocity = result.velocity
        position = position + velocity * DT
        assert np.all(position <= HIGH + EPS)
    assert POSITION_CLAMPED in result.interventions
    np.testing.assert_allclose(velocity, 0.0, atol=1e-6)


def test_when_twist_too_fast_expect_scaled_with_direction_kept():
    target = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.5])
    result = limit_twist(target, np.zeros(6), 0.25, 1.0, 1e9, 1e9, DT, None, BOX_LOW, BOX_HIGH)
    assert EE_SPEED_SCALED in result.interventions
    np.testing.assert_allclose(result.command, target * 0.25)


def test_when_twist_angular_too_fast_expect_angular_cap_scales_whole_twist():
    target = np.array([0.1, 0.0, 0.0, 0.0, 0.0, 4.0])
    result = limit_twist(target, np.zeros(6), 0.25, 1.0, 1e9, 1e9, DT, None, BOX_LOW, BOX_HIGH)
    np.testing.assert_allclose(result.command, target / 4.0)


def test_when_twist_heads_out_of_workspace_expect_stop_at_the_wall():
    position, twist = np.array([0.9, 0.0, 0.5]), np.zeros(6)
    for _ in range(300):
        result = limit_twist(np.array([0.25, 0.0, 0.0, 0.0, 0.0, 0.0]), twist, 0.25, 1.0, 2.5, 10.0, DT, position,
                             BOX_LOW, BOX_HIGH)
        twist = result.command
        position = position + twist[:3] * DT
        assert position[0] <= 1.0 + EPS
    assert WORKSPACE_CLAMPED in result.interventions
    assert abs(twist[0]) < 1e-6


def test_when_pose_outside_box_expect_clamp_or_reject():
    target = normalized_pose(np.array([2.0, 0.0, -0.5, 0.0, 0.0, 0.0, 2.0]))
    clamped = limit_pose(target, None, BOX_LOW, BOX_HIGH, True, 0.25, 1.0, DT)
    np.testing.assert_allclose(clamped.command, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    assert WORKSPACE_CLAMPED in clamped.interventions
    assert limit_pose(target, None, BOX_LOW, BOX_HIGH, False, 0.25, 1.0, DT) is None


def test_when_pose_jumps_expect_speed_capped_along_the_way():
    previous = np.array([0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0])
    target = np.array([0.5, 0.0, 0.5, 0.0, 0.0, np.sin(0.5), np.cos(0.5)])  # 1 rad about z
    result = limit_pose(target, previous, BOX_LOW, BOX_HIGH, True, 0.25, 1.0, DT)
    assert EE_SPEED_SCALED in result.interventions
    assert np.linalg.norm(result.command[:3] - previous[:3]) <= 0.25 * DT + EPS
    assert quaternion_angle(previous[3:], result.command[3:]) <= 1.0 * DT + EPS
    assert result.command[0] > 0 and result.command[5] > 0


def test_braking_speed_is_exact_for_the_discrete_stream():
    for distance in (0.0, 1e-4, 0.01, 0.3, 2.0):
        speed, travelled = float(braking_speed(np.array(distance), 5.0, DT)), 0.0
        while speed > 0:
            travelled += speed * DT
            speed = max(0.0, speed - 5.0 * DT)
        assert travelled <= distance + EPS


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(target=joint_vectors, anchor_offset=st.lists(st.floats(-0.05, 0.05), min_size=3, max_size=3),
       measured=in_range, previous_velocity=st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3))
def test_property_position_step_respects_limits(target, anchor_offset, measured, previous_velocity):
    anchor = measured + np.array(anchor_offset)
    previous_velocity = np.array(previous_velocity) * VMAX
    result = position_step(target, anchor, previous_velocity, measured)
    assert np.all(np.isfinite(result.command))
    # S4: inside the band, or per joint no further outside than where it started
    assert np.all(outside_distance(result.command, LOW, HIGH) <= outside_distance(anchor, LOW, HIGH) + EPS)
    # S6
    assert np.all(np.abs(result.command - measured) <= MAX_DELTA + EPS)
    # S5 velocity (previous velocity is within the limits), and acceleration unless a guard had to win
    assert np.all(np.abs(result.velocity) <= VMAX + EPS)
    if not result.guarded:
        assert np.all(np.abs(result.velocity - previous_velocity) <= AMAX * DT + EPS)
    elif ACCEL_SCALED not in result.interventions:
        assert DELTA_CAPPED in result.interventions or POSITION_CLAMPED in result.interventions


@settings(max_examples=300, deadline=None)
@given(target=joint_vectors, measured=in_range)
def test_property_position_step_from_rest_keeps_direction(target, measured):
    result = position_step(target, measured, np.zeros(3), measured)
    wanted = np.clip(target, LOW, HIGH) - measured
    step = result.command - measured
    size = float(np.max(np.abs(wanted)))
    if size == 0.0:
        assert np.all(step == 0.0)
        return
    wanted, step = wanted / size, step / size  # unit scale: tiny vectors must not underflow in the dot product
    fraction = float(np.dot(step, wanted)) / float(np.dot(wanted, wanted))
    assert -EPS <= fraction <= 1.0 + EPS
    np.testing.assert_allclose(step, fraction * wanted, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(targets=st.lists(st.lists(st.floats(-3.5, 3.5), min_size=3, max_size=3), min_size=1, max_size=60),
       start=st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_property_tracking_robot_never_leaves_limits_nor_exceeds_velocity(targets, start):
    command, velocity = np.array(start), np.zeros(3)
    for target in targets:
        result = position_step(np.array(target), command, velocity, command)  # the robot reaches each command
        assert np.all(outside_distance(result.command, LOW, HIGH) <= outside_distance(command, LOW, HIGH) + EPS)
        assert np.all(np.abs(result.command - command) <= VMAX * DT + EPS)
        if not result.guarded:
            assert np.all(np.abs(result.velocity - velocity) <= AMAX * DT + EPS)
        command, velocity = result.command, result.velocity


@settings(max_examples=300, deadline=None)
@given(target=joint_vectors, previous=st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3),
       measured=st.one_of(st.none(), in_range))
def test_property_joint_velocity_respects_limits(target, previous, measured):
    previous = np.array(previous) * VMAX
    result = limit_joint_velocity(target, previous, measured, LOW, HIGH, VMAX, AMAX, MAX_DELTA, DT)
    assert np.all(np.isfinite(result.command))
    assert np.all(np.abs(result.command) <= VMAX + EPS)
    assert np.all(np.abs(result.command) * DT <= MAX_DELTA + EPS)
    if not result.guarded:
        assert np.all(np.abs(result.command - previous) <= AMAX * DT + EPS)
    if measured is not None:
        after = measured + result.command * DT
        assert np.all(outside_distance(after, LOW, HIGH) <= outside_distance(measured, LOW, HIGH) + EPS)


twists = st.lists(finite, min_size=6, max_size=6).map(np.array)


@settings(max_examples=300, deadline=None)
@given(target=twists, previous_fraction=st.floats(0.0, 1.0), previous_direction=st.lists(
    st.floats(-1.0, 1.0), min_size=6, max_size=6), ee=st.one_of(st.none(), st.lists(
        st.floats(-1.5, 1.5), min_size=3, max_size=3).map(np.array)))
def test_property_twist_respects_speed_accel_and_workspace(target, previous_fraction, previous_direction, ee):
    direction = np.array(previous_direction)
    previous = np.zeros(6)
    if np.linalg.norm(direction[:3]) > 0:
        previous[:3] = direction[:3] / np.linalg.norm(direction[:3]) * 0.25 * previous_fraction
    if np.linalg.norm(direction[3:]) > 0:
        previous[3:] = direction[3:] / np.linalg.norm(direction[3:]) * 1.0 * previous_fraction
    result = limit_twist(target, previous, 0.25, 1.0, 2.5, 10.0, DT, ee, BOX_LOW, BOX_HIGH)
    twist = result.command
    assert np.all(np.isfinite(twist))
    assert np.linalg.norm(twist[:3]) <= 0.25 + EPS and np.linalg.norm(twist[3:]) <= 1.0 + EPS
    if not result.guarded:
        assert np.linalg.norm(twist[:3] - previous[:3]) <= 2.5 * DT + EPS
        assert np.linalg.norm(twist[3:] - previous[3:]) <= 10.0 * DT + EPS
    if ee is not None:
        after = ee + twist[:3] * DT
        assert np.all(outside_distance(after, BOX_LOW, BOX_HIGH) <= outside_distance(ee, BOX_LOW, BOX_HIGH) + EPS)


@settings(max_examples=300, deadline=None)
@given(target=twists, ee=st.one_of(st.none(), st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3).map(np.array)))
def test_property_twist_from_rest_keeps_direction(target, ee):
    result = limit_twist(target, np.zeros(6), 0.25, 1.0, 2.5, 10.0, DT, ee, BOX_LOW, BOX_HIGH)
    norm = float(np.dot(target, target))
    if norm == 0.0:
        return
    fraction = float(np.dot(result.command, target)) / norm
    assert -EPS <= fraction <= 1.0 + EPS
    np.testing.assert_allclose(result.command, fraction * target, atol=1e-9)


poses = st.tuples(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3),
                  st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4)).map(
    lambda parts: normalized_pose(np.array(parts[0] + parts[1])))


@settings(max_examples=300, deadline=None)
@given(target=poses, previous=st.one_of(st.none(), poses))
def test_property_pose_inside_box_and_speed_capped(target, previous):
    if target is None:
        return
    if previous is not None:
        previous = previous.copy()
        previous[:3] = np.clip(previous[:3], BOX_LOW, BOX_HIGH)  # the last pose sent was inside
    result = limit_pose(target, previous, BOX_LOW, BOX_HIGH, True, 0.25, 1.0, DT)
    pose = result.command
    assert np.all(np.isfinite(pose)) and abs(np.linalg.norm(pose[3:]) - 1.0) < 1e-9
    assert np.all(pose[:3] >= BOX_LOW - EPS) and np.all(pose[:3] <= BOX_HIGH + EPS)
    if previous is not None:
        assert np.linalg.norm(pose[:3] - previous[:3]) <= 0.25 * DT + EPS
        assert quaternion_angle(previous[3:], pose[3:]) <= 1.0 * DT + 1e-6
