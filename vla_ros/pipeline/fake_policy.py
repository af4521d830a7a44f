"""FakePolicy: a Policy with scripted chunks, for tests of the pipeline and the node without a model."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from vla_ros.core.types import Observation

ChunkSource = Callable[[Observation], np.ndarray]


class FakePolicy:
    """Returns `chunk` (an array, or a function of the observation) for every inference.

    `error` makes the next inferences raise it (a model fault); `observations` keeps what it was given, so a
    test can check what the pipeline handed over. Thread-safe: the pipeline infers on its own thread.
    """

    def __init__(self, chunk: np.ndarray | ChunkSource, error: Exception | None = None) -> None:
        self._chunk = chunk
        self.error = error
        self.observations: list[Observation] = []
        self.resets = 0
        self.closed = False
        self.timings_ms: dict[str, float] = {}
        self._lock = threading.Lock()

    def infer(self, obs: Observation) -> np.ndarray:
        with self._lock:
            self.observations.append(obs)
            if self.error is not None:
                raise self.error
            chunk = self._chunk(obs) if callable(self._chunk) else self._chunk
            self.timings_ms = {"fake": 0.0}
            return np.array(chunk, dtype=np.float32, copy=True)

    def reset(self) -> None:
        with self._lock:
            self.resets += 1

    def close(self) -> None:
        self.closed = True
