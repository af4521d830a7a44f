"""Convert model actions into what the configured command interface needs.

Two levels: to_targets() runs once per chunk on arrival (delta integration, per-step twist), so the
scheduler only ever interpolates absolute targets or rates; to_command() runs per control tick and is a
few vector ops. Conversions that need robot kinematics (joint <-> Cartesian) are refused up front by
check_compatible(), because vla_ros has no kinematics model of the user's robot.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from vla_ros.core.types import ActionChunk, ActionSemantics, CommandInterface

_JOINT_INTERFACES = "joint_trajectory, joint_position or joint_velocity"
_NO_KINEMATICS = "needs a kinematics model that vla_ros does not have"


def check_compatible(semantics: ActionSemantics, interface: CommandInterface) -> str | None:
    """None when `semantics` actions can drive `interface`; otherwise the reason they cannot."""
    semantics = ActionSemantics(semantics)
    interface = CommandInterface(interface)
    if semantics.is_joint:
        if interface.is_joint_space:
            return None
        return (f"{semantics.value} actions need command_interface {_JOINT_INTERFACES}; "
                f"{interface.value} {_NO_KINEMATICS}")
    if semantics is ActionSemantics.EE_DELTA:
        if interface is CommandInterface.TWIST:
            return None
        return f"ee_delta actions need command_interface twist; {interface.value} {_NO_KINEMATICS}"
    if interface is CommandInterface.POSE:
        return None
    return f"ee_absolute actions need command_interface pose; {interface.value} {_NO_KINEMATICS}"


class CommandSynthesizer:
    """Chunk-level and tick-level conversion for one (semantics, interface) pair, checked at construction."""

    def __init__(self, semantics: ActionSemantics, interface: CommandInterface, control_period: float,
                 model_period: float, *, absolute_dims: Sequence[int] = ()) -> None:
        self.semantics = ActionSemantics(semantics)
        self.interface = CommandInterface(interface)
        reason = check_compatible(self.semantics, self.interface)
        if reason:
            raise ValueError(reason)
        for name, value in (("control_period", control_period), ("model_period", model_period)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r}: expected a finite number > 0")
        dims = tuple(absolute_dims)
        if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims) or len(set(dims)) != len(dims):
            raise ValueError(f"absolute_dims={dims!r}: expected unique integers >= 0")
        if dims and self.semantics is not ActionSemantics.JOINT_POSITION_DELTA:
            raise ValueError(f"absolute_dims={dims!r}: only meaningful for joint_position_delta actions, "
                             f"not {self.semantics.value}")
        self.control_period = float(control_period)
        self.model_period = float(model_period)
        self.absolute_dims = tuple(int(d) for d in dims)

    # ---- once per chunk ---------------------------------------------------------------------------------

    def to_targets(self, actions: np.ndarray, reference_state: np.ndarray | None) -> np.ndarray:
        """Chunk actions [T, D] -> absolute targets (position semantics) or rates (velocity, twist)."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2:
            raise ValueError(f"actions must be [T, D], got shape {actions.shape}")
        dim = actions.shape[1]
        if self.semantics is ActionSemantics.JOINT_POSITION_DELTA:
            if reference_state is None:
                raise ValueError("joint_position_delta actions need the reference_state measured at the observation")
            reference = np.asarray(reference_state, dtype=np.float64)
            if reference.shape != (dim,):
                raise ValueError(f"reference_state has shape {reference.shape}, expected ({dim},)")
            bad = [d for d in self.absolute_dims if d >= dim]
            if bad:
                raise ValueError(f"absolute_dims {bad} out of range for action_dim {dim}")
            targets = reference + np.cumsum(actions, axis=0)
            for d in self.absolute_dims:  # e.g. a gripper commanded open/closed, not by increments
                targets[:, d] = actions[:, d]
            return targets
        if self.semantics is ActionSemantics.EE_DELTA:
            return actions / self.model_period
        if self.semantics is ActionSemantics.EE_ABSOLUTE and dim >= 7:
            return _continuous_quaternions(actions)
        return actions.copy()

    def to_target_chunk(self, chunk: ActionChunk) -> ActionChunk:
        """`chunk` with its actions replaced by to_targets(), ready for ChunkScheduler.add()."""
        return dataclasses.replace(chunk, actions=self.to_targets(chunk.actions, chunk.reference_state))

    # ---- once per control tick --------------------------------------------------------------------------

    def to_command(self, sample: np.ndarray, measured: np.ndarray | None) -> np.ndarray:
        """A scheduler sample -> the vector the command interface publishes (a new array)."""
        sample = np.asarray(sample, dtype=np.float64)
        interface, semantics = self.interface, self.semantics
        if interface.is_joint_position:
            if semantics.is_joint_position:
                return sample.copy()
            # Joint velocity actions to a position controller: where the joint should be one tick from now.
            # Anchored on the measured state (not on our last command) so it can never wind up away from the robot.
            return self._measured(measured, sample) + sample * self.control_period
        if interface is CommandInterface.JOINT_VELOCITY:
            if semantics.is_joint_position:
                # A P-controller that reaches the target in one model period.
                return (sample - self._measured(measured, sample)) / self.model_period
            return sample.copy()
        if interface is CommandInterface.POSE and sample.shape[0] >= 7:
            # Interpolated and blended quaternions are not unit length; consumers expect unit ones.
            pose = sample.copy()
            norm = float(np.linalg.norm(pose[3:7]))
            if norm > 1e-9:
                pose[3:7] /= norm
            return pose
        return sample.copy()  # twist (already per-second) and pose pass through

    def to_trajectory(self, points: Sequence[tuple[float, np.ndarray]],
                      measured: np.ndarray | None) -> list[tuple[float, np.ndarray]]:
        """Scheduler trajectory points -> joint positions for joint_trajectory_controller.

        Position semantics pass through; joint velocities are integrated from the measured state.
        """
        if self.semantics.is_joint_position:
            return [(t, np.array(p, dtype=np.float64)) for t, p in points]
        if self.semantics is not ActionSemantics.JOINT_VELOCITY:
            raise ValueError(f"{self.semantics.value} actions have no joint trajectory")
        out: list[tuple[float, np.ndarray]] = []
        if not points:
            return out
        position = self._measured(measured, np.asarray(points[0][1]))
        previous_time = 0.0
        for t, velocity in points:
            position = position + np.asarray(velocity, dtype=np.float64) * (t - previous_time)
            out.append((t, position))
            previous_time = t
        return out

    @staticmethod
    def _measured(measured: np.ndarray | None, sample: np.ndarray) -> np.ndarray:
        if measured is None:
            raise ValueError("this semantics/interface pair needs the measured joint state")
        measured = np.asarray(measured, dtype=np.float64)
        if measured.shape != sample.shape:
            raise ValueError(f"measured state has shape {measured.shape}, action has {sample.shape}")
        return measured


def _continuous_quaternions(poses: np.ndarray) -> np.ndarray:
    """Flip quaternion signs (q and -q are one rotation) so consecutive steps interpolate the short way."""
    out = poses.copy()
    for k in range(1, out.shape[0]):
        if float(np.dot(out[k, 3:7], out[k - 1, 3:7])) < 0.0:
            out[k, 3:7] = -out[k, 3:7]
    return out
