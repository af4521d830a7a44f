"""The vla.yaml draft of an ArTokensPolicy package, and a seeded random-weight example for tests/benches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest import FORMAT_VERSION
from vla_ros.training.families.ar_tokens import BYTE_TOKENS
from vla_ros.training.package_builder import image_language_state_inputs

AR_POLICY_CLASS = "vla_ros.training.families.ar_tokens:ArTokensPolicy"


def ar_draft(name: str, description: str, kwargs: dict[str, Any], *, max_instruction_bytes: int,
             control_period_s: float, state_mean: Sequence[float], state_std: Sequence[float],
             action_low: Sequence[float], action_high: Sequence[float], restrict_to_action_tokens: bool = True,
             semantics: ActionSemantics = ActionSemantics.JOINT_POSITION) -> dict[str, Any]:
    """Joint actions over [low, high] in 256 RT-2 bins (token id = 256 + bin); absolute targets, or per-step
    increments from the measured state (joint_position_delta) where bins must be fine."""
    dim = int(kwargs.get("action_dim", 6))
    horizon = int(kwargs.get("horizon", 10))
    n_bins = int(kwargs.get("n_bins", 256))
    image_size = [int(v) for v in kwargs.get("image_size", (96, 96))]
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "inputs": image_language_state_inputs(image_size, max_instruction_bytes, state_mean, state_std),
        "outputs": {"kind": "autoregressive_tokens", "tensor": "logits", "horizon": horizon, "action_dim": dim,
                    "bins": {"scheme": "rt2", "n_bins": n_bins, "encoding": "token_ids",
                             "token_offset": BYTE_TOKENS},
                    "autoregressive": {"vocab_size": BYTE_TOKENS + n_bins, "token": "token", "past": "past_kv",
                                       "present": "present_kv",
                                       "restrict_to_action_tokens": bool(restrict_to_action_tokens)}},
        "action": {"semantics": ActionSemantics(semantics).value,
                   "normalization": {"kind": "bounds", "mask": [True] * dim, "low": [float(v) for v in action_low],
                                     "high": [float(v) for v in action_high]},
                   "gripper": None},
        "control_period_s": float(control_period_s),
        "weights": {"onnx_graphs": {"prefill": {"file": "prefill.onnx"}, "step": {"file": "step.onnx"}},
                    "torch": {"module": AR_POLICY_CLASS, "state_dict": {"file": "model.pt"}, "kwargs": kwargs}},
    }


def build_ar_example(out_dir: Path, *, seed: int = 0, horizon: int = 10, action_scale: float = 0.1,
                     restrict_to_action_tokens: bool = True, **module_kwargs: Any) -> Path:
    """A random-weight autoregressive_tokens package through the real export (token parity); returns out_dir."""
    import torch

    from vla_ros.training.export import export_package
    from vla_ros.training.families.ar_tokens import ArTokensPolicy

    kwargs: dict[str, Any] = {"image_size": [96, 96], "horizon": horizon, "action_dim": 6, "state_dim": 6,
                              **module_kwargs}
    dim = int(kwargs["action_dim"])
    draft = ar_draft(f"ar_example_{seed}", "randomly initialized autoregressive_tokens example "
                     "(vla_ros.training.ar_package)", kwargs, max_instruction_bytes=32, control_period_s=0.1,
                     state_mean=[0.0] * dim, state_std=[1.0] * dim, action_low=[-action_scale] * dim,
                     action_high=[action_scale] * dim, restrict_to_action_tokens=restrict_to_action_tokens)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = ArTokensPolicy(**kwargs)
    result = export_package(draft, Path(out_dir), module=module, samples=3, seed=seed, tensorrt="off")
    if not result.manifest_written:
        raise ModelPackageError(f"autoregressive example: parity failed: {result.as_dict()['parity']}")
    return Path(out_dir)
