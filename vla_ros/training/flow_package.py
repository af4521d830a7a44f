"""The vla.yaml draft of a FlowMatchingPolicy package, and a seeded random-weight example for tests/benches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest import FORMAT_VERSION
from vla_ros.training.package_builder import image_language_state_inputs

FLOW_POLICY_CLASS = "vla_ros.training.families.flow_matching:FlowMatchingPolicy"
FLOW_STEPS = 10  # pi0 integrates its action expert over 10 steps


def flow_draft(name: str, description: str, kwargs: dict[str, Any], *, max_instruction_bytes: int,
               control_period_s: float, state_mean: Sequence[float], state_std: Sequence[float],
               action_mean: Sequence[float], action_std: Sequence[float], steps: int = FLOW_STEPS,
               noise_seed: int = 0) -> dict[str, Any]:
    """Absolute joint targets normalized mean/std (as the module was trained), real-time chunking declared."""
    dim = int(kwargs.get("action_dim", 6))
    horizon = int(kwargs.get("horizon", 10))
    image_size = [int(v) for v in kwargs.get("image_size", (96, 96))]
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "inputs": image_language_state_inputs(image_size, max_instruction_bytes, state_mean, state_std),
        "outputs": {"kind": "flow_matching", "tensor": "velocity", "horizon": horizon, "action_dim": dim,
                    "flow": {"steps": int(steps), "noise_seed": int(noise_seed), "context": ["context"],
                             "noisy_actions": "noisy_actions", "time": "time",
                             "rtc": {"max_delay_steps": int(kwargs.get("max_delay_steps", 5))}}},
        "action": {"semantics": ActionSemantics.JOINT_POSITION.value,
                   "normalization": {"kind": "mean_std", "mask": [True] * dim,
                                     "mean": [float(v) for v in action_mean], "std": [float(v) for v in action_std]},
                   "gripper": None},
        "control_period_s": float(control_period_s),
        "weights": {"onnx_graphs": {"prefix": {"file": "prefix.onnx"}, "velocity": {"file": "velocity.onnx"}},
                    "torch": {"module": FLOW_POLICY_CLASS, "state_dict": {"file": "model.pt"}, "kwargs": kwargs}},
    }


def build_flow_example(out_dir: Path, *, seed: int = 0, horizon: int = 10, steps: int = FLOW_STEPS,
                       action_scale: float = 0.01, **module_kwargs: Any) -> Path:
    """A random-weight flow_matching package through the real export (parity-checked); returns out_dir."""
    import torch

    from vla_ros.training.export import export_package
    from vla_ros.training.families.flow_matching import FlowMatchingPolicy

    kwargs: dict[str, Any] = {"image_size": [96, 96], "horizon": horizon, "action_dim": 6, "state_dim": 6,
                              **module_kwargs}
    dim = int(kwargs["action_dim"])
    draft = flow_draft(f"flow_example_{seed}", "randomly initialized flow_matching example "
                       "(vla_ros.training.flow_package)", kwargs, max_instruction_bytes=32, control_period_s=0.1,
                       state_mean=[0.0] * dim, state_std=[1.0] * dim, action_mean=[0.0] * dim,
                       action_std=[action_scale] * dim, steps=steps)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = FlowMatchingPolicy(**kwargs)
    result = export_package(draft, Path(out_dir), module=module, samples=3, seed=seed, tensorrt="off")
    if not result.manifest_written:
        raise ModelPackageError(f"flow example: parity failed: {result.as_dict()['parity']}")
    return Path(out_dir)
