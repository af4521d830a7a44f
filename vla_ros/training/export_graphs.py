"""torch -> the ONNX graphs of the multi-graph package kinds (the one-graph kinds: export.export_onnx).

flow_matching: `prefix` = module.prefix(<model inputs>) -> the context tensor(s); `velocity` =
module.velocity(<context>, noisy_actions, time) -> velocity. Axis 0 stays dynamic in both (vla_serve batches).
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any

from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest_types import Manifest, OutputKind

ONNX_OPSET = 17
BATCH_AXIS = "batch"


def _method_inputs(module: Any, method: str, available: dict[str, Any]) -> list[str]:
    params = [p for p in inspect.signature(getattr(module, method)).parameters if p != "self"]
    missing = [p for p in params if p not in available]
    if missing:
        raise ModelPackageError(f"weights.torch.module: {type(module).__name__}.{method}() takes {missing}, which "
                                f"the manifest does not declare (declared: {sorted(available)})")
    return params


def _export(module: Any, method: str, names: list[str], examples: list[Any], outputs: list[str], path: Path,
            dynamic: dict[str, dict[int, str]]) -> None:
    """One method of the module as a graph (the module registered inside, so its weights are initializers)."""
    import torch

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *args: Any) -> Any:
            return getattr(self.inner, method)(*args)

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its own deprecation on every call
        torch.onnx.export(_Graph(), tuple(examples), str(path), input_names=names, output_names=outputs,
                          opset_version=ONNX_OPSET, do_constant_folding=True, dynamic_axes=dynamic, dynamo=False)


def export_flow_graphs(module: Any, manifest: Manifest, out_dir: Path) -> dict[str, Path]:
    import torch

    flow = manifest.outputs.flow
    assert flow is not None
    shapes = manifest.input_shapes()
    examples = {name: torch.zeros(shape, dtype=getattr(torch, dtype)) for name, (shape, dtype) in shapes.items()}
    order = _method_inputs(module, "prefix", examples)
    paths = {role: out_dir / manifest.onnx_graphs[role].file for role in ("prefix", "velocity")}
    batch = {0: BATCH_AXIS}
    with torch.no_grad():
        context = module.prefix(*[examples[n] for n in order])
    contexts = list(context) if isinstance(context, (tuple, list)) else [context]
    if len(contexts) != len(flow.context):
        raise ModelPackageError(f"outputs.flow.context: names {list(flow.context)}, but {type(module).__name__}"
                                f".prefix() returns {len(contexts)} tensor(s)")
    _export(module, "prefix", order, [examples[n] for n in order], list(flow.context), paths["prefix"],
            {name: batch for name in [*order, *flow.context]})
    horizon, dim = manifest.outputs.horizon, manifest.outputs.action_dim
    velocity_inputs = [*flow.context, flow.noisy_actions, flow.time]
    _export(module, "velocity", velocity_inputs,
            [*contexts, torch.zeros(1, horizon, dim), torch.zeros(1, horizon)], [manifest.outputs.tensor],
            paths["velocity"], {name: batch for name in [*velocity_inputs, manifest.outputs.tensor]})
    return paths


def export_graphs(module: Any, manifest: Manifest, out_dir: Path) -> dict[str, Path]:
    """Every graph of the package's kind, written to the files its draft names; role -> path."""
    if manifest.outputs.kind is OutputKind.FLOW_MATCHING:
        return export_flow_graphs(module, manifest, out_dir)
    if manifest.outputs.kind is OutputKind.AUTOREGRESSIVE_TOKENS:
        from vla_ros.training.export_autoregressive import export_autoregressive_graphs

        return export_autoregressive_graphs(module, manifest, out_dir)
    raise ModelPackageError(f"outputs.kind {manifest.outputs.kind.value} has one graph (weights.onnx)")
