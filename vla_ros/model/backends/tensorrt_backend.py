"""TensorRT backend: engine built from the package's ONNX, cached beside it, run on its own CUDA stream.

TensorRT and the CUDA runtime are imported lazily, so this module imports fine on CPU machines and the
`auto` selection can say exactly why TensorRT was skipped. Device memory is handled through torch's CUDA
allocator (torch is already a dependency), which avoids a second CUDA binding (pycuda / cuda-python).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from vla_ros.model.backends.engine_cache import EngineCache, EngineKey
from vla_ros.model.errors import BackendUnavailable, ModelPackageError
from vla_ros.model.manifest_types import Manifest
from vla_ros.model.options import RuntimeOptions

_LOG = logging.getLogger("vla_ros.model.tensorrt")


def import_tensorrt():
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendUnavailable("TensorRT is not installed: pip install tensorrt (GPU machines only)") from exc
    return tensorrt


def _require_cuda():
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailable("the TensorRT backend needs torch with CUDA for device buffers") from exc
    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs a CUDA GPU, and torch.cuda.is_available() is False here")
    return torch


def _progress_monitor(trt):
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _LogProgress(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self._started: dict[str, float] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self._started[phase_name] = time.monotonic()
            _LOG.info("TensorRT build: %s (%d steps) ...", phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            took = time.monotonic() - self._started.pop(phase_name, time.monotonic())
            _LOG.info("TensorRT build: %s done in %.1f s", phase_name, took)

    return _LogProgress()


def profile_shapes(onnx_shape: tuple[int, ...], manifest_shape: tuple[int, ...],
                   max_batch: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) of one input with dynamic dimensions. The manifest's shape pins every dimension, except a
    dynamic batch axis when batches are asked for: that spans 1 .. max_batch, tuned for the largest."""
    shape = tuple(int(d) for d in manifest_shape)
    if max_batch <= 1 or not onnx_shape or onnx_shape[0] >= 0:
        return shape, shape, shape
    largest = (max_batch, *shape[1:])
    return (1, *shape[1:]), largest, largest


def build_engine(trt, onnx_path: Path, input_shapes: Mapping[str, tuple[int, ...]],
                 fp16: bool, workspace_mib: int, max_batch: int = 1) -> bytes:
    """Parse the ONNX and build a serialized engine; dynamic dimensions get a profile from profile_shapes."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelPackageError(f"weights.onnx.file: TensorRT cannot parse '{onnx_path.name}': {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    dynamic = False
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(input_shapes[tensor.name])
        if any(d < 0 for d in tensor.shape):
            dynamic = True
            # The node always feeds the manifest's shape (batch 1), so min = opt = max gives it the best kernels;
            # a server batching robots asks for the batch axis to span its batch sizes.
            profile.set_shape(tensor.name, *profile_shapes(tuple(tensor.shape), shape, max_batch))
    if dynamic:
        config.add_optimization_profile(profile)
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    started = time.monotonic()
    _LOG.info("building TensorRT engine from %s (%s), this can take minutes", onnx_path.name,
              "fp16" if fp16 else "fp32")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelPackageError(f"TensorRT failed to build an engine from '{onnx_path.name}' (see log)")
    _LOG.info("TensorRT engine built in %.1f s", time.monotonic() - started)
    return bytes(serialized)


class TensorRTSession:
    name = "tensorrt"

    def __init__(self, onnx_path: Path | None, manifest: Manifest, onnx_sha256: str | None,
                 options: RuntimeOptions, package_root: Path) -> None:
        if onnx_path is None or onnx_sha256 is None:
            raise BackendUnavailable("the TensorRT backend builds from ONNX, and this package has no weights.onnx")
        trt = import_tensorrt()
        torch = _require_cuda()
        self._torch = torch
        props = torch.cuda.get_device_properties(0)
        shapes = {name: shape for name, (shape, _dtype) in manifest.input_shapes().items()}
        precision = "fp16" if options.trt_fp16 else "fp32"
        # An engine built for batches is another engine: its largest batch is part of the cache key.
        key_shapes = shapes if options.trt_max_batch == 1 else {**shapes, "max_batch": (options.trt_max_batch,)}
        self.key = EngineKey.create(gpu_name=props.name, compute_capability=(props.major, props.minor),
                                    tensorrt_version=trt.__version__, onnx_sha256=onnx_sha256,
                                    input_shapes=key_shapes, precision=precision)
        self.cache = EngineCache(options.trt_cache_dir or (package_root / "engine_cache"))
        engine_bytes, self.cache_hit = self.cache.get_or_build(
            self.key, lambda: build_engine(trt, onnx_path, shapes, options.trt_fp16, options.trt_workspace_mib,
                                           options.trt_max_batch))
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(engine_bytes)
        if self._engine is None:
            raise ModelPackageError(f"TensorRT could not deserialize {self.cache.engine_path(self.key)}")
        self._context = self._engine.create_execution_context()
        self._stream = torch.cuda.Stream()
        self.providers = [f"tensorrt-{trt.__version__}:{props.name}:{precision}"]
        self._output_name = manifest.outputs.tensor
        # Device and pinned host buffers are allocated once, for the largest batch; every call only copies into
        # their leading rows (the batch axis comes first, so those rows are contiguous).
        self._device: dict[str, object] = {}
        self._host: dict[str, object] = {}
        self._inputs: list[str] = []
        self._shapes = shapes
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        batchable = all(len(self._engine.get_tensor_shape(n)) > 0 and self._engine.get_tensor_shape(n)[0] < 0
                        for n in inputs)
        self.max_batch = options.trt_max_batch if batchable else 1
        self._batch = self.max_batch
        for name in inputs:  # every input shape first: the output shapes follow from them
            self._context.set_input_shape(name, (self.max_batch, *shapes[name][1:]))
            self._inputs.append(name)
        for name in names:
            shape = tuple(self._context.get_tensor_shape(name))
            np_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            torch_dtype = torch.from_numpy(np.zeros(0, dtype=np_dtype)).dtype
            device_buf = torch.empty(shape, dtype=torch_dtype, device="cuda")
            self._device[name] = device_buf
            self._host[name] = torch.empty(shape, dtype=torch_dtype, pin_memory=True)
            self._context.set_tensor_address(name, device_buf.data_ptr())

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """One call on 1 .. max_batch rows (the inputs' first axis)."""
        torch = self._torch
        batch = int(next(iter(feeds.values())).shape[0])
        if not 1 <= batch <= self.max_batch:
            raise ValueError(f"TensorRT engine: batch of {batch} rows, this engine takes 1 .. {self.max_batch}")
        if batch != self._batch:
            for name in self._inputs:
                self._context.set_input_shape(name, (batch, *self._shapes[name][1:]))
            self._batch = batch
        with torch.cuda.stream(self._stream):
            for name in self._inputs:
                host = self._host[name][:batch]  # type: ignore[index]
                host.numpy()[...] = feeds[name]
                self._device[name][:batch].copy_(host, non_blocking=True)  # type: ignore[index]
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            out_host = self._host[self._output_name][:batch]  # type: ignore[index]
            out_host.copy_(self._device[self._output_name][:batch], non_blocking=True)  # type: ignore[index]
        self._stream.synchronize()
        return out_host.numpy().copy()
