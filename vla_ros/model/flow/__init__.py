"""`flow_matching` packages: a prefix graph once per observation, then a velocity graph integrated over N steps.

The session returns normalized actions [B, T, D] like a `continuous` graph does, so decoding is shared. With a
frozen prefix (real-time chunking, `run_with_prefix`) the first rows come out as given and the rest continue
from them; the package must say it was trained for that (`outputs.flow.rtc`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from vla_ros.model.backends.base import InferenceSession
from vla_ros.model.errors import BackendUnavailable
from vla_ros.model.flow.integrate import VelocityField, integrate
from vla_ros.model.manifest_types import FlowSpec
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage


class _TimedField:
    """Wraps a field to time its calls: the prefix once, every velocity step."""

    def __init__(self, field: VelocityField) -> None:
        self.field = field
        self.prefix_ms = 0.0
        self.step_ms: list[float] = []

    def prefix(self, feeds: dict[str, np.ndarray]) -> None:
        started = time.perf_counter()
        self.field.prefix(feeds)
        self.prefix_ms = (time.perf_counter() - started) * 1e3
        self.step_ms = []

    def velocity(self, noisy_actions: np.ndarray, flow_time: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        out = self.field.velocity(noisy_actions, flow_time)
        self.step_ms.append((time.perf_counter() - started) * 1e3)
        return out


class FlowSession:
    """InferenceSession (+ StagedSession) of a flow_matching package on one backend."""

    def __init__(self, name: str, field: VelocityField, providers: list[str], spec: FlowSpec, horizon: int,
                 action_dim: int) -> None:
        self.name = name
        self.providers = providers
        self.spec = spec
        self.horizon, self.action_dim = horizon, action_dim
        self.max_frozen_steps = 0 if spec.rtc is None else spec.rtc.max_delay_steps
        self._field = _TimedField(field)
        self.timings_ms: dict[str, float] = {}

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.run_with_prefix(feeds, None)

    def run_with_prefix(self, feeds: Mapping[str, np.ndarray], frozen: np.ndarray | None) -> np.ndarray:
        """Normalized actions [B, T, D]; `frozen` [d, D] in model space (batch 1) is kept as the first d rows."""
        if frozen is not None and not 0 < frozen.shape[0] <= self.max_frozen_steps:
            raise ValueError(f"frozen prefix of {frozen.shape[0]} steps: this package takes 1 .. "
                             f"{self.max_frozen_steps} (outputs.flow.rtc.max_delay_steps)")
        batch = int(next(iter(feeds.values())).shape[0])
        self._field.prefix(dict(feeds))
        actions = integrate(self._field, self.spec, self.horizon, self.action_dim, batch,
                            None if frozen is None else np.asarray(frozen, dtype=np.float32))
        steps = self._field.step_ms
        self.timings_ms = {"prefix_ms": self._field.prefix_ms,
                           "denoise_step_ms": float(np.mean(steps)) if steps else 0.0,
                           "denoise_steps": float(len(steps))}
        return actions


def create_session(package: ModelPackage, backend: str, options: RuntimeOptions,
                   providers: list[str]) -> InferenceSession:
    from vla_ros.model.flow.fields import OnnxRuntimeField, TensorRTField, TorchField

    outputs = package.manifest.outputs
    assert outputs.flow is not None
    field: OnnxRuntimeField | TorchField | TensorRTField
    if backend == "onnxruntime":
        field = OnnxRuntimeField(package, options, providers)
    elif backend == "torch":
        field = TorchField(package, options)
    elif backend == "tensorrt":
        field = TensorRTField(package, options)
    else:
        raise BackendUnavailable(f"backend {backend}: flow_matching packages run on tensorrt, onnxruntime or torch")
    return FlowSession(backend, field, field.providers, outputs.flow, outputs.horizon, outputs.action_dim)
