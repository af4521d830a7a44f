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
