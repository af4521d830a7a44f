"""The small interface every backend implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np


class InferenceSession(Protocol):
    """Runs the exported graph (or the eager module) on already-preprocessed tensors."""

    name: str  # "tensorrt" | "onnxruntime" | "torch"
    providers: list[str]  # onnxruntime execution providers, or a one-item description for the others

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return the manifest's output tensor with its batch axis (e.g. [1, T, D])."""
        ...


@runtime_checkable
class StagedSession(Protocol):
    """A session that runs several graphs per inference and reports each stage's time of its last run()
    (e.g. prefill_ms, decode_per_token_ms, prefix_ms, denoise_per_step_ms)."""

    timings_ms: Mapping[str, float]


@runtime_checkable
class PrefixConditionedSession(Protocol):
    """A session that can keep the first rows of its chunk as given (real-time chunking, flow_matching)."""

    max_frozen_steps: int  # 0: the package was not trained for it

    def run_with_prefix(self, feeds: Mapping[str, np.ndarray], frozen: np.ndarray | None) -> np.ndarray:
        """run(feeds), with `frozen` [d, D] (model space) as the chunk's first d rows."""
        ...
