"""torch eager backend: the module the manifest names, with its state_dict; the parity reference."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.model.errors import BackendUnavailable, ModelPackageError
from vla_ros.model.manifest_types import TorchWeights
from vla_ros.model.options import RuntimeOptions


def import_module_class(spec: str) -> type:
    """'package.module:ClassName' -> the class (errors name the weights.torch.module field)."""
    module_path, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise ModelPackageError(f"weights.torch.module: cannot import '{module_path}': {exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ModelPackageError(f"weights.torch.module: '{module_path}' has no class '{class_name}'")
    return cls


def _configure_threads(torch_mod, options: RuntimeOptions) -> None:
    # torch's thread pools are process wide; only touch them when they differ from what was asked.
    if torch_mod.get_num_threads() != options.intra_op_threads:
        torch_mod.set_num_threads(options.intra_op_threads)
    if torch_mod.get_num_interop_threads() != options.inter_op_threads:
        try:
            torch_mod.set_num_interop_threads(options.inter_op_threads)
        except RuntimeError:
            pass  # may only be set before the first parallel work in the process; keep what is there


def build_torch_module(weights: TorchWeights, state_dict_path: Path | None):
    try:
        import torch
    except ImportError as exc:
        raise BackendUnavailable("torch is not installed: pip install torch") from exc
    cls = import_module_class(weights.module)
    try:
        module = cls(**dict(weights.kwargs))
    except TypeError as exc:
        raise ModelPackageError(f"weights.torch.kwargs: {weights.module} rejected {dict(weights.kwargs)}: "
                                f"{exc}") from exc
    if state_dict_path is not None:
        state = torch.load(str(state_dict_path), map_location="cpu", weights_only=True)
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelPackageError(f"weights.torch.state_dict: '{state_dict_path.name}' does not fit "
                                    f"{weights.module}: {exc}") from exc
    return module.eval()


class EagerModule:
    """The manifest's torch module with its weights, on CUDA when there is one, threads as the options say."""

    def __init__(self, weights: TorchWeights | None, state_dict_path: Path | None, options: RuntimeOptions) -> None:
        if weights is None:
            raise BackendUnavailable("the torch backend needs weights.torch (module + state_dict) in the manifest; "
                                     "this package only ships ONNX")
        import torch

        self._torch = torch
        _configure_threads(torch, options)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.module = build_torch_module(weights, state_dict_path).to(self.device)
        self.providers = [f"torch-eager:{self.device}"]

    def tensors(self, feeds: Mapping[str, np.ndarray]) -> dict[str, Any]:
        # np.array copies: cached language tensors are read-only and torch wants writable memory.
        return {k: self._torch.from_numpy(np.array(v)).to(self.device) for k, v in feeds.items()}


class TorchSession(EagerModule):
    name = "torch"

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.module(**self.tensors(feeds))
            if isinstance(out, (tuple, list)):
                out = out[0]
            return out.detach().cpu().numpy()
