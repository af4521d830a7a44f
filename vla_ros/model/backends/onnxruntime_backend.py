"""onnxruntime backend: providers, thread counts and graph optimization from RuntimeOptions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.model.errors import BackendUnavailable
from vla_ros.model.options import RuntimeOptions

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailable("onnxruntime is not installed: pip install onnxruntime (CPU) or "
                                 "onnxruntime-gpu (GPU machines)") from exc
    return onnxruntime


def available_gpu_providers() -> list[str]:
    """The CUDA/TensorRT execution providers this onnxruntime build offers (empty for CPU-only wheels)."""
    ort = _import_onnxruntime()
    available = ort.get_available_providers()
    return [p for p in GPU_PROVIDERS if p in available]


def open_ort_session(onnx_path: Path, options: RuntimeOptions, providers: list[str]) -> Any:
    """An onnxruntime InferenceSession with the options' threads and optimization level on `providers`."""
    ort = _import_onnxruntime()
    missing = [p for p in providers if p not in ort.get_available_providers()]
    if missing:
        raise BackendUnavailable(f"onnxruntime execution provider(s) {missing} are not available in this "
                                 f"onnxruntime build (available: {ort.get_available_providers()})")
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads
    so.inter_op_num_threads = options.inter_op_threads
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[options.graph_optimization]
    # Spinning worker threads burn a whole core between frames; the control loop needs that core.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx_path), sess_options=so, providers=providers)


def session_device(session: Any) -> str:
    """Where the session's outputs can stay between calls: "cuda" with the CUDA provider, else "cpu"."""
    return "cuda" if session.get_providers()[0] in GPU_PROVIDERS else "cpu"


class OnnxRuntimeSession:
    name = "onnxruntime"

    def __init__(self, onnx_path: Path, output_name: str, options: RuntimeOptions, providers: list[str]) -> None:
        self._session = open_ort_session(onnx_path, options, providers)
        self.providers = list(self._session.get_providers())
        self._output_name = output_name
        self._io_binding = self._session.io_binding() if options.use_io_binding else None

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        if self._io_binding is None:
            return self._session.run([self._output_name], dict(feeds))[0]
        binding = self._io_binding
        binding.clear_binding_inputs()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        binding.clear_binding_outputs()
        binding.bind_output(self._output_name)
        self._session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]
