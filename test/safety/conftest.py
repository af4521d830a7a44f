"""Shared set-up for the ROS-free safety tests: a 3-joint arm at 100 Hz and an input builder."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vla_ros.core.config import JointLimits, SafetyConfig
from vla_ros.core.types import CommandInterface
from vla_ros.safety import SafetyInputs, SafetySupervisor

PERIOD = 0.01


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


def fresh_inputs(now: float, measured: np.ndarray | None = None, proposed: np.ndarray | None = None,
                 **overrides: object) -> SafetyInputs:
    """Inputs where everything is fresh and an instruction is active; override what a test breaks."""
    fields: dict[str, object] = dict(now=now, image_stamp=now, state_stamp=now,
                                     measured_positions=np.zeros(3) if measured is None else measured,
                                     instruction_active=True, last_chunk_time=now, proposed=proposed)
    fields.update(overrides)
    return SafetyInputs(**fields)  # type: ignore[arg-type]


@pytest.fixture
def inputs() -> Callable[..., SafetyInputs]:
    return fresh_inputs
