"""What a vla_serve application is built from: the CLI's options, and the `args` of a KubeRay RayService.

`ServeOptions.from_args(dict)` is the one place both paths go through, so a manifest's `args:` is checked with
the same rules (and error messages) as the command line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_MAX_REQUEST_BYTES = 8 << 20  # a DROID observation (two 224x224x3 images) is ~300 KB
# Ray Serve's HTTP proxy (uvicorn) closes a websocket with 1009 on any frame above 16 MiB, before the service
# could answer with its text-frame error: a larger limit would only look configurable (measured with Ray 2.60).
RAY_PROXY_MAX_FRAME_BYTES = 16 << 20
# Every connected robot holds one of a replica's ongoing requests for as long as its websocket is open.
DEFAULT_MAX_ROBOTS_PER_REPLICA = 64


class ServeOptionsError(ValueError):
    """An option out of range, or an unknown option name in a RayService's args."""


@dataclass(frozen=True)
class ServeOptions:
    model_path: str
    replicas: int = 1
    max_batch_size: int = 1  # 1 = batching off
    batch_wait_ms: float = 5.0
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    backend: str = "auto"
    request_layout: str = ""  # a remote package whose `remote:` section gives the request keys; "" = default
    api_key_env: str = ""  # name of the environment variable holding the key every connection must present
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_robots_per_replica: int = DEFAULT_MAX_ROBOTS_PER_REPLICA
    intra_op_threads: int = 1

    def __post_init__(self) -> None:
        checks = [
            (bool(self.model_path), "model_path: the model package to serve"),
            (self.replicas >= 1, f"replicas={self.replicas}: at least 1"),
            (self.max_batch_size >= 1, f"max_batch_size={self.max_batch_size}: at least 1 (1 = no batching)"),
            (self.max_batch_size <= 256, f"max_batch_size={self.max_batch_size}: at most 256"),
            (self.batch_wait_ms >= 0.0, f"batch_wait_ms={self.batch_wait_ms}: not negative"),
            (self.gpus_per_replica >= 0.0, f"gpus_per_replica={self.gpus_per_replica}: not negative"),
            (self.cpus_per_replica > 0.0, f"cpus_per_replica={self.cpus_per_replica}: positive"),
            (self.max_request_bytes >= 1024, f"max_request_bytes={self.max_request_bytes}: at least 1024"),
            (self.max_request_bytes <= RAY_PROXY_MAX_FRAME_BYTES,
             f"max_request_bytes={self.max_request_bytes}: at most {RAY_PROXY_MAX_FRAME_BYTES} (Ray Serve's proxy "
             "closes larger websocket frames itself, code 1009, without the service's error message)"),
            (self.max_robots_per_replica >= self.max_batch_size,
             f"max_robots_per_replica={self.max_robots_per_replica}: at least max_batch_size"),
            (self.intra_op_threads >= 1, f"intra_op_threads={self.intra_op_threads}: at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ServeOptionsError(message)

    @property
    def batching(self) -> bool:
        return self.max_batch_size > 1

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> ServeOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(args) - known)
        if unknown:
            raise ServeOptionsError(f"unknown vla_serve option(s) {unknown} (known: {sorted(known)})")
        if "model_path" not in args:
            raise ServeOptionsError("model_path: the model package to serve")
        types = {f.name: f.type for f in fields(cls)}
        converted: dict[str, Any] = {}
        for name, value in args.items():
            kind = {"int": int, "float": float, "str": str}[str(types[name])]
            try:
                converted[name] = kind(value)
            except (TypeError, ValueError) as error:
                raise ServeOptionsError(f"{name}={value!r}: expected {kind.__name__}") from error
        return cls(**converted)

    def as_args(self) -> dict[str, Any]:
        return asdict(self)
