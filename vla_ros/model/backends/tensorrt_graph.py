"""One ONNX graph of a multi-graph package as a TensorRT engine whose inputs and outputs stay on the GPU.

The multi-graph kinds call their graphs many times per chunk (a velocity graph N times, a decode step per
token) and hand tensors from one call to the next (the flow context, the KV cache). Here those tensors are
torch CUDA tensors: an output of one call is bound as the input of the next without a host round trip.
Each input has an optimization profile (min, opt, max): fixed shapes pin all three, a growing KV cache spans
its sequence lengths. Engines are cached like the one-graph backend's (engine_cache.py), keyed by the profile.

Not exercised on CPU machines: TensorRT and CUDA are imported lazily and their absence is a BackendUnavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.model.backends.engine_cache import EngineCache, EngineKey
from vla_ros.model.backends.tensorrt_backend import _progress_monitor, _require_cuda, import_tensorrt
from vla_ros.model.errors import ModelPackageError
from vla_ros.model.options import RuntimeOptions

Profile = Mapping[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]  # name -> (min, opt, max)


def _build(trt: Any, onnx_path: Path, profile: Profile, fp16: bool, workspace_mib: int) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelPackageError(f"weights.onnx_graphs: TensorRT cannot parse '{onnx_path.name}': {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    optimization = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        if name not in profile:
            raise ModelPackageError(f"'{onnx_path.name}': no shape profile for input '{name}'")
        optimization.set_shape(name, *profile[name])
    config.add_optimization_profile(optimization)
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelPackageError(f"TensorRT failed to build an engine from '{onnx_path.name}' (see log)")
    return bytes(serialized)


class TensorRTGraph:
    """run(inputs) -> outputs, all torch CUDA tensors; numpy inputs are copied to the device first."""

    def __init__(self, onnx_path: Path, onnx_sha256: str, profile: Profile, options: RuntimeOptions,
                 cache_dir: Path) -> None:
        trt = import_tensorrt()
        self.torch = _require_cuda()
        props = self.torch.cuda.get_device_properties(0)
        precision = "fp16" if options.trt_fp16 else "fp32"
        # The cache key lists every profile bound, so an engine built for other sequence lengths is not reused.
        shapes = {f"{name}.{bound}": shape for name, bounds in profile.items()
                  for bound, shape in zip(("min", "opt", "max"), bounds)}
        key = EngineKey.create(gpu_name=props.name, compute_capability=(props.major, props.minor),
                               tensorrt_version=trt.__version__, onnx_sha256=onnx_sha256, input_shapes=shapes,
                               precision=precision)
        engine_bytes, self.cache_hit = EngineCache(cache_dir).get_or_build(
            key, lambda: _build(trt, onnx_path, profile, options.trt_fp16, options.trt_workspace_mib))
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(engine_bytes)
        if self._engine is None:
            raise ModelPackageError(f"TensorRT could not deserialize the engine of '{onnx_path.name}'")
        self._context = self._engine.create_execution_context()
        self.stream = self.torch.cuda.Stream()
        self.label = f"tensorrt-{trt.__version__}:{props.name}:{precision}"
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self._dtypes: dict[str, Any] = {}
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            np_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            self._dtypes[name] = self.torch.from_numpy(np.zeros(0, dtype=np_dtype)).dtype
            if self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self._inputs.append(name)
            else:
                self._outputs.append(name)

    def to_device(self, array: np.ndarray, name: str) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(array)).to("cuda", self._dtypes[name], non_blocking=True)

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Enqueue one call on this graph's stream; the outputs are valid once the stream reaches them."""
        torch = self.torch
        with torch.cuda.stream(self.stream):
            bound: dict[str, Any] = {}
            for name in self._inputs:
                value = inputs[name]
                tensor = value if isinstance(value, torch.Tensor) else self.to_device(value, name)
                tensor = tensor.contiguous()
                bound[name] = tensor
                self._context.set_input_shape(name, tuple(tensor.shape))
                self._context.set_tensor_address(name, tensor.data_ptr())
            outputs: dict[str, Any] = {}
            for name in self._outputs:
                shape = tuple(self._context.get_tensor_shape(name))
                outputs[name] = torch.empty(shape, dtype=self._dtypes[name], device="cuda")
                self._context.set_tensor_address(name, outputs[name].data_ptr())
            if not self._context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
        # Inputs copied from numpy here must outlive the enqueued call: kept until the next one.
        self._in_flight = bound
        return outputs

    def synchronize(self) -> None:
        self.stream.synchronize()
