"""Behaviour of SafetySupervisor per requirement (S1, S3, S8, S9, S11, S13), without ROS."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from vla_ros.core.config import OutOfWorkspace, SafetyConfig
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety import SafetySupervisor

from safety_support import PERIOD, fresh_inputs


def tick_time(k: int) -> float:
    return round(k * PERIOD, 9)


def run_until_running(supervisor, start_tick: int = 0, measured=None, proposed=None, ticks: int = 5) -> int:
    for k in range(start_tick, start_tick + ticks):
        decision = supervisor.step(fresh_inputs(tick_time(k), measured=measured, proposed=proposed))
        assert decision.state is NodeState.RUNNING, decision.reason
    return start_tick + ticks


# ---------------------------------------------------------------- S1 stale inputs


def test_when_image_stale_expect_hold_within_one_period(make_supervisor, config):
    supervisor = make_supervisor()
    last_image = 1.0
    first_hold = None
    for k in range(0, 200):
        now = tick_time(k)
        decision = supervisor.step(fresh_inputs(now, image_stamp=min(now, last_image)))
        if decision.holding:
            first_hold = now
            assert decision.state is NodeState.HOLD_STALE_IMAGE
            assert "image age" in decision.reason
            break
    assert first_hold is not None
    deadline = last_image + config.image_timeout
    assert deadline < first_hold <= deadline + PERIOD + 1e-9


def test_when_state_stale_expect_hold_within_one_period(make_supervisor, config):
    supervisor = make_supervisor()
    last_state = 0.5
    first_hold = None
    for k in range(0, 200):
        now = tick_time(k)
        decision = supervisor.step(fresh_inputs(now, state_stamp=min(now, last_state)))
        if decision.holding:
            first_hold = now
            assert decision.state is NodeState.HOLD_STALE_STATE
            assert "joint state age" in decision.reason
            break
    assert first_hold is not None
    deadline = last_state + config.state_timeout
    assert deadline < first_hold <= deadline + PERIOD + 1e-9


def test_when_measured_state_is_nan_expect_stale_state_hold_at_last_valid_position(make_supervisor):
    supervisor = make_supervisor()
    good = np.array([0.3, -0.2, 0.1])
    run_until_running(supervisor, measured=good)
    decision = supervisor.step(fresh_inputs(tick_time(5), measured=np.array([np.nan, 0.0, 0.0]),
                                            proposed=np.array([1.0, 1.0, 1.0])))
    assert decision.state is NodeState.HOLD_STALE_STATE
    assert np.all(np.isfinite(decision.command))
    np.testing.assert_allclose(decision.command, good)


def test_when_measured_state_has_wrong_length_expect_stale_state(make_supervisor):
    supervisor = make_supervisor()
    decision = supervisor.step(fresh_inputs(0.0, measured=np.zeros(4)))
    assert decision.state is NodeState.HOLD_STALE_STATE


def test_when_no_instruction_expect_hold_no_instruction(make_supervisor):
    supervisor = make_supervisor()
    decision = supervisor.step(fresh_inputs(0.0, instruction_active=False))
    assert decision.state is NodeState.HOLD_NO_INSTRUCTION
    assert decision.holding and decision.reason


def test_when_image_recovers_expect_running_again_from_measured_state(make_supervisor):
    supervisor = make_supervisor()
    k = run_until_running(supervisor)
    stale = supervisor.step(fresh_inputs(tick_time(k), image_stamp=-1.0))
    assert stale.state is NodeState.HOLD_STALE_IMAGE
    measured = np.array([0.4, 0.2, -0.1])
    decision = supervisor.step(fresh_inputs(tick_time(k + 1), measured=measured, proposed=np.array([1.5, 1.0, 1.0])))
    assert decision.state is NodeState.RUNNING and not decision.holding
    # S9: the first command after the hold starts at the measured state (one accel-limited step at most).
    assert np.all(np.abs(decision.command - measured) <= supervisor.limits.max_acceleration * PERIOD**2 + 1e-12)


@pytest.mark.parametrize(("causes", "expected"), [
    ({"estop", "fault", "state", "image", "invalid", "instruction"}, NodeState.ESTOP),
    ({"fault", "state", "image", "invalid", "instruction"}, NodeState.FAULT),
    ({"state", "image", "invalid", "instruction"}, NodeState.HOLD_STALE_STATE),
    ({"image", "invalid", "instruction"}, NodeState.HOLD_STALE_IMAGE),
    ({"invalid", "instruction", "late"}, NodeState.HOLD_INVALID_ACTION),
    ({"late"}, NodeState.HOLD_INFERENCE_LATE),
    ({"instruction", "late"}, NodeState.HOLD_NO_INSTRUCTION),  # no instruction: inference is not expected
])
def test_when_several_hold_causes_expect_documented_precedence(make_supervisor, causes, expected):
    supervisor = make_supervisor()
    now = 10.0
    decision = supervisor.step(fresh_inputs(
        now,
        estop="estop" in causes,
        inference_error="boom" if "fault" in causes else None,
        state_stamp=now - 5.0 if "state" in causes else now,
        image_stamp=now - 5.0 if "image" in causes else now,
        invalid_action="NaN in chunk" if "invalid" in causes else None,
        instruction_active="instruction" not in causes,
        last_chunk_time=now - 5.0 if "late" in causes else now,
    ))
    assert decision.state is expected
    assert decision.holding


def test_when_not_activated_expect_idle(make_supervisor):
    supervisor = make_supervisor(activate_at=None)
    decision = supervisor.step(fresh_inputs(0.0, proposed=np.ones(3)))
    assert decision.state is NodeState.IDLE and decision.holding
    np.testing.assert_allclose(decision.command, np.zeros(3))


def test_when_clock_jumps_back_expect_stale_image_until_new_images(make_supervisor):
    supervisor = make_supervisor()
    run_until_running(supervisor, start_tick=1000)  # t = 10 s
    decision = supervisor.step(fresh_inputs(5.0, image_stamp=10.04))
    assert decision.state is NodeState.HOLD_STALE_IMAGE
    decision = supervisor.step(fresh_inputs(5.01, image_stamp=5.01))
    assert decision.state is NodeState.RUNNING


# ---------------------------------------------------------------- S3 invalid actions


def test_when_chunk_rejected_expect_hold_invalid_action_latched_until_reset(make_supervisor):
    supervisor = make_supervisor()
    k = run_until_running(supervisor)
    decision = supervisor.step(fresh_inputs(tick_time(k), invalid_action="actions contain NaN"))
    assert decision.state is NodeState.HOLD_INVALID_ACTION
    assert "NaN" in decision.reason
    for j in range(k + 1, k + 20):
        assert supervisor.step(fresh_inputs(tick_time(j))).state is NodeState.HOLD_INVALID_ACTION
    ok, message = supervisor.reset(fresh_inputs(tick_time(k + 20)))
    assert ok, message
    assert supervisor.step(fresh_inputs(tick_time(k + 21))).state is NodeState.RUNNING


def test_when_new_instruction_after_invalid_action_expect_rearmed(make_supervisor):
    supervisor = make_supervisor()
    supervisor.step(fresh_inputs(0.0, invalid_action="wrong shape"))
    assert supervisor.step(fresh_inputs(0.01, instruction_active=False)).state is NodeState.HOLD_INVALID_ACTION
    assert supervisor.step(fresh_inputs(0.02, instruction_active=True)).state is NodeState.RUNNING


def test_when_instruction_replaced_while_active_expect_new_instruction_rearms(make_supervisor):
    supervisor = make_supervisor()
    supervisor.step(fresh_inputs(0.0, invalid_action="wrong shape"))
    supervisor.new_instruction()
    assert supervisor.step(fresh_inputs(0.01)).state is NodeState.RUNNING


@pytest.mark.parametrize("proposed", [np.array([np.nan, 0.0, 0.0]), np.array([np.inf, 0.0, 0.0]), np.zeros(2),
                                      np.zeros((3, 1))])
def test_when_proposed_command_is_unusable_expect_hold_invalid_action(make_supervisor, proposed):
    supervisor = make_supervisor()
    measured = np.array([0.1, 0.2, 0.3])
    run_until_running(supervisor, measured=measured)
    decision = supervisor.step(fresh_inputs(0.05, measured=measured, proposed=proposed))
    assert decision.state is NodeState.HOLD_INVALID_ACTION
    np.testing.assert_allclose(decision.command, measured)
    assert supervisor.counters["invalid_proposals"] == 1


# ---------------------------------------------------------------- S8 inference heartbeat


def test_when_no_new_chunk_for_inference_timeout_expect_hold_inference_late(make_supervisor, config):
    supervisor = make_supervisor()
    last_chunk = 0.5
    states = []
    for k in range(0, 200):
        now = tick_time(k)
        decision = supervisor.step(fresh_inputs(now, last_chunk_time=min(now, last_chunk)))
        states.append((now, decision.state))
    first_late = next(now for now, state in states if state is NodeState.HOLD_INFERENCE_LATE)
    deadline = last_chunk + config.inference_timeout
    assert deadline < first_late <= deadline + PERIOD + 1e-9
    assert all(state is NodeState.HOLD_INFERENCE_LATE for now, state in states if now >= first_late)
    # a new chunk clears it by itself (not latched)
    assert supervisor.step(fresh_inputs(2.0, last_chunk_time=2.0)).state is NodeState.RUNNING


def test_when_inference_raises_expect_fault_latched_until_reset(make_supervisor):
    supervisor = make_supervisor()
    k = run_until_running(supervisor)
    decision = supervisor.step(fresh_inputs(tick_time(k), inference_error="RuntimeError: CUDA out of memory"))
    assert decision.state is NodeState.FAULT and "CUDA out of memory" in decision.reason
    assert supervisor.step(fresh_inputs(tick_time(k + 1))).state is NodeState.FAULT
    ok, message = supervisor.reset(fresh_inputs(tick_time(k + 2), inference_error="RuntimeError: again"))
    assert not ok and "inference" in message
    ok, message = supervisor.reset(fresh_inputs(tick_time(k + 3)))
    assert ok and "fault" in message
    assert supervisor.step(fresh_inputs(tick_time(k + 4))).state is NodeState.RUNNING


# ---------------------------------------------------------------- S11 e-stop


def test_when_estop_pressed_expect_estop_on_the_same_tick_and_latched_until_released_and_reset(make_supervisor):
    supervisor = make_supervisor()
    measured = np.array([0.2, 0.1, 0.0])
    k = run_until_running(supervisor, measured=measured, proposed=np.array([1.0, 1.0, 1.0]))
    decision = supervisor.step(fresh_inputs(tick_time(k), measured=measured, estop=True, proposed=np.ones(3)))
    assert decision.state is NodeState.ESTOP and decision.holding and decision.publish
    np.testing.assert_allclose(decision.command, measured)

    ok, message = supervisor.reset(fresh_inputs(tick_time(k + 1), estop=True))
    assert not ok and "e-stop is still pressed" in message
    decision = supervisor.step(fresh_inputs(tick_time(k + 2), measured=measured))
    assert decision.state is NodeState.ESTOP and "reset" in decision.reason  # released but still latched
    ok, message = supervisor.reset(fresh_inputs(tick_time(k + 3)))
    assert ok, message
    assert supervisor.step(fresh_inputs(tick_time(k + 4), measured=measured)).state is NodeState.RUNNING
    assert supervisor.counters["estop"] == 1


def test_when_reset_while_inputs_stale_expect_refused_with_reason(make_supervisor):
    supervisor = make_supervisor()
    supervisor.step(fresh_inputs(1.0, estop=True))
    ok, message = supervisor.reset(fresh_inputs(1.01, image_stamp=0.0))
    assert not ok and "image age" in message
    assert supervisor.step(fresh_inputs(1.02)).state is NodeState.ESTOP  # a refused reset clears nothing
    assert supervisor.counters["resets_refused"] == 1


# ---------------------------------------------------------------- S9 activation / blend-in


def test_when_activated_expect_start_at_measured_and_blend_in_over_blend_in_s(make_supervisor, config):
    supervisor = make_supervisor()
    start = np.array([0.5, 0.0, -0.5])
    goal = np.array([0.9, 0.6, -0.2])
    measured = start.copy()
    span = np.abs(goal - start)
    reached = None
    for k in range(0, 300):
        now = tick_time(k)
        decision = supervisor.step(fresh_inputs(now, measured=measured, proposed=goal))
        if now < config.blend_in_s:
            # never ahead of the blend: the command moved at most now/blend_in_s of the way
            slack = supervisor.limits.max_acceleration * PERIOD**2  # one discrete braking step
            assert np.all(np.abs(decision.command - start) <= span * now / config.blend_in_s + slack)
        if k == 0:
            assert np.all(np.abs(decision.command - start) <= supervisor.limits.max_acceleration * PERIOD**2 + 1e-12)
        measured = decision.command  # an ideal robot tracks the command
        if reached is None and np.allclose(decision.command, goal, atol=1e-6):
            reached = now
    assert reached is not None and reached >= config.blend_in_s * 0.5


# ---------------------------------------------------------------- S13 hold semantics


def test_when_holding_position_interface_expect_measured_position_not_last_command(make_supervisor):
    supervisor = make_supervisor(CommandInterface.JOINT_TRAJECTORY)
    lagging = np.array([0.0, 0.0, 0.0])
    for k in range(100):
        decision = supervisor.step(fresh_inputs(tick_time(k), measured=lagging, proposed=np.array([1.0, 1.0, 1.0])))
    assert not np.allclose(decision.command, lagging)
    robot_now = np.array([0.02, 0.03, 0.01])
    decision = supervisor.step(fresh_inputs(1.0, measured=robot_now, instruction_active=False))
    assert decision.state is NodeState.HOLD_NO_INSTRUCTION
    np.testing.assert_allclose(decision.command, robot_now)


def test_when_no_measured_state_ever_expect_no_publish(make_supervisor):
    supervisor = make_supervisor()
    decision = supervisor.step(fresh_inputs(0.0, measured_positions=None, state_stamp=None, proposed=np.ones(3)))
    assert decision.state is NodeState.HOLD_STALE_STATE
    assert not decision.publish
    assert np.all(np.isfinite(decision.command))


def _assert_decelerates_to_zero(commands: list[np.ndarray], max_change: np.ndarray) -> None:
    start = commands[0]
    for previous, current in itertools.pairwise(commands):
        assert np.all(np.abs(current - previous) <= max_change + 1e-9)
        # direction kept: a non-negative multiple of the initial command
        scale = float(np.dot(current, start) / np.dot(start, start))
        np.testing.assert_allclose(current, scale * start, atol=1e-12)
        assert -1e-12 <= scale <= 1.0 + 1e-12
    np.testing.assert_allclose(commands[-1], 0.0, atol=0.0)


def test_when_holding_velocity_interface_expect_deceleration_within_accel_then_zeros(make_supervisor, limits):
    supervisor = make_supervisor(CommandInterface.JOINT_VELOCITY)
    proposed = np.array([0.8, -1.2, 1.5])
    for k in range(200):
        running = supervisor.step(fresh_inputs(tick_time(k), proposed=proposed))
    np.testing.assert_allclose(running.command, proposed)
    commands = [running.command]
    for k in range(200, 260):
        decision = supervisor.step(fresh_inputs(tick_time(k), estop=True, proposed=proposed))
        assert decision.state is NodeState.ESTOP
        commands.append(decision.command)
    _assert_decelerates_to_zero(commands, limits.max_acceleration * PERIOD)
    stop_ticks = math.ceil(max(abs(proposed) / limits.max_acceleration) / PERIOD)
    np.testing.assert_allclose(commands[stop_ticks + 1], 0.0, atol=0.0)


def test_when_holding_twist_interface_expect_deceleration_within_ee_accel_then_zeros(make_supervisor):
    supervisor = make_supervisor(CommandInterface.TWIST)
    proposed = np.array([0.1, 0.1, 0.0, 0.0, 0.0, 0.3])
    for k in range(200):
        running = supervisor.step(fresh_inputs(tick_time(k), proposed=proposed))
    np.testing.assert_allclose(running.command, proposed)
    commands = [running.command]
    for k in range(200, 260):
        commands.append(supervisor.step(fresh_inputs(tick_time(k), instruction_active=False)).command)
    for previous, current in itertools.pairwise(commands):
        assert np.linalg.norm(current[:3] - previous[:3]) <= supervisor.max_ee_linear_accel * PERIOD + 1e-9
        assert np.linalg.norm(current[3:] - previous[3:]) <= supervisor.max_ee_angular_accel * PERIOD + 1e-9
    _assert_decelerates_to_zero(commands, np.full(6, np.inf))


def test_when_holding_pose_interface_expect_measured_ee_pose_else_last_pose_sent(make_supervisor):
    supervisor = make_supervisor(CommandInterface.POSE)
    target = np.array([0.3, 0.1, 0.5, 0.0, 0.0, 0.0, 1.0])
    for k in range(100):
        sent = supervisor.step(fresh_inputs(tick_time(k), proposed=target))
    assert sent.publish
    decision = supervisor.step(fresh_inputs(1.0, instruction_active=False))
    np.testing.assert_allclose(decision.command, sent.command)
    measured_pose = np.array([0.31, 0.1, 0.49, 0.0, 0.0, 0.0, 1.0])
    decision = supervisor.step(fresh_inputs(1.01, instruction_active=False, measured_ee_pose=measured_pose))
    np.testing.assert_allclose(decision.command, measured_pose)


def test_when_pose_interface_holds_with_no_pose_known_expect_no_publish(make_supervisor):
    supervisor = make_supervisor(CommandInterface.POSE)
    decision = supervisor.step(fresh_inputs(0.0, instruction_active=False))
    assert not decision.publish and np.all(np.isfinite(decision.command))


def test_when_pose_outside_workspace_and_reject_configured_expect_hold_invalid_action(make_supervisor):
    supervisor = make_supervisor(CommandInterface.POSE, safety=SafetyConfig(out_of_workspace=OutOfWorkspace.REJECT))
    inside = np.array([0.3, 0.1, 0.5, 0.0, 0.0, 0.0, 1.0])
    for k in range(10):
        sent = supervisor.step(fresh_inputs(tick_time(k), proposed=inside))
    decision = supervisor.step(fresh_inputs(0.1, proposed=np.array([3.0, 0.1, 0.5, 0.0, 0.0, 0.0, 1.0])))
    assert decision.state is NodeState.HOLD_INVALID_ACTION and "workspace" in decision.reason
    np.testing.assert_allclose(decision.command, sent.command)
    assert supervisor.counters["pose_rejected"] == 1


def test_when_pose_outside_workspace_and_clamp_configured_expect_clamped_to_box(make_supervisor, config):
    supervisor = make_supervisor(CommandInterface.POSE)
    outside = np.array([3.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0])
    for k in range(2000):
        decision = supervisor.step(fresh_inputs(tick_time(k), proposed=outside))
        assert decision.state is NodeState.RUNNING
        assert np.all(decision.command[:3] <= np.array(config.workspace_max) + 1e-12)
        assert np.all(decision.command[:3] >= np.array(config.workspace_min) - 1e-12)
    np.testing.assert_allclose(decision.command[:3], [1.0, 0.0, 0.0], atol=1e-9)
    assert supervisor.counters["workspace_clamped"] > 0


def test_when_hold_cause_appears_expect_hold_counted_once_per_entry(make_supervisor):
    supervisor = make_supervisor()
    for k in range(10):
        supervisor.step(fresh_inputs(tick_time(k), instruction_active=k % 4 < 2))
    assert supervisor.counters["hold_no_instruction"] == 2


def test_when_state_goes_stale_while_approaching_a_limit_expect_velocity_hold_stops_inside(make_supervisor,
                                                                                           limits, config):
    # Joint 0 (5 rad/s^2) dictates the one deceleration factor for all joints; joint 2 (10 rad/s^2) must plan
    # its braking with that shared factor, not its own limit, or it overshoots once the state is gone.
    supervisor = make_supervisor(CommandInterface.JOINT_VELOCITY)
    edge = limits.upper[2] - config.position_margin
    position = np.array([0.0, 0.0, edge - 0.6])
    proposed = np.array([1.0, 0.0, 0.6])
    k = 0
    while position[2] < edge - 0.03:
        decision = supervisor.step(fresh_inputs(tick_time(k), measured=position, proposed=proposed))
        position = position + decision.command * PERIOD
        k += 1
    assert decision.state is NodeState.RUNNING and decision.command[2] > 0.3
    last_state = tick_time(k - 1)
    for j in range(k, k + 100):  # the joint state stops arriving: hold, decelerate, stop inside the limit
        decision = supervisor.step(fresh_inputs(tick_time(j), measured=position, state_stamp=last_state,
                                                proposed=proposed))
        position = position + decision.command * PERIOD
        assert position[2] <= edge + 1e-9
    assert decision.state is NodeState.HOLD_STALE_STATE
    np.testing.assert_allclose(decision.command, 0.0)


def test_when_input_error_reported_expect_counted_and_quoted_but_no_hold_by_itself(make_supervisor):
    supervisor = make_supervisor()
    decision = supervisor.step(fresh_inputs(0.0, input_error="image encoding 'yuv422' not supported"))
    assert decision.state is NodeState.RUNNING
    assert supervisor.counters["input_errors"] == 1
    decision = supervisor.step(fresh_inputs(1.0, image_stamp=0.0))
    assert decision.state is NodeState.HOLD_STALE_IMAGE and "yuv422" in decision.reason


def test_when_control_period_invalid_expect_error_naming_it(config, limits):
    with pytest.raises(ValueError, match="control_period"):
        SafetySupervisor(config, limits, CommandInterface.JOINT_POSITION, 0.0)


@pytest.mark.parametrize("field", ["now", "image_stamp", "state_stamp"])
def test_when_a_time_is_nan_expect_hold_with_finite_command(make_supervisor, field):
    supervisor = make_supervisor()
    run_until_running(supervisor)
    inputs = fresh_inputs(0.05, proposed=np.ones(3))
    setattr(inputs, field, float("nan"))
    decision = supervisor.step(inputs)
    assert decision.holding
    assert decision.state in (NodeState.HOLD_STALE_STATE, NodeState.HOLD_STALE_IMAGE)
    assert np.all(np.isfinite(decision.command))


def test_when_clock_was_nan_for_a_tick_expect_inference_heartbeat_still_works(make_supervisor, config):
    supervisor = make_supervisor()
    run_until_running(supervisor)
    inputs = fresh_inputs(0.05)
    inputs.now = float("nan")
    assert supervisor.step(inputs).holding
    assert supervisor.step(fresh_inputs(0.06, last_chunk_time=0.06)).state is NodeState.RUNNING
    late = 0.06 + config.inference_timeout + PERIOD
    assert supervisor.step(fresh_inputs(late, last_chunk_time=0.06)).state is NodeState.HOLD_INFERENCE_LATE


def test_when_velocity_interface_activates_expect_proposal_blended_in_from_zero(make_supervisor, config):
    supervisor = make_supervisor(CommandInterface.JOINT_VELOCITY)
    proposed = np.array([0.1, -0.1, 0.05])  # small enough that no velocity/accel limit applies
    for k in range(80):
        now = tick_time(k)
        decision = supervisor.step(fresh_inputs(now, proposed=proposed))
        np.testing.assert_allclose(decision.command, proposed * min(1.0, now / config.blend_in_s), atol=1e-12)


def test_when_deactivated_expect_idle_hold_until_activated_again(make_supervisor):
    supervisor = make_supervisor()
    k = run_until_running(supervisor)
    supervisor.deactivate()
    assert supervisor.step(fresh_inputs(tick_time(k))).state is NodeState.IDLE
    supervisor.activate(tick_time(k + 1))
    assert supervisor.step(fresh_inputs(tick_time(k + 1))).state is NodeState.RUNNING
