"""Euler integration of a flow-matching velocity field, with real-time chunking's frozen prefix.

x starts as seeded Gaussian noise (the manifest's noise_seed, redrawn identically on every call, so the same
observation gives the same chunk on every backend) and moves along the field from flow time 0 to 1 in `steps`
equal steps. A frozen prefix (the actions that will run while this chunk is being computed) is written into x
at flow time 1 before the first step and after every step, so it comes out exactly and the model, trained on
such prefixes, continues from it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from vla_ros.model.manifest_types import FlowSpec


class VelocityField(Protocol):
    """One backend's prefix and velocity graphs; the context of the last prefix() stays inside (on its device)."""

    def prefix(self, feeds: dict[str, np.ndarray]) -> None: ...

    def velocity(self, noisy_actions: np.ndarray, time: np.ndarray) -> np.ndarray:
        """[1, T, D] float32 and [1, T] float32 -> [1, T, D]."""
        ...


def initial_noise(spec: FlowSpec, horizon: int, action_dim: int, batch: int = 1) -> np.ndarray:
    """[batch, T, D]: every row the same draw, so a row of a batch equals the same observation alone."""
    row = np.random.default_rng(spec.noise_seed).standard_normal((1, horizon, action_dim)).astype(np.float32)
    return np.repeat(row, batch, axis=0)


def integrate(field: VelocityField, spec: FlowSpec, horizon: int, action_dim: int, batch: int = 1,
              frozen: np.ndarray | None = None) -> np.ndarray:
    """Normalized actions [batch, T, D] after `spec.steps` Euler steps; `frozen` [d, D] (model space, batch 1
    only) is kept as given."""
    x = initial_noise(spec, horizon, action_dim, batch)
    time = np.zeros((batch, horizon), dtype=np.float32)
    d = 0 if frozen is None else int(frozen.shape[0])
    if d and batch != 1:
        raise ValueError(f"a frozen prefix is per observation: batch {batch} given")
    if d:
        x[0, :d] = frozen
        time[0, :d] = 1.0
    dt = 1.0 / spec.steps
    for k in range(spec.steps):
        time[:, d:] = k * dt
        x = x + field.velocity(x, time).astype(np.float32) * np.float32(dt)
        if d:
            x[0, :d] = frozen
    return x
