"""The prefill and step graphs of an autoregressive_tokens package on each backend (decode.TokenStepper).

The KV cache stays on the backend between tokens: onnxruntime binds the `present` OrtValue of one call as the
`past` input of the next (I/O binding, on the session's device), torch keeps the tensor, TensorRT a CUDA tensor
whose growing length is covered by the step engine's optimization profile.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vla_ros.model.backends.onnxruntime_backend import open_ort_session, session_device
from vla_ros.model.backends.torch_backend import EagerModule
from vla_ros.model.manifest_types import AutoregressiveSpec
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage


def _spec(package: ModelPackage) -> AutoregressiveSpec:
    spec = package.manifest.outputs.autoregressive
    assert spec is not None
    return spec


class OnnxRuntimeStepper:
    def __init__(self, package: ModelPackage, options: RuntimeOptions, providers: list[str]) -> None:
        self._spec = _spec(package)
        self._logits = package.manifest.outputs.tensor
        self._prefill = open_ort_session(package.graph("prefill"), options, providers)
        self._step = open_ort_session(package.graph("step"), options, providers)
        self.providers = list(self._step.get_providers())
        self._device = session_device(self._step)
        self._prefill_binding = self._prefill.io_binding()
        self._bindings = (self._step.io_binding(), self._step.io_binding())  # alternate: past of one = present
        self._turn = 0
        self._cache: Any = None
        self.prefill_runs = 0  # what the tests count: one per chunk, never per token

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        binding = self._prefill_binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        binding.bind_output(self._logits, "cpu")
        binding.bind_output(self._spec.present, self._device)
        self._prefill.run_with_iobinding(binding)
        self.prefill_runs += 1
        logits, self._cache = binding.get_outputs()
        return logits.numpy()

    def step(self, token: int) -> np.ndarray:
        binding = self._bindings[self._turn]
        self._turn ^= 1
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        binding.bind_cpu_input(self._spec.token, np.array([[token]], dtype=np.int64))
        binding.bind_ortvalue_input(self._spec.past, self._cache)  # last call's present, still on the device
        binding.bind_output(self._logits, "cpu")
        binding.bind_output(self._spec.present, self._device)
        self._step.run_with_iobinding(binding)
        logits, self._cache = binding.get_outputs()
        return logits.numpy()


class TorchStepper(EagerModule):
    def __init__(self, package: ModelPackage, options: RuntimeOptions) -> None:
        super().__init__(package.manifest.torch, package.torch_state_dict_path, options)
        self._cache: Any = None
        self.prefill_runs = 0

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            logits, self._cache = self.module.prefill(**self.tensors(feeds))
        self.prefill_runs += 1
        return logits.cpu().numpy()

    def step(self, token: int) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            ids = torch.tensor([[token]], dtype=torch.int64, device=self.device)
            logits, self._cache = self.module.step(ids, self._cache)
        return logits.cpu().numpy()


class TensorRTStepper:
    """Prefill at fixed batch-1 shapes; the step engine's profile spans every cache length of one chunk."""

    def __init__(self, package: ModelPackage, options: RuntimeOptions, tokens_per_chunk: int) -> None:
        from vla_ros.model.backends.tensorrt_graph import TensorRTGraph

        manifest = package.manifest
        self._spec = _spec(package)
        self._logits = manifest.outputs.tensor
        cache_dir = options.trt_cache_dir or (package.root / "engine_cache")
        fixed = {name: (shape, shape, shape) for name, (shape, _dtype) in manifest.input_shapes().items()}
        prefill_sha = manifest.onnx_graphs["prefill"].sha256
        step_sha = manifest.onnx_graphs["step"].sha256
        assert prefill_sha is not None and step_sha is not None
        self._prefill = TensorRTGraph(package.graph("prefill"), prefill_sha, fixed, options, cache_dir)
        probe = self._prefill.run({name: np.zeros(shape, dtype=dtype)
                                   for name, (shape, dtype) in manifest.input_shapes().items()})
        self._prefill.synchronize()
        first = tuple(probe[self._spec.present].shape)  # [L, 2, 1, H, P, hd]
        longest = (*first[:4], first[4] + tokens_per_chunk - 1, *first[5:])
        middle = (*first[:4], (first[4] + longest[4]) // 2, *first[5:])
        profile = {self._spec.token: ((1, 1), (1, 1), (1, 1)), self._spec.past: (first, middle, longest)}
        self._step = TensorRTGraph(package.graph("step"), step_sha, profile, options, cache_dir)
        self.providers = [self._step.label]
        self._cache: Any = None
        self.prefill_runs = 0

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        outputs = self._prefill.run(feeds)
        self._prefill.synchronize()
        self._cache = outputs[self._spec.present]
        self.prefill_runs += 1
        return outputs[self._logits].cpu().numpy()

    def step(self, token: int) -> np.ndarray:
        outputs = self._step.run({self._spec.token: np.array([[token]], dtype=np.int64),
                                  self._spec.past: self._cache})
        self._step.synchronize()
        self._cache = outputs[self._spec.present]
        return outputs[self._logits].cpu().numpy()
