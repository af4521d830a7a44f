"""The small interface every backend implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np


class InferenceSession(Protocol):
    """Runs the exported graph (or the eager module) on already-preprocessed tensors."""

    name: str  # "tensorrt" | "onnxruntime" | "torch"
    providers: list[str]  # onnxruntime execution providers, or a one-item description for the others

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return the manifest's output tensor with its batch axis (e.g. [1, T, D])."""
        ...
