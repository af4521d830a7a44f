"""torch -> the prefill and step graphs of an autoregressive_tokens package.

prefill = module.prefill(<model inputs>) -> (logits, present KV cache); step = module.step(token, past KV cache)
-> (logits, present). The step graph's cache length (axis 4) is dynamic, so one graph serves every position;
the batch axis is dynamic in both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vla_ros.model.manifest_types import Manifest
from vla_ros.training.export_graphs import BATCH_AXIS, _export, _method_inputs


def export_autoregressive_graphs(module: Any, manifest: Manifest, out_dir: Path) -> dict[str, Path]:
    import torch

    spec = manifest.outputs.autoregressive
    assert spec is not None
    logits = manifest.outputs.tensor
    shapes = manifest.input_shapes()
    examples = {name: torch.zeros(shape, dtype=getattr(torch, dtype)) for name, (shape, dtype) in shapes.items()}
    order = _method_inputs(module, "prefill", examples)
    paths = {role: out_dir / manifest.onnx_graphs[role].file for role in ("prefill", "step")}
    cache_axes = {2: BATCH_AXIS, 4: "sequence"}
    _export(module, "prefill", order, [examples[n] for n in order], [logits, spec.present], paths["prefill"],
            {**{name: {0: BATCH_AXIS} for name in order}, logits: {0: BATCH_AXIS}, spec.present: {2: BATCH_AXIS}})
    with torch.no_grad():
        _, cache = module.prefill(*[examples[n] for n in order])
    _export(module, "step", [spec.token, spec.past], [torch.zeros(1, 1, dtype=torch.int64), cache],
            [logits, spec.present], paths["step"],
            {spec.token: {0: BATCH_AXIS}, spec.past: cache_axes, logits: {0: BATCH_AXIS},
             spec.present: {2: BATCH_AXIS, 4: "sequence_plus_one"}})
    return paths
