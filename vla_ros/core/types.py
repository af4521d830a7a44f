"""Value types shared by every stage of the data path.

camera/state/instruction -> inputs -> model (Policy) -> execution (chunks) -> safety -> command.
Nothing here imports rclpy: time is plain float seconds on the ROS clock (sim or wall).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, runtime_checkable

import numpy as np


class ActionSemantics(str, Enum):
    """What one action vector of a chunk means (declared by the model manifest)."""

    JOINT_POSITION = "joint_position"  # absolute joint targets, rad / m
    JOINT_POSITION_DELTA = "joint_position_delta"  # per-step increment, cumulative along the chunk
    JOINT_VELOCITY = "joint_velocity"  # rad/s
    EE_DELTA = "ee_delta"  # per-step [dx dy dz drx dry drz] in the base frame (m, rad)
    EE_ABSOLUTE = "ee_absolute"  # [x y z qx qy qz qw] in the base frame

    @property
    def is_joint(self) -> bool:
        """Actions in joint space: one value per joint, so the action dim must match the robot's joints."""
        return self in _JOINT_SEMANTICS

    @property
    def is_joint_position(self) -> bool:
        """Actions that become absolute joint position targets (deltas once integrated onto the measured state)."""
        return self in _JOINT_POSITION_SEMANTICS

    @property
    def is_rate(self) -> bool:
        """Actions executed as rates (joint velocities, twists): held between steps, zero after the last one."""
        return self in _RATE_SEMANTICS

    @property
    def cartesian_dims(self) -> int | None:
        """End-effector values per action without a gripper (6 for a delta, 7 for a pose with its quaternion).

        None for joint semantics, whose action dim follows the robot instead.
        """
        if self is ActionSemantics.EE_DELTA:
            return 6
        if self is ActionSemantics.EE_ABSOLUTE:
            return 7
        return None


class CommandInterface(str, Enum):
    """What the node publishes (docs/interface.md `command_interface`)."""

    JOINT_TRAJECTORY = "joint_trajectory"
    JOINT_POSITION = "joint_position"
    JOINT_VELOCITY = "joint_velocity"
    TWIST = "twist"
    POSE = "pose"

    @property
    def is_joint_space(self) -> bool:
        return self in _JOINT_SPACE_INTERFACES

    @property
    def is_joint_position(self) -> bool:
        """Publishes joint positions (a trajectory or one position per tick), not velocities or poses."""
        return self in _JOINT_POSITION_INTERFACES

    @property
    def is_velocity(self) -> bool:
        return self in _VELOCITY_INTERFACES


# Membership of the enum properties above (defined once the members exist).
_JOINT_SEMANTICS = frozenset({ActionSemantics.JOINT_POSITION, ActionSemantics.JOINT_POSITION_DELTA,
                              ActionSemantics.JOINT_VELOCITY})
_JOINT_POSITION_SEMANTICS = frozenset({ActionSemantics.JOINT_POSITION, ActionSemantics.JOINT_POSITION_DELTA})
_RATE_SEMANTICS = frozenset({ActionSemantics.JOINT_VELOCITY, ActionSemantics.EE_DELTA})
_JOINT_SPACE_INTERFACES = frozenset({CommandInterface.JOINT_TRAJECTORY, CommandInterface.JOINT_POSITION,
                                     CommandInterface.JOINT_VELOCITY})
_JOINT_POSITION_INTERFACES = frozenset({CommandInterface.JOINT_TRAJECTORY, CommandInterface.JOINT_POSITION})
_VELOCITY_INTERFACES = frozenset({CommandInterface.JOINT_VELOCITY, CommandInterface.TWIST})


class NodeState(str, Enum):
    """Status enum published in /vla/status."""

    IDLE = "IDLE"
    RUNNING = "RUNNING"
    HOLD_NO_INSTRUCTION = "HOLD_NO_INSTRUCTION"
    HOLD_STALE_IMAGE = "HOLD_STALE_IMAGE"
    HOLD_STALE_STATE = "HOLD_STALE_STATE"
    HOLD_INVALID_ACTION = "HOLD_INVALID_ACTION"
    HOLD_INFERENCE_LATE = "HOLD_INFERENCE_LATE"
    HOLD_NO_HEARTBEAT = "HOLD_NO_HEARTBEAT"
    ESTOP = "ESTOP"
    FAULT = "FAULT"

    @property
    def is_hold(self) -> bool:
        return self not in (NodeState.RUNNING,)


@dataclass(frozen=True)
class Observation:
    """One synchronized observation handed to a policy.

    images: camera name -> HxWx3 uint8 RGB (already converted from the ROS encoding).
    stamp: the image header stamp (the oldest camera's when several), ROS clock seconds.
    state: measured joint positions in `joint_names` order, or None when the model takes no state.
    """

    images: Mapping[str, np.ndarray]
    stamp: float
    instruction: str
    state: np.ndarray | None = None
    # Real-time chunking: the actions [d, D] (robot units, row 0 due at `stamp`, one row per model period) that
    # the robot executes anyway while this observation is inferred. A policy trained for it returns a chunk that
    # starts with exactly these rows and continues from them; any other policy ignores them.
    frozen_actions: np.ndarray | None = None


@dataclass(frozen=True)
class ActionChunk:
    """A model output placed on the clock: step k is due at obs_stamp + k * period."""

    actions: np.ndarray  # [T, D] float64 in robot units (already unnormalized)
    obs_stamp: float
    period: float  # the control period the model was trained at (manifest)
    semantics: ActionSemantics
    instruction_id: int  # increments on every instruction change; stale chunks are dropped by id
    reference_state: np.ndarray | None = None  # measured joints at the observation (delta semantics)
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.actions.ndim != 2:
            raise ValueError(f"ActionChunk.actions must be [T, D], got shape {self.actions.shape}")
        if not self.period > 0.0:
            raise ValueError(f"ActionChunk.period must be > 0, got {self.period}")

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])

    def due_time(self, step: int) -> float:
        return self.obs_stamp + step * self.period


@runtime_checkable
class Policy(Protocol):
    """The small interface every model backend implements (openpi's BasePolicy in spirit).

    Call infer() from one thread at a time. runtime_checkable so tests can assert that a class implements it
    (isinstance checks only that the members exist, not their signatures).
    """

    @property
    def timings_ms(self) -> Mapping[str, float]:
        """Per-stage wall times of the last infer() in ms (e.g. preprocess, inference, postprocess, total).

        Empty before the first inference and after reset().
        """
        ...

    def infer(self, obs: Observation) -> np.ndarray:
        """Return actions [T, D] in robot units for this observation."""
        ...

    def reset(self) -> None:
        """Forget any per-episode state (called on instruction change and activation)."""
        ...

    def close(self) -> None:
        """Release what the policy holds (a child process, shared memory). Safe to call more than once."""
        ...
