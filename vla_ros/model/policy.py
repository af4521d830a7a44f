"""ModelPolicy: preprocess -> backend -> decode, with per-stage timings. Implements core.types.Policy."""

from __future__ import annotations

import time

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.model.backends.base import InferenceSession, PrefixConditionedSession, StagedSession
from vla_ros.model.decoding import ActionDecoder, encode_actions
from vla_ros.model.errors import InputError
from vla_ros.model.language import InstructionEncoder
from vla_ros.model.package import ModelPackage
from vla_ros.model.preprocess import ImagePreprocessor, StatePreprocessor


class ModelPolicy:
    """One loaded model on one backend. Not thread safe: call infer() from one thread at a time."""

    def __init__(self, package: ModelPackage, session: InferenceSession) -> None:
        manifest = package.manifest
        self.package = package
        self.session = session
        self._cameras = [(cam.name, ImagePreprocessor(cam)) for cam in manifest.cameras]
        self._state = StatePreprocessor(manifest.state) if manifest.state is not None else None
        self.encoder = InstructionEncoder(manifest.language, package.root) if manifest.language else None
        self._decode = ActionDecoder(manifest.outputs, manifest.action)
        self.timings_ms: dict[str, float] = {}

    @property
    def backend_name(self) -> str:
        return self.session.name

    def preprocess(self, obs: Observation) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        for name, prep in self._cameras:
            image = obs.images.get(name)
            if image is None:
                raise InputError(f"missing image from camera '{name}' (the model needs "
                                 f"{[n for n, _ in self._cameras]}, got {sorted(obs.images)})")
            feeds[prep.spec.tensor] = prep(image)
        if self.encoder is not None:
            if not isinstance(obs.instruction, str):
                raise InputError(f"instruction must be a string, got {type(obs.instruction).__name__}")
            feeds.update(self.encoder.encode(obs.instruction))
        if self._state is not None:
            feeds[self._state.spec.tensor] = self._state(obs.state)
        return feeds

    def infer(self, obs: Observation) -> np.ndarray:
        t0 = time.perf_counter()
        feeds = self.preprocess(obs)
        t1 = time.perf_counter()
        frozen = self._frozen_prefix(obs)
        raw = self.session.run(feeds) if frozen is None else self.session.run_with_prefix(feeds, frozen)
        t2 = time.perf_counter()
        actions = self._decode(raw)
        t3 = time.perf_counter()
        self.timings_ms = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3,
                           "postprocess": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}
        if isinstance(self.session, StagedSession):
            self.timings_ms.update(self.session.timings_ms)
        if self.max_frozen_steps:
            self.timings_ms["frozen_steps"] = 0.0 if frozen is None else float(len(frozen))
        return actions

    @property
    def max_frozen_steps(self) -> int:
        """How many leading actions of a chunk this model can take as given (real-time chunking); 0 = none."""
        return self.session.max_frozen_steps if isinstance(self.session, PrefixConditionedSession) else 0

    def _frozen_prefix(self, obs: Observation) -> np.ndarray | None:
        if obs.frozen_actions is None or self.max_frozen_steps == 0 or len(obs.frozen_actions) == 0:
            return None
        frozen = np.asarray(obs.frozen_actions, dtype=np.float64)
        if frozen.ndim != 2 or frozen.shape[1] != self.package.action_dim or not np.all(np.isfinite(frozen)):
            raise InputError(f"frozen_actions: expected finite [d, {self.package.action_dim}] actions, got shape "
                             f"{frozen.shape}")
        frozen = frozen[: self.max_frozen_steps]
        return encode_actions(frozen, self.package.manifest.action).astype(np.float32)

    def reset(self) -> None:
        """The bundled models are stateless per frame; the instruction cache is keyed by text, so it stays valid."""
        self.timings_ms = {}

    def close(self) -> None:
        """Nothing to release: the backend session frees its memory when the policy is garbage collected."""
