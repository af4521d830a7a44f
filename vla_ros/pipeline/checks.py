"""Checks at the pipeline's edges: does the model fit the robot (at configure), is a measured state plausible."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vla_ros.core.config import Blending, JointLimits
from vla_ros.core.parameters import NodeConfig
from vla_ros.core.types import ActionSemantics
from vla_ros.execution.synthesis import check_compatible
from vla_ros.inputs.joint_state import JointStateError
from vla_ros.model import ModelPackage
from vla_ros.pipeline.real_time_chunking import FrozenPrefixPlanner

# A measured position this far beyond a limit cannot be real (a robot overshoots its soft limits by far less).
MEASURED_LIMIT_TOLERANCE = 0.5

# An end-effector delta chunk is executed as a twist [vx vy vz wx wy wz], whatever the model's gripper dims.
EE_TWIST_DIM = 6


class PipelineError(RuntimeError):
    """The pipeline cannot be built from this config and model (raised at configure)."""


def check_model_matches_robot(config: NodeConfig, package: ModelPackage) -> None:
    """Raise PipelineError naming the mismatch between the model package and the configured robot."""
    reason = check_compatible(package.semantics, config.interface)
    if reason:
        raise PipelineError(reason)
    joints = list(config.joint_names)
    if package.semantics.is_joint and package.action_dim != len(joints):
        raise PipelineError(f"model {package.name!r} outputs {package.action_dim} action dims but joint_names has "
                            f"{len(joints)} joints {joints}")
    if package.state_dim is not None and package.state_dim != len(joints):
        raise PipelineError(f"model {package.name!r} takes a state of {package.state_dim} values but "
                            f"joint_names has {len(joints)}")
    configured = [c.name for c in config.inputs.cameras]
    missing = [c for c in package.camera_names if c not in configured]
    if missing:
        raise PipelineError(f"model {package.name!r} needs cameras {missing}; configured cameras are "
                            f"{configured} (parameter 'cameras')")


def real_time_chunking_planner(config: NodeConfig, package: ModelPackage) -> FrozenPrefixPlanner | None:
    """The frozen-prefix planner for `execution.blending: rtc`, which needs a package trained for it."""
    if config.execution.blending is not Blending.RTC:
        return None
    remote = package.manifest.remote
    if remote is not None:
        if not remote.actions.max_frozen_steps:
            raise PipelineError(f"execution.blending=rtc: the policy server of {package.name!r} takes no frozen "
                                "actions (remote.actions.max_frozen_steps is 0): use blending latest or ensemble")
        max_steps = remote.actions.max_frozen_steps
    else:
        flow = package.manifest.outputs.flow
        if flow is None or flow.rtc is None:
            raise PipelineError(f"execution.blending=rtc needs a package trained for real-time chunking (a "
                                f"flow_matching package with outputs.flow.rtc); model {package.name!r} is "
                                f"{package.manifest.outputs.kind.value}"
                                f"{' without rtc' if flow is not None else ''}: use blending latest or ensemble")
        max_steps = flow.rtc.max_delay_steps
    if package.semantics is not ActionSemantics.JOINT_POSITION:
        raise PipelineError(f"execution.blending=rtc: model {package.name!r} has semantics "
                            f"{package.semantics.value}; real-time chunking here freezes absolute joint targets "
                            "(joint_position)")
    return FrozenPrefixPlanner(max_steps, package.control_period)


def command_dim_of_chunk(package: ModelPackage) -> int:
    """How many values each scheduled action has once synthesized into commands."""
    return EE_TWIST_DIM if package.semantics is ActionSemantics.EE_DELTA else package.action_dim


def check_plausible(measured: np.ndarray, limits: JointLimits, joint_names: Sequence[str]) -> None:
    """A measured joint far outside its limits is a broken driver or message, not a robot state to hold."""
    outside = (measured < limits.lower - MEASURED_LIMIT_TOLERANCE) | (measured > limits.upper
                                                                      + MEASURED_LIMIT_TOLERANCE)
    if np.any(outside):
        bad = {n: float(v) for n, v, o in zip(joint_names, measured, outside) if o}
        raise JointStateError(f"joint positions {bad} are more than {MEASURED_LIMIT_TOLERANCE} rad outside "
                              "the joint limits")
