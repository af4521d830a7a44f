"""Fixtures for the ROS-free safety tests: a 3-joint arm at 100 Hz."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vla_ros.core.config import JointLimits, SafetyConfig
from vla_ros.core.types import CommandInterface
from vla_ros.safety import SafetySupervisor

from safety_support import PERIOD


@pytest.fixture
def limits() -> JointLimits:
    return JointLimits.from_lists(["shoulder", "elbow", "wrist"], lower=[-2.0, -1.5, -3.0], upper=[2.0, 1.5, 3.0],
                                  max_velocity=[1.0, 1.5, 2.0], max_acceleration=[5.0, 8.0, 10.0])


@pytest.fixture
def config() -> SafetyConfig:
    return SafetyConfig()


@pytest.fixture
def make_supervisor(config: SafetyConfig, limits: JointLimits) -> Callable[..., SafetySupervisor]:
    def make(interface: CommandInterface = CommandInterface.JOINT_POSITION, safety: SafetyConfig | None = None,
             activate_at: float | None = 0.0) -> SafetySupervisor:
        supervisor = SafetySupervisor(safety or config, limits, interface, PERIOD)
        if activate_at is not None:
            supervisor.activate(activate_at)
        return supervisor

    return make
