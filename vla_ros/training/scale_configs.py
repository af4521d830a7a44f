"""The ~300M-parameter configurations of the multi-graph families (random weights), for `vla_bench backends`
and `vla_bench rate`: what running a realistic VLA costs, not what it does.

- ar_300m: OpenVLA's decoding shape at a twentieth of its size: a 24-layer, 1024-wide causal transformer over
  a 64-token prefix, then 6 action tokens (one action for the 6 joints the
  benches command, RT-2 / OpenVLA style) decoded one by one with the KV cache.
- flow_300m: pi0's shape: an 18-layer, 1024-wide prefix over 64 context tokens once per observation, then a
  6-layer action expert over 10 action tokens plus the context, integrated over 10 Euler steps.

The prefixes are shorter than a real VLM's (256+ image tokens): on the 2-core CPU machine 64 tokens already make
one inference take longer than a second; the parameter count, and so the per-token decode cost (every weight read
once per token), is the realistic part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCALE_CONFIGS: dict[str, dict[str, Any]] = {
    "ar_300m": {"family": "ar", "horizon": 1, "action_dim": 6, "state_dim": 6, "width": 1024, "layers": 24,
                "heads": 16, "prefix_tokens": 64, "prefix_layers": 0, "prefix_expand": "position"},
    "flow_300m": {"family": "flow", "horizon": 10, "action_dim": 6, "state_dim": 6, "width": 1024,
                  "prefix_layers": 18, "expert_layers": 6, "heads": 16, "context_tokens": 64,
                  "prefix_expand": "position"},
}


def build_scale_package(name: str, out_dir: Path, seed: int = 0) -> Path:
    """Export one of SCALE_CONFIGS through the real export (parity-checked); returns out_dir."""
    if name not in SCALE_CONFIGS:
        raise ValueError(f"scale configuration {name!r}: expected one of {sorted(SCALE_CONFIGS)}")
    kwargs = dict(SCALE_CONFIGS[name])
    family = kwargs.pop("family")
    if family == "ar":
        from vla_ros.training.ar_package import build_ar_example

        return build_ar_example(out_dir, seed=seed, **kwargs)
    from vla_ros.training.flow_package import build_flow_example

    return build_flow_example(out_dir, seed=seed, **kwargs)
