"""Model actions -> what the command interface publishes, and which pairs are impossible without kinematics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vla_ros.core.config import ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics, CommandInterface
from vla_ros.execution.scheduler import ChunkScheduler
from vla_ros.execution.synthesis import CommandSynthesizer, check_compatible

S, I = ActionSemantics, CommandInterface  # noqa: E741 - short names keep the pair table readable
_POSSIBLE = {
    *itertools.product([S.JOINT_POSITION, S.JOINT_POSITION_DELTA, S.JOINT_VELOCITY],
                       [I.JOINT_TRAJECTORY, I.JOINT_POSITION, I.JOINT_VELOCITY]),
    (S.EE_DELTA, I.TWIST),
    (S.EE_ABSOLUTE, I.POSE),
}


@pytest.mark.parametrize(("semantics", "interface"), list(itertools.product(S, I)))
def test_when_pair_needs_kinematics_expect_a_reason_naming_both(semantics: S, interface: I) -> None:
    reason = check_compatible(semantics, interface)
    if (semantics, interface) in _POSSIBLE:
        assert reason is None
        CommandSynthesizer(semantics, interface, 0.01, 0.1)
    else:
        assert semantics.value in reason and interface.value in reason and "kinematics" in reason
        with pytest.raises(ValueError, match="kinematics"):
            CommandSynthesizer(semantics, interface, 0.01, 0.1)


def test_when_ee_delta_on_joint_position_expect_the_documented_message() -> None:
    assert check_compatible(S.EE_DELTA, I.JOINT_POSITION) == (
        "ee_delta actions need command_interface twist; joint_position needs a kinematics model that vla_ros "
        "does not have")


def test_when_joint_deltas_arrive_expect_cumulative_absolute_targets_with_absolute_gripper_untouched() -> None:
    synth = CommandSynthesizer(S.JOINT_POSITION_DELTA, I.JOINT_POSITION, 0.01, 0.1, absolute_dims=(2,))
    deltas = np.array([[0.1, -0.2, 1.0], [0.1, 0.0, 0.0], [0.3, 0.5, 1.0]])
    targets = synth.to_targets(deltas, reference_state=np.array([1.0, 2.0, 0.5]))
    np.testing.assert_allclose(targets, [[1.1, 1.8, 1.0], [1.2, 1.8, 0.0], [1.5, 2.3, 1.0]])


def test_when_joint_deltas_arrive_without_reference_state_expect_error() -> None:
    synth = CommandSynthesizer(S.JOINT_POSITION_DELTA, I.JOINT_POSITION, 0.01, 0.1)
    with pytest.raises(ValueError, match="reference_state"):
        synth.to_targets(np.zeros((3, 2)), None)
    with pytest.raises(ValueError, match="shape"):
        synth.to_targets(np.zeros((3, 2)), np.zeros(3))


def test_when_absolute_dims_out_of_range_or_not_delta_semantics_expect_error() -> None:
    synth = CommandSynthesizer(S.JOINT_POSITION_DELTA, I.JOINT_POSITION, 0.01, 0.1, absolute_dims=(5,))
    with pytest.raises(ValueError, match="absolute_dims"):
        synth.to_targets(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="absolute_dims"):
        CommandSynthesizer(S.JOINT_POSITION, I.JOINT_POSITION, 0.01, 0.1, absolute_dims=(1,))


@pytest.mark.parametrize("field", ["control_period", "model_period"])
def test_when_period_is_not_positive_expect_error_naming_it(field: str) -> None:
    kwargs = {"control_period": 0.01, "model_period": 0.1, field: 0.0}
    with pytest.raises(ValueError, match=field):
        CommandSynthesizer(S.JOINT_POSITION, I.JOINT_POSITION, **kwargs)


def test_when_ee_deltas_arrive_expect_twist_per_step() -> None:
    synth = CommandSynthesizer(S.EE_DELTA, I.TWIST, 0.01, 0.2)
    deltas = np.array([[0.02, 0.0, -0.01, 0.0, 0.0, 0.1]])
    np.testing.assert_allclose(synth.to_targets(deltas, None), [[0.1, 0.0, -0.05, 0.0, 0.0, 0.5]])
    np.testing.assert_allclose(synth.to_command(np.array([0.1, 0, 0, 0, 0, 0.5]), None), [0.1, 0, 0, 0, 0, 0.5])


def test_when_position_targets_go_to_a_velocity_controller_expect_p_control_over_one_model_period() -> None:
    synth = CommandSynthesizer(S.JOINT_POSITION, I.JOINT_VELOCITY, 0.01, 0.1)
    command = synth.to_command(np.array([1.0, -1.0]), measured=np.array([0.9, -0.5]))
    np.testing.assert_allclose(command, [1.0, -5.0])
    with pytest.raises(ValueError, match="measured"):
        synth.to_command(np.array([1.0, -1.0]), None)


def test_when_velocities_go_to_a_position_controller_expect_one_tick_ahead_of_measured() -> None:
    synth = CommandSynthesizer(S.JOINT_VELOCITY, I.JOINT_POSITION, 0.01, 0.1)
    np.testing.assert_allclose(synth.to_command(np.array([2.0, -1.0]), np.array([0.5, 0.5])), [0.52, 0.49])


@pytest.mark.parametrize(("semantics", "interface"), [(S.JOINT_POSITION, I.JOINT_POSITION),
                                                      (S.JOINT_POSITION_DELTA, I.JOINT_TRAJECTORY),
                                                      (S.JOINT_VELOCITY, I.JOINT_VELOCITY)])
def test_when_sample_already_matches_the_interface_expect_it_passed_through_as_a_copy(semantics: S,
                                                                                      interface: I) -> None:
    synth = CommandSynthesizer(semantics, interface, 0.01, 0.1)
    sample = np.array([0.3, -0.2])
    command = synth.to_command(sample, None)
    np.testing.assert_array_equal(command, sample)
    command[0] = 9.0
    assert sample[0] == 0.3


def test_when_pose_quaternion_was_blended_expect_unit_quaternion_out() -> None:
    synth = CommandSynthesizer(S.EE_ABSOLUTE, I.POSE, 0.01, 0.1)
    command = synth.to_command(np.array([0.4, 0.0, 0.3, 0.0, 0.0, 0.6, 0.6]), None)
    np.testing.assert_allclose(command[:3], [0.4, 0.0, 0.3])
    assert np.linalg.norm(command[3:]) == pytest.approx(1.0)


def test_when_chunk_quaternions_flip_sign_expect_them_made_continuous() -> None:
    synth = CommandSynthesizer(S.EE_ABSOLUTE, I.POSE, 0.01, 0.1)
    q = np.array([0.0, 0.0, 0.38268343, 0.92387953])
    poses = np.array([[0, 0, 0, *q], [0, 0, 0, *(-q)], [0, 0, 0, *q]])
    targets = synth.to_targets(poses, None)
    assert np.all(targets[:, 3:] @ q > 0)


def test_when_velocity_trajectory_goes_to_jtc_expect_positions_integrated_from_measured() -> None:
    synth = CommandSynthesizer(S.JOINT_VELOCITY, I.JOINT_TRAJECTORY, 0.01, 0.1)
    points = [(0.1, np.array([1.0])), (0.2, np.array([2.0])), (0.4, np.array([-1.0]))]
    out = synth.to_trajectory(points, np.array([0.5]))
    np.testing.assert_allclose([p[0] for _, p in out], [0.6, 0.8, 0.6])
    np.testing.assert_allclose([t for t, _ in out], [0.1, 0.2, 0.4])


def test_when_delta_chunk_goes_through_scheduler_to_velocity_controller_expect_time_correct_command() -> None:
    synth = CommandSynthesizer(S.JOINT_POSITION_DELTA, I.JOINT_VELOCITY, 0.01, 0.1)
    raw = ActionChunk(np.full((10, 2), 0.01), obs_stamp=5.0, period=0.1, semantics=S.JOINT_POSITION_DELTA,
                      instruction_id=0, reference_state=np.array([1.0, 2.0]))
    scheduler = ChunkScheduler(ExecutionConfig(), action_dim=2)
    prepared = synth.to_target_chunk(raw)
    assert prepared.obs_stamp == raw.obs_stamp and prepared.reference_state is raw.reference_state
    assert scheduler.add(prepared, now=5.2).skipped_steps == 2
    target = scheduler.sample(5.25)  # between steps 2 (1.03) and 3 (1.04)
    np.testing.assert_allclose(target, [1.035, 2.035])
    np.testing.assert_allclose(synth.to_command(target, measured=np.array([1.0, 2.0])), [0.35, 0.35])
