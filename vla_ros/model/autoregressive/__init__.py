"""`autoregressive_tokens` packages: a prefill graph, then one step graph call per action token with a KV cache.

The session returns the greedy token ids [1, T, D] (time-major), which ActionDecoder maps onto bins and then
robot units like any `bins` package with token ids (RT-2's or OpenVLA's token map, outputs.bins). With
`restrict_to_action_tokens` the argmax only looks at the ids that are action tokens, as RT-2 and OpenVLA decode.
Greedy decoding runs per observation: a batch is decoded row by row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from vla_ros.model.autoregressive.decode import TokenStepper, greedy_decode
from vla_ros.model.backends.base import InferenceSession
from vla_ros.model.errors import BackendUnavailable
from vla_ros.model.manifest_types import BinScheme, OutputSpec
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage


def action_token_range(outputs: OutputSpec) -> tuple[int, int]:
    """[first, last + 1) of the ids that decode to action bins under the package's token map."""
    bins = outputs.bins
    assert bins is not None
    if bins.scheme is BinScheme.OPENVLA:
        assert bins.vocab_size is not None
        return bins.vocab_size - (bins.n_bins - 1), bins.vocab_size  # ids counted down from the vocab's end
    assert bins.token_offset is not None
    return bins.token_offset, bins.token_offset + bins.n_bins


class _TimedStepper:
    def __init__(self, stepper: TokenStepper) -> None:
        self.stepper = stepper
        self.prefill_ms = 0.0
        self.step_ms: list[float] = []

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        started = time.perf_counter()
        logits = self.stepper.prefill(feeds)
        self.prefill_ms = (time.perf_counter() - started) * 1e3
        self.step_ms = []
        return logits

    def step(self, token: int) -> np.ndarray:
        started = time.perf_counter()
        logits = self.stepper.step(token)
        self.step_ms.append((time.perf_counter() - started) * 1e3)
        return logits


class AutoregressiveSession:
    """InferenceSession (+ StagedSession) of an autoregressive_tokens package on one backend."""

    def __init__(self, name: str, stepper: TokenStepper, providers: list[str], outputs: OutputSpec) -> None:
        assert outputs.autoregressive is not None
        self.name = name
        self.providers = providers
        self.horizon, self.action_dim = outputs.horizon, outputs.action_dim
        restrict = outputs.autoregressive.restrict_to_action_tokens
        self.allowed = action_token_range(outputs) if restrict else None
        self.stepper = stepper
        self._timed = _TimedStepper(stepper)
        self.timings_ms: dict[str, float] = {}

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        batch = int(next(iter(feeds.values())).shape[0])
        count = self.horizon * self.action_dim
        rows = []
        for row in range(batch):
            single = {name: value[row:row + 1] for name, value in feeds.items()}
            rows.append(greedy_decode(self._timed, single, count, self.allowed))
        steps = self._timed.step_ms
        self.timings_ms = {"prefill_ms": self._timed.prefill_ms,
                           "decode_token_ms": float(np.mean(steps)) if steps else 0.0,
                           "decoded_tokens": float(count)}
        return np.stack(rows).reshape(batch, self.horizon, self.action_dim)


def create_session(package: ModelPackage, backend: str, options: RuntimeOptions,
                   providers: list[str]) -> InferenceSession:
    from vla_ros.model.autoregressive.steppers import OnnxRuntimeStepper, TensorRTStepper, TorchStepper

    outputs = package.manifest.outputs
    stepper: OnnxRuntimeStepper | TorchStepper | TensorRTStepper
    if backend == "onnxruntime":
        stepper = OnnxRuntimeStepper(package, options, providers)
    elif backend == "torch":
        stepper = TorchStepper(package, options)
    elif backend == "tensorrt":
        stepper = TensorRTStepper(package, options, outputs.horizon * outputs.action_dim)
    else:
        raise BackendUnavailable(f"backend {backend}: autoregressive_tokens packages run on tensorrt, onnxruntime "
                                 "or torch")
    return AutoregressiveSession(backend, stepper, stepper.providers, outputs)
