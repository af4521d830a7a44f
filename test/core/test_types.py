"""The enum properties of core.types that replace hand-written member tuples and string-prefix tests."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.core.types import ActionSemantics, CommandInterface, Observation, Policy

S = ActionSemantics

JOINT = {S.JOINT_POSITION, S.JOINT_POSITION_DELTA, S.JOINT_VELOCITY}
JOINT_POSITION = {S.JOINT_POSITION, S.JOINT_POSITION_DELTA}
RATE = {S.JOINT_VELOCITY, S.EE_DELTA}


@pytest.mark.parametrize("semantics", list(ActionSemantics))
def test_when_semantics_value_starts_with_joint_expect_is_joint(semantics: ActionSemantics) -> None:
    assert semantics.is_joint == semantics.value.startswith("joint")
    assert semantics.is_joint == (semantics in JOINT)


@pytest.mark.parametrize("semantics", list(ActionSemantics))
def test_when_semantics_gives_joint_positions_expect_is_joint_position(semantics: ActionSemantics) -> None:
    assert semantics.is_joint_position == (semantics in JOINT_POSITION)


@pytest.mark.parametrize("semantics", list(ActionSemantics))
def test_when_semantics_is_velocity_or_ee_delta_expect_is_rate(semantics: ActionSemantics) -> None:
    assert semantics.is_rate == (semantics in RATE)


def test_when_semantics_is_cartesian_expect_its_end_effector_dims_else_none() -> None:
    assert S.EE_DELTA.cartesian_dims == 6
    assert S.EE_ABSOLUTE.cartesian_dims == 7
    assert all(s.cartesian_dims is None for s in JOINT)


def test_when_semantics_parsed_from_its_string_expect_the_same_properties() -> None:
    assert ActionSemantics("joint_position_delta").is_joint_position
    assert ActionSemantics("ee_delta").is_rate


def test_when_interface_publishes_joint_positions_expect_is_joint_position() -> None:
    positions = {CommandInterface.JOINT_TRAJECTORY, CommandInterface.JOINT_POSITION}
    for interface in CommandInterface:
        assert interface.is_joint_position == (interface in positions)
        assert interface.is_joint_position == (interface.is_joint_space and not interface.is_velocity)


class _CompletePolicy:
    def __init__(self) -> None:
        self.timings_ms: dict[str, float] = {}

    def infer(self, obs: Observation) -> np.ndarray:
        return np.zeros((1, 1))

    def reset(self) -> None:
        self.timings_ms = {}

    def close(self) -> None:
        pass


class _PolicyWithoutClose:
    def __init__(self) -> None:
        self.timings_ms: dict[str, float] = {}

    def infer(self, obs: Observation) -> np.ndarray:
        return np.zeros((1, 1))

    def reset(self) -> None:
        pass


def test_when_class_has_every_policy_member_expect_isinstance_policy() -> None:
    assert isinstance(_CompletePolicy(), Policy)


def test_when_class_lacks_close_expect_not_a_policy() -> None:
    assert not isinstance(_PolicyWithoutClose(), Policy)
