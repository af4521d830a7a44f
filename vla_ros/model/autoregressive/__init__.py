"""`autoregressive_tokens` packages: a prefill graph, then one step graph call per action token with a KV cache."""

from __future__ import annotations

from vla_ros.model.backends.base import InferenceSession
from vla_ros.model.errors import BackendUnavailable
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage


def create_session(package: ModelPackage, backend: str, options: RuntimeOptions,
                   providers: list[str]) -> InferenceSession:
    raise BackendUnavailable(f"package '{package.name}': {backend} sessions for autoregressive_tokens packages "
                             "are not built yet")
