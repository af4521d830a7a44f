"""Build a complete, seeded example model package (random weights) through the real export path.

Tests and `make demo` use it: the package it writes is exactly what `vla_export` writes (ONNX + state_dict +
vla.yaml with sha256), and it has passed torch vs onnxruntime parity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest import FORMAT_VERSION
from vla_ros.training.export import export_package
from vla_ros.training.families import FAMILIES

BYTES_VOCAB = 256
MAX_INSTRUCTION_TOKENS = 32
RT2_BINS = 256


def _camera(image_size: tuple[int, int]) -> dict[str, Any]:
    return {"name": "front", "tensor": "image_front", "size": list(image_size), "resize": "resize",
            "interpolation": "area", "pad_value": 0, "color_order": "rgb", "layout": "nchw", "dtype": "float32",
            "scale": 1.0 / 255.0, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "source_size": None}


def image_language_state_inputs(image_size: Sequence[int], max_instruction_bytes: int, state_mean: Sequence[float],
                                state_std: Sequence[float]) -> dict[str, Any]:
    """The `inputs` of the trained families: one 'front' camera, byte tokens, the joint state (mean/std)."""
    dim = len(state_mean)
    return {"cameras": [_camera((int(image_size[0]), int(image_size[1])))],
            "language": {"tokenizer": "bytes", "tensor": "instruction_tokens", "mask_tensor": None,
                         "max_length": int(max_instruction_bytes), "pad_id": 0, "dtype": "int64"},
            "state": {"tensor": "state", "dim": dim, "dtype": "float32",
                      "normalization": {"kind": "mean_std", "mask": [True] * dim,
                                        "mean": [float(v) for v in state_mean],
                                        "std": [float(v) for v in state_std]}}}


def example_draft(family: str, *, joint_names_count: int, horizon: int, image_size: tuple[int, int],
                  semantics: ActionSemantics, control_period_s: float, action_scale: float,
                  name: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(draft manifest, constructor kwargs) for an example of `family` ("act" or "rt2")."""
    if family not in FAMILIES:
        raise ModelPackageError(f"family={family!r}: expected one of {sorted(FAMILIES)}")
    dim = joint_names_count
    # Absolute semantics need a plausible centre to move around: identity orientation 0.4 m in front of and
    # above the base for poses; the home configuration (zeros) for joints; zero for deltas and velocities.
    centre = [0.0] * dim
    if ActionSemantics(semantics) is ActionSemantics.EE_ABSOLUTE and dim == 7:
        centre = [0.4, 0.0, 0.4, 0.0, 0.0, 0.0, 1.0]
    language = {"tokenizer": "bytes", "tensor": "instruction_tokens", "mask_tensor": None,
                "max_length": MAX_INSTRUCTION_TOKENS, "pad_id": 0, "dtype": "int64"}
    kwargs: dict[str, Any] = {"image_size": list(image_size), "action_dim": dim, "horizon": horizon,
                              "vocab_size": BYTES_VOCAB, "max_length": MAX_INSTRUCTION_TOKENS, "pad_id": 0}
    if family == "act":
        kwargs["state_dim"] = dim
        state = {"tensor": "state", "dim": dim, "dtype": "float32",
                 "normalization": {"kind": "mean_std", "mask": [True] * dim, "mean": [0.0] * dim,
                                   "std": [1.0] * dim}}
        outputs: dict[str, Any] = {"kind": "continuous", "tensor": "actions", "horizon": horizon, "action_dim": dim}
        # Random weights give outputs of order 1; std = action_scale keeps the robot motion small.
        normalization = {"kind": "mean_std", "mask": [True] * dim, "mean": centre,
                         "std": [float(action_scale)] * dim}
    else:
        kwargs["n_bins"] = RT2_BINS
        state = None
        outputs = {"kind": "bins", "tensor": "action_logits", "horizon": horizon, "action_dim": dim,
                   "bins": {"scheme": "rt2", "n_bins": RT2_BINS, "encoding": "logits"}}
        normalization = {"kind": "bounds", "mask": [True] * dim, "low": [c - float(action_scale) for c in centre],
                         "high": [c + float(action_scale) for c in centre]}
    draft = {
        "format_version": FORMAT_VERSION,
        "name": name or f"{family}_example",
        "description": f"randomly initialized {family} example (vla_ros.training.package_builder)",
        "inputs": {"cameras": [_camera(image_size)], "language": language, "state": state},
        "outputs": outputs,
        "action": {"semantics": ActionSemantics(semantics).value, "normalization": normalization, "gripper": None},
        "control_period_s": float(control_period_s),
        "weights": {"onnx": {"file": "model.onnx"},
                    "torch": {"module": FAMILIES[family], "state_dict": {"file": "model.pt"}, "kwargs": kwargs}},
    }
    return draft, kwargs


def build_example_package(out_dir: Path, family: str = "act", *, joint_names_count: int = 6, horizon: int = 10,
                          image_size: tuple[int, int] = (96, 96),
                          semantics: ActionSemantics = ActionSemantics.JOINT_POSITION_DELTA,
                          control_period_s: float = 0.1, seed: int = 0, action_scale: float = 0.01) -> Path:
    """Build, export, parity-check and write a package; returns out_dir (which then holds vla.yaml)."""
    import torch

    from vla_ros.model.backends.torch_backend import import_module_class

    draft, kwargs = example_draft(family, joint_names_count=joint_names_count, horizon=horizon,
                                  image_size=image_size, semantics=semantics, control_period_s=control_period_s,
                                  action_scale=action_scale)
    with torch.random.fork_rng():  # seeded weights without disturbing the caller's RNG stream
        torch.manual_seed(seed)
        module = import_module_class(FAMILIES[family])(**kwargs)
    result = export_package(draft, Path(out_dir), module=module, samples=3, seed=seed, tensorrt="off")
    if not result.manifest_written:
        raise ModelPackageError(f"example package {family}: parity failed: {result.as_dict()['parity']}")
    return Path(out_dir)


def build_torch_package(out_dir: Path, module: str, kwargs: dict[str, Any] | None = None, *, family: str = "act",
                        joint_names_count: int = 6, horizon: int = 10, image_size: tuple[int, int] = (96, 96),
                        semantics: ActionSemantics = ActionSemantics.JOINT_POSITION_DELTA,
                        control_period_s: float = 0.1, action_scale: float = 0.01) -> Path:
    """A torch-only package (no ONNX, no state_dict) around `module` ("pkg.mod:Class").

    For tests that need deliberately slow or failing models: the class must take the `family`'s inputs
    (act: image_front, instruction_tokens, state; rt2: image_front, instruction_tokens) and return its output.
    Only the torch backend (explicit or auto's last resort) can run such a package.
    """
    import yaml

    from vla_ros.model.manifest import MANIFEST_FILE, parse_manifest

    draft, _ = example_draft(family, joint_names_count=joint_names_count, horizon=horizon, image_size=image_size,
                             semantics=semantics, control_period_s=control_period_s, action_scale=action_scale,
                             name=module.rpartition(":")[2])
    draft["description"] = f"torch-only package around {module}"
    draft["weights"] = {"torch": {"module": module, "kwargs": dict(kwargs or {})}}
    parse_manifest(draft)  # refuse to write something load_model_package would reject
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_FILE).write_text(yaml.safe_dump(draft, sort_keys=False), encoding="utf-8")
    return out_dir
