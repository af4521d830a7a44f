"""sensor_msgs/JointState -> positions in the configured joint order, without ROS."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class JointStateError(ValueError):
    """The joint state cannot be used; the message says why."""


class JointStateReorderer:
    """Maps a JointState's (names, positions) to `joint_names` order.

    Extra joints (another arm, a gripper we do not command) are ignored: robots commonly publish one
    joint_states for everything. Missing, duplicated or non-finite joints we need are errors, because a
    hold computed from a wrong measured state is itself unsafe.
    """

    def __init__(self, joint_names: Sequence[str]) -> None:
        self._joint_names = tuple(joint_names)
        self._cached_order: tuple[tuple[str, ...], np.ndarray] | None = None

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self._joint_names

    def reorder(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
        names = tuple(names)
        if len(positions) != len(names):
            raise JointStateError(f"joint state has {len(names)} names but {len(positions)} positions")
        index = self._index_for(names)
        values = np.asarray(positions, dtype=float)[index]
        if not np.all(np.isfinite(values)):
            bad = [n for n, v in zip(self._joint_names, values) if not np.isfinite(v)]
            raise JointStateError(f"joint state has non-finite positions for {bad}")
        return values

    def _index_for(self, names: tuple[str, ...]) -> np.ndarray:
        # Drivers publish the same name list every message: cache the permutation.
        if self._cached_order is not None and self._cached_order[0] == names:
            return self._cached_order[1]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise JointStateError(f"joint state has duplicated joint names {duplicated}")
        position_of = {name: i for i, name in enumerate(names)}
        missing = [n for n in self._joint_names if n not in position_of]
        if missing:
            raise JointStateError(f"joint state is missing joints {missing}")
        index = np.array([position_of[n] for n in self._joint_names], dtype=np.intp)
        self._cached_order = (names, index)
        return index
