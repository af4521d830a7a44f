"""The prefix and velocity graphs of a flow_matching package on each backend (flow/integrate.py's VelocityField).

The prefix's context never leaves the backend between the N velocity calls of one chunk: onnxruntime keeps it
as OrtValues on the session's device (I/O binding), torch as tensors, TensorRT as CUDA tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vla_ros.model.backends.onnxruntime_backend import open_ort_session, session_device
from vla_ros.model.backends.torch_backend import EagerModule
from vla_ros.model.manifest_types import FlowSpec
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage


class OnnxRuntimeField:
    def __init__(self, package: ModelPackage, options: RuntimeOptions, providers: list[str]) -> None:
        flow = package.manifest.outputs.flow
        assert flow is not None
        self._flow: FlowSpec = flow
        self._output = package.manifest.outputs.tensor
        self._prefix = open_ort_session(package.graph("prefix"), options, providers)
        self._velocity = open_ort_session(package.graph("velocity"), options, providers)
        self.providers = list(self._velocity.get_providers())
        self._device = session_device(self._velocity)
        self._prefix_binding = self._prefix.io_binding()
        self._binding = self._velocity.io_binding()

    def prefix(self, feeds: dict[str, np.ndarray]) -> None:
        binding = self._prefix_binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        for name in self._flow.context:
            binding.bind_output(name, self._device)
        self._prefix.run_with_iobinding(binding)
        # The context OrtValues are bound once per chunk as inputs of every velocity call: no host copy.
        self._binding.clear_binding_inputs()
        for name, value in zip(self._flow.context, binding.get_outputs()):
            self._binding.bind_ortvalue_input(name, value)

    def velocity(self, noisy_actions: np.ndarray, time: np.ndarray) -> np.ndarray:
        binding = self._binding
        binding.bind_cpu_input(self._flow.noisy_actions, np.ascontiguousarray(noisy_actions, dtype=np.float32))
        binding.bind_cpu_input(self._flow.time, np.ascontiguousarray(time, dtype=np.float32))
        binding.clear_binding_outputs()
        binding.bind_output(self._output, "cpu")
        self._velocity.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


class TorchField(EagerModule):
    def __init__(self, package: ModelPackage, options: RuntimeOptions) -> None:
        super().__init__(package.manifest.torch, package.torch_state_dict_path, options)
        self._context: Any = None

    def prefix(self, feeds: dict[str, np.ndarray]) -> None:
        torch = self._torch
        with torch.inference_mode():
            self._context = self.module.prefix(**self.tensors(feeds))

    def velocity(self, noisy_actions: np.ndarray, time: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.module.velocity(self._context, torch.from_numpy(np.array(noisy_actions)).to(self.device),
                                       torch.from_numpy(np.array(time)).to(self.device))
        return out.cpu().numpy()


class TensorRTField:
    """Both graphs as TensorRT engines at batch 1; the context stays a CUDA tensor between velocity calls."""

    def __init__(self, package: ModelPackage, options: RuntimeOptions) -> None:
        from vla_ros.model.backends.tensorrt_graph import TensorRTGraph

        manifest = package.manifest
        flow = manifest.outputs.flow
        assert flow is not None
        self._flow = flow
        self._output = manifest.outputs.tensor
        cache = options.trt_cache_dir or (package.root / "engine_cache")
        fixed = {name: (shape, shape, shape) for name, (shape, _dtype) in manifest.input_shapes().items()}
        prefix_weights = manifest.onnx_graphs["prefix"]
        velocity_weights = manifest.onnx_graphs["velocity"]
        assert prefix_weights.sha256 is not None and velocity_weights.sha256 is not None
        self._prefix = TensorRTGraph(package.graph("prefix"), prefix_weights.sha256, fixed, options, cache)
        # The context's shape is whatever the prefix engine returns for batch-1 inputs.
        probe = self._prefix.run({name: np.zeros(shape, dtype=dtype)
                                  for name, (shape, dtype) in manifest.input_shapes().items()})
        self._prefix.synchronize()
        chunk = (1, manifest.outputs.horizon, manifest.outputs.action_dim)
        velocity_profile = {name: (tuple(probe[name].shape),) * 3 for name in flow.context}
        velocity_profile[flow.noisy_actions] = (chunk, chunk, chunk)
        velocity_profile[flow.time] = (chunk[:2], chunk[:2], chunk[:2])
        self._velocity = TensorRTGraph(package.graph("velocity"), velocity_weights.sha256, velocity_profile,
                                       options, cache)
        self.providers = [self._velocity.label]
        self._context: dict[str, Any] = {}

    def prefix(self, feeds: dict[str, np.ndarray]) -> None:
        outputs = self._prefix.run(feeds)
        self._prefix.synchronize()  # the velocity engine runs on its own stream
        self._context = {name: outputs[name] for name in self._flow.context}

    def velocity(self, noisy_actions: np.ndarray, time: np.ndarray) -> np.ndarray:
        outputs = self._velocity.run({**self._context, self._flow.noisy_actions: noisy_actions,
                                      self._flow.time: time})
        self._velocity.synchronize()
        return outputs[self._output].cpu().numpy()
