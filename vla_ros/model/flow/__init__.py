"""`flow_matching` packages: a prefix graph once per observation, then a velocity graph integrated over N steps."""

from __future__ import annotations

from vla_ros.model.backends.base import InferenceSession
from vla_ros.model.errors import BackendUnavailable
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage


def create_session(package: ModelPackage, backend: str, options: RuntimeOptions,
                   providers: list[str]) -> InferenceSession:
    raise BackendUnavailable(f"package '{package.name}': {backend} sessions for flow_matching packages "
                             "are not built yet")
