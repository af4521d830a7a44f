"""Runtime options shared by every backend (thread counts, providers, TensorRT precision and cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vla_ros.core.config import RemoteConfig

GRAPH_OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class RuntimeOptions:
    """How a backend should run the model.

    intra_op_threads / inter_op_threads: CPU threads for onnxruntime and torch (torch's setting is process wide).
    graph_optimization: onnxruntime graph optimization level, one of GRAPH_OPTIMIZATION_LEVELS.
    providers: explicit onnxruntime execution providers, in priority order; None = chosen by the backend
        selection (CUDA/TensorRT providers when onnxruntime-gpu sees a GPU, else CPU).
    use_io_binding: feed onnxruntime through IO binding (saves copies with device providers).
    trt_fp16: build the TensorRT engine with FP16 kernels allowed.
    trt_cache_dir: where TensorRT engines are cached; None = `<package>/engine_cache/`.
    trt_workspace_mib: TensorRT builder workspace limit.
    trt_max_batch: the largest batch a one-graph package's TensorRT engine accepts (vla_serve's --max-batch-size);
        1 pins its profile to the manifest's shape, as the node runs it.
    remote: how to reach the policy server of a remote package (backend remote).
    """

    intra_op_threads: int = 1
    inter_op_threads: int = 1
    graph_optimization: str = "all"
    providers: tuple[str, ...] | None = None
    use_io_binding: bool = False
    trt_fp16: bool = False
    trt_cache_dir: Path | None = None
    trt_workspace_mib: int = 1024
    trt_max_batch: int = 1
    remote: RemoteConfig = field(default_factory=RemoteConfig)

    def __post_init__(self) -> None:
        for name in ("intra_op_threads", "inter_op_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"RuntimeOptions.{name}={value!r}: expected an integer >= 1")
        if self.graph_optimization not in GRAPH_OPTIMIZATION_LEVELS:
            raise ValueError(f"RuntimeOptions.graph_optimization={self.graph_optimization!r}: expected one of "
                             f"{', '.join(GRAPH_OPTIMIZATION_LEVELS)}")
        if self.providers is not None and (not self.providers or not all(isinstance(p, str) for p in self.providers)):
            raise ValueError(f"RuntimeOptions.providers={self.providers!r}: expected a non-empty tuple of "
                             "onnxruntime provider names or None")
        if not isinstance(self.trt_workspace_mib, int) or self.trt_workspace_mib < 16:
            raise ValueError(f"RuntimeOptions.trt_workspace_mib={self.trt_workspace_mib!r}: expected an integer >= 16")
        if not isinstance(self.trt_max_batch, int) or isinstance(self.trt_max_batch, bool) or \
                not 1 <= self.trt_max_batch <= 256:
            raise ValueError(f"RuntimeOptions.trt_max_batch={self.trt_max_batch!r}: expected an integer in [1, 256]")
