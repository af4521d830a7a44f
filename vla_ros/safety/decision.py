"""The values exchanged with the safety supervisor once per control tick."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_ros.core.types import CommandInterface, NodeState


@dataclass
class SafetyInputs:
    """Everything the supervisor needs for one control tick (times are ROS clock seconds).

    `proposed` is the command the execution stage wants for this tick, None when nothing is due:
    joint_position / joint_trajectory: dof positions; joint_velocity: dof velocities;
    twist: [vx vy vz wx wy wz]; pose: [x y z qx qy qz qw].
    """

    now: float
    image_stamp: float | None
    state_stamp: float | None
    measured_positions: np.ndarray | None
    instruction_active: bool
    last_chunk_time: float | None
    proposed: np.ndarray | None
    estop: bool = False
    inference_error: str | None = None
    invalid_action: str | None = None
    input_error: str | None = None
    measured_ee_pose: np.ndarray | None = None
    # Operator heartbeat (S14), judged only when safety.heartbeat_topic is set: when the newest one arrived,
    # and what it said (true = may move).
    heartbeat_stamp: float | None = None
    heartbeat_may_move: bool = False


def proposed_size(interface: CommandInterface, dof: int) -> int:
    """The length of `SafetyInputs.proposed` (and of the command) for a command interface."""
    return {CommandInterface.TWIST: 6, CommandInterface.POSE: 7}.get(interface, dof)


@dataclass
class SafetyDecision:
    """What to publish this tick and why.

    `command` is always finite and inside the S4-S7 limits; while holding it is the hold command (S13;
    rule ids as in docs/safety_rules.md).
    `publish` is False only when there is nothing safe to publish yet (no measured state ever, for
    position-like interfaces). `interventions` names the limits that changed the command this tick.
    """

    command: np.ndarray
    state: NodeState
    reason: str
    holding: bool
    publish: bool
    interventions: frozenset[str] = field(default_factory=frozenset)
