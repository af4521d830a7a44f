"""TensorRT engine cache: engines are only valid for one GPU model, TensorRT version, graph, shapes and precision.

The cache key holds all of those; the file name is a digest of the key and a JSON sidecar keeps the key in
clear so a digest collision or a hand-copied engine is detected instead of deserialized. No TensorRT import
here, so the logic is testable on machines without a GPU.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

_LOG = logging.getLogger("vla_ros.model.tensorrt")

PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class EngineKey:
    gpu_name: str
    compute_capability: tuple[int, int]
    tensorrt_version: str
    onnx_sha256: str
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]  # sorted by tensor name
    precision: str

    @classmethod
    def create(cls, *, gpu_name: str, compute_capability: tuple[int, int], tensorrt_version: str,
               onnx_sha256: str, input_shapes: Mapping[str, tuple[int, ...]], precision: str) -> EngineKey:
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}: expected one of {PRECISIONS}")
        shapes = tuple(sorted((name, tuple(int(d) for d in shape)) for name, shape in input_shapes.items()))
        return cls(gpu_name, (int(compute_capability[0]), int(compute_capability[1])), tensorrt_version,
                   onnx_sha256, shapes, precision)

    def as_json(self) -> str:
        data = asdict(self)
        data["compute_capability"] = list(self.compute_capability)
        data["input_shapes"] = [[name, list(shape)] for name, shape in self.input_shapes]
        return json.dumps(data, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.as_json().encode("utf-8")).hexdigest()[:32]

    def file_stem(self) -> str:
        gpu = "".join(c if c.isalnum() else "-" for c in self.gpu_name).strip("-").lower() or "gpu"
        cc = f"sm{self.compute_capability[0]}{self.compute_capability[1]}"
        return f"{gpu}_{cc}_trt{self.tensorrt_version}_{self.precision}_{self.digest()}"


class EngineCache:
    """Engines on disk beside the model (default `<package>/engine_cache/`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def engine_path(self, key: EngineKey) -> Path:
        return self.directory / f"{key.file_stem()}.engine"

    def key_path(self, key: EngineKey) -> Path:
        return self.directory / f"{key.file_stem()}.json"

    def load(self, key: EngineKey) -> bytes | None:
        engine, sidecar = self.engine_path(key), self.key_path(key)
        if not engine.is_file() or not sidecar.is_file():
            return None
        try:
            stored = sidecar.read_text(encoding="utf-8")
        except OSError:
            return None
        if stored != key.as_json():
            _LOG.warning("engine cache entry %s does not match its key; rebuilding", engine.name)
            return None
        return engine.read_bytes()

    def store(self, key: EngineKey, engine_bytes: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        engine = self.engine_path(key)
        # Write-then-rename so a crash mid-write never leaves a truncated engine that matches the key.
        for path, payload in ((engine, engine_bytes), (self.key_path(key), key.as_json().encode("utf-8"))):
            tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
            tmp.write_bytes(payload)
            os.replace(tmp, path)
        return engine

    def get_or_build(self, key: EngineKey, build: Callable[[], bytes]) -> tuple[bytes, bool]:
        """(engine bytes, True when it came from the cache). `build` runs only on a miss."""
        cached = self.load(key)
        if cached is not None:
            _LOG.info("TensorRT engine cache hit: %s", self.engine_path(key))
            return cached, True
        _LOG.info("TensorRT engine cache miss, building %s", self.engine_path(key).name)
        engine_bytes = build()
        try:
            self.store(key, engine_bytes)
        except OSError as error:  # e.g. a read-only install prefix: run uncached rather than fail after the build
            _LOG.warning("TensorRT engine not cached (%s); set trt_cache_dir to a writable folder", error)
        return engine_bytes, False
