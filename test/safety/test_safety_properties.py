"""Hypothesis: for any proposed stream, any measured state and any fault sequence, every supervisor output is
finite and respects S4-S7, and holds follow S13."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vla_ros.core.config import JointLimits, OutOfWorkspace, SafetyConfig
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety import SafetyInputs, SafetySupervisor
from vla_ros.safety.limits import POSITION_CLAMPED, WORKSPACE_CLAMPED, quaternion_angle

from safety_support import PERIOD

LIMITS = JointLimits.from_lists(["a", "b", "c"], lower=[-2.0, -1.5, -3.0], upper=[2.0, 1.5, 3.0],
                                max_velocity=[1.0, 1.5, 2.0], max_acceleration=[5.0, 8.0, 10.0])
CONFIG = SafetyConfig()
BAND_LOW = LIMITS.lower + CONFIG.position_margin
BAND_HIGH = LIMITS.upper - CONFIG.position_margin
BOX_LOW = np.array(CONFIG.workspace_min)
BOX_HIGH = np.array(CONFIG.workspace_max)
# Overflow / invalid-value warnings in the limit math would mean an unguarded division: fail on them.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
EPS = 1e-9

value = st.floats(min_value=-4.0, max_value=4.0)
tick = st.fixed_dictionaries({
    "proposed": st.sampled_from(["none", "normal", "normal", "normal", "huge", "nan", "wrong_length"]),
    "values": st.lists(value, min_size=7, max_size=7),
    "huge_sign": st.sampled_from([-1e6, 1e6]),
    "measured": st.sampled_from(["track", "track", "track", "arbitrary", "nan", "none"]),
    "noise": st.lists(st.floats(-0.03, 0.03), min_size=3, max_size=3),
    "arbitrary": st.lists(st.floats(-3.5, 3.5), min_size=3, max_size=3),
    "estop": st.sampled_from([False] * 15 + [True]),
    "fault": st.sampled_from([None] * 15 + ["RuntimeError"]),
    "invalid": st.sampled_from([None] * 15 + ["NaN in chunk"]),
    "image_stale": st.sampled_from([False] * 8 + [True]),
    "state_stale": st.sampled_from([False] * 8 + [True]),
    "instruction": st.sampled_from([True] * 6 + [False]),
    "reset": st.sampled_from([False] * 6 + [True]),
})
streams = st.lists(tick, min_size=1, max_size=80)


def outside_distance(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.maximum(low - x, x - high))


def proposal(event: dict, size: int, interface: CommandInterface) -> np.ndarray | None:
    kind = event["proposed"]
    if kind == "none":
        return None
    if kind == "wrong_length":
        return np.zeros(size + 1)
    values = np.array(event["values"][:size])
    if kind == "huge":
        values = np.full(size, event["huge_sign"])
    if kind == "nan":
        values[0] = np.nan
    if interface is CommandInterface.POSE and kind != "nan":
        values[3:] = values[3:] + np.array([0.0, 0.0, 0.0, 5.0])  # keeps the quaternion away from zero
    return values


def drive(interface: CommandInterface, stream: list[dict], check, config: SafetyConfig = CONFIG) -> None:
    """Run the stream through a supervisor with a robot that follows commands; call check per tick."""
    supervisor = SafetySupervisor(config, LIMITS, interface, PERIOD)
    supervisor.activate(0.0)
    size = supervisor.command_size
    robot = np.zeros(3)
    previous = None  # the previous decision
    last_valid_measured = None
    for k, event in enumerate(stream):
        now = round(k * PERIOD, 9)
        if event["measured"] == "track":
            robot = robot + np.array(event["noise"])
        elif event["measured"] == "arbitrary":
            robot = np.array(event["arbitrary"])
        measured = robot.copy()
        if event["measured"] == "nan":
            measured[1] = np.nan
        inputs = SafetyInputs(
            now=now, image_stamp=now - (1.0 if event["image_stale"] else 0.0),
            state_stamp=None if event["measured"] == "none" else now - (1.0 if event["state_stale"] else 0.0),
            measured_positions=None if event["measured"] == "none" else measured,
            instruction_active=event["instruction"], last_chunk_time=now,
            proposed=proposal(event, size, interface), estop=event["estop"], inference_error=event["fault"],
            invalid_action=event["invalid"])
        if event["reset"]:
            supervisor.reset(inputs)
        decision = supervisor.step(inputs)
        assert decision.command.shape == (size,)
        assert np.all(np.isfinite(decision.command))
        assert decision.holding == (decision.state is not NodeState.RUNNING)
        assert decision.holding == bool(decision.reason)
        if event["estop"]:
            assert decision.state is NodeState.ESTOP  # S11: on this very tick
        if event["measured"] != "none" and np.all(np.isfinite(measured)):
            last_valid_measured = measured
        check(inputs, decision, previous, last_valid_measured)
        if interface.is_joint_space and interface is not CommandInterface.JOINT_VELOCITY and decision.publish:
            robot = decision.command.copy()  # a position-controlled robot goes where it is told
        previous = decision


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(stream=streams, interface=st.sampled_from([CommandInterface.JOINT_POSITION, CommandInterface.JOINT_TRAJECTORY]))
def test_property_position_commands_respect_limits_and_hold_measured(stream, interface):
    def check(inputs, decision, previous, last_valid_measured):
        if not decision.publish:
            assert last_valid_measured is None
            return
        if decision.holding:  # S13: the measured position
            np.testing.assert_array_equal(decision.command, last_valid_measured)
            return
        measured = inputs.measured_positions
        # S9: a hold -> run transition starts from the measured state; otherwise from the last command
        restart = previous is None or not previous.publish or previous.holding
        reference = measured if restart else previous.command
        anchor = measured + np.clip(reference - measured, -CONFIG.max_delta, CONFIG.max_delta)
        # S4: inside limits-margin, or no further outside than where the robot / last command already was
        allowed = np.maximum(outside_distance(measured, BAND_LOW, BAND_HIGH),
                             outside_distance(reference, BAND_LOW, BAND_HIGH))
        assert np.all(outside_distance(decision.command, BAND_LOW, BAND_HIGH) <= allowed + EPS)
        assert np.all(np.abs(decision.command - measured) <= CONFIG.max_delta + EPS)  # S6
        assert np.all(np.abs(decision.command - anchor) <= LIMITS.max_velocity * PERIOD + EPS)  # S5

    drive(interface, stream, check)


@SETTINGS
@given(stream=streams)
def test_property_velocity_commands_respect_limits_and_decelerate_on_hold(stream):
    def check(inputs, decision, previous, last_valid_measured):
        v = decision.command
        assert np.all(np.abs(v) <= LIMITS.max_velocity + EPS)
        assert np.all(np.abs(v) * PERIOD <= CONFIG.max_delta + EPS)
        before = np.zeros(3) if previous is None else previous.command
        if POSITION_CLAMPED not in decision.interventions:
            assert np.all(np.abs(v - before) <= LIMITS.max_acceleration * PERIOD + EPS)
        if decision.holding:  # S13: decelerating, never speeding up, never reversing
            assert np.all(np.abs(v) <= np.abs(before) + EPS)
            assert np.all(v * before >= -EPS)

    drive(CommandInterface.JOINT_VELOCITY, stream, check)


@SETTINGS
@given(stream=streams)
def test_property_twist_commands_respect_speed_and_accel(stream):
    def check(inputs, decision, previous, last_valid_measured):
        twist = decision.command
        assert np.linalg.norm(twist[:3]) <= CONFIG.max_ee_speed + EPS
        assert np.linalg.norm(twist[3:]) <= CONFIG.max_ee_angular_speed + EPS
        before = np.zeros(6) if previous is None else previous.command
        if WORKSPACE_CLAMPED not in decision.interventions:
            assert np.linalg.norm(twist[:3] - before[:3]) <= 2.5 * PERIOD + EPS
            assert np.linalg.norm(twist[3:] - before[3:]) <= 10.0 * PERIOD + EPS
        if decision.holding:
            assert np.linalg.norm(twist) <= np.linalg.norm(before) + EPS

    drive(CommandInterface.TWIST, stream, check)


@SETTINGS
@given(stream=streams, reject=st.booleans())
def test_property_pose_commands_stay_in_box_and_move_slowly(stream, reject):
    config = SafetyConfig(out_of_workspace=OutOfWorkspace.REJECT if reject else OutOfWorkspace.CLAMP)

    def check(inputs, decision, previous, last_valid_measured):
        pose = decision.command
        assert abs(np.linalg.norm(pose[3:]) - 1.0) < 1e-9
        if not decision.publish:
            return
        assert np.all(pose[:3] >= BOX_LOW - EPS) and np.all(pose[:3] <= BOX_HIGH + EPS)
        if previous is not None and previous.publish:
            assert np.linalg.norm(pose[:3] - previous.command[:3]) <= config.max_ee_speed * PERIOD + EPS
            assert quaternion_angle(previous.command[3:], pose[3:]) <= config.max_ee_angular_speed * PERIOD + 1e-6
            if decision.holding:  # S13 without a measured pose: the last safe pose sent
                np.testing.assert_array_equal(pose, previous.command)

    drive(CommandInterface.POSE, stream, check, config)
