"""One model package loaded the way vla_node loads it, with a batched call for the server.

The policy comes from vla_ros.model.create_policy (same backends, same `auto` order, same TensorRT engine cache
as the node). A batch of observations from several robots is preprocessed one by one (a bad observation fails
only its own request), stacked on the graph's batch axis, run in one call, and decoded row by row. A one-graph
package's TensorRT engine is built with its batch axis spanning 1 .. --max-batch-size (another engine than the
node's, which is pinned to batch 1). Multi-graph packages on TensorRT run their rows one call each.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.model import ModelPackageError, ModelPolicy, RuntimeOptions, create_policy, load_model_package
from vla_ros.model.decoding import ActionDecoder
from vla_ros.model.remote.spec import RemoteSpec
from vla_ros.serve.layout import observation_from_request, request_layout
from vla_ros.serve.options import ServeOptions

_LOG = logging.getLogger("vla_ros.serve")


@dataclass
class BatchResult:
    actions: list[np.ndarray | Exception]  # one per observation, in order
    infer_ms: float  # the model call(s), preprocessing and decoding included
    batch_size: int


class ServedModel:
    """Not thread safe: the server runs every batch on one worker thread."""

    def __init__(self, options: ServeOptions) -> None:
        self.package = load_model_package(options.model_path)
        if self.package.manifest.remote is not None:
            raise ModelPackageError(f"{options.model_path} is a remote package: vla_serve serves packages with "
                                    "weights (a remote package points at a server like this one)")
        policy, self.selection = create_policy(self.package, options.backend,
                                               RuntimeOptions(intra_op_threads=options.intra_op_threads,
                                                              trt_max_batch=options.max_batch_size))
        assert isinstance(policy, ModelPolicy)
        self.policy = policy
        self.layout: RemoteSpec = request_layout(self.package, options.request_layout)
        self._decode = ActionDecoder(self.package.manifest.outputs, self.package.manifest.action)
        # A TensorRT engine takes the batches its profile was built for (1 where the graph has a fixed batch).
        self.batched_calls = self.selection.name != "tensorrt" or getattr(policy.session, "max_batch", 1) > 1
        _LOG.info("serving %s on %s (providers %s), %s", self.package.name, self.selection.name,
                  self.selection.providers, "batched calls" if self.batched_calls else "one call per row")

    @property
    def metadata(self) -> dict[str, object]:
        """What a robot receives on connect (openpi's servers send their policy metadata)."""
        return {"model": self.package.name, "backend": self.selection.name, "horizon": self.package.horizon,
                "action_dim": self.package.action_dim, "control_period_s": self.package.control_period,
                "cameras": list(self.package.camera_names), "max_frozen_steps": self.policy.max_frozen_steps}

    def observation(self, request: object) -> Observation:
        return observation_from_request(self.layout, self.package.camera_names, request)

    def infer_batch(self, observations: list[Observation]) -> BatchResult:
        started = time.perf_counter()
        results: list[np.ndarray | Exception] = []
        feeds: list[dict[str, np.ndarray]] = []
        rows: list[int] = []
        for index, obs in enumerate(observations):
            if obs.frozen_actions is not None and self.policy.max_frozen_steps:
                # A real-time-chunking request conditions its own denoising: it runs alone, not in the batch.
                try:
                    results.append(self.policy.infer(obs))
                except Exception as error:  # this robot's request only
                    results.append(error)
                continue
            try:
                feeds.append(self.policy.preprocess(obs))
                rows.append(index)
                results.append(np.empty(0))
            except Exception as error:  # this robot's observation only; the others still run
                results.append(error)
        if feeds:
            try:
                for index, actions in zip(rows, self._run(feeds)):
                    results[index] = actions
            except Exception as error:  # a failed call fails every request in it
                for index in rows:
                    results[index] = error
        return BatchResult(results, (time.perf_counter() - started) * 1e3, len(observations))

    def _run(self, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        session = self.policy.session
        if not self.batched_calls or len(feeds) == 1:
            return [self._decode(session.run(f)) for f in feeds]
        stacked = {name: np.concatenate([f[name] for f in feeds]) for name in feeds[0]}
        raw = session.run(stacked)
        return [self._decode(raw[row:row + 1]) for row in range(len(feeds))]
