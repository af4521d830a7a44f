"""Train FilmKeypointPolicy on a DemoDataset (seeded, CPU) and export it as a model package.

The image normalization here must equal the manifest's camera preprocessing (x/255 - 0.5) / 0.5, and the
state normalization the manifest's mean_std: training and the node then feed the network the same numbers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.core.types import ActionSemantics
from vla_ros.model.manifest import FORMAT_VERSION
from vla_ros.training.dataset import DemoConfig, DemoDataset
from vla_ros.training.export import ExportResult, export_package
from vla_ros.training.policy import FilmKeypointPolicy

POLICY_CLASS = "vla_ros.training.policy:FilmKeypointPolicy"
CAMERA_NAME = "front"
MIN_STATE_STD = 0.05  # rad: joints that barely move must not blow up the normalized state
MIN_OFFSET_SCALE = 0.02  # rad


class TrainConfigError(ValueError):
    """A TrainConfig field is invalid; the message names it."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 4500
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    seed: int = 0
    threads: int = 2
    validation_fraction: float = 0.05  # of episodes, held out
    max_minutes: float = 20.0  # stop early (and say so) rather than overrun the time budget
    log_every: int = 100
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # extra FilmKeypointPolicy kwargs

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, expectation: str) -> None:
            if not ok:
                raise TrainConfigError(f"{name}={getattr(self, name)!r}: expected {expectation}")

        need(isinstance(self.steps, int) and self.steps >= 1, "steps", "an integer >= 1")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", "an integer >= 1")
        need(self.learning_rate > 0, "learning_rate", "a number > 0")
        need(self.weight_decay >= 0, "weight_decay", "a number >= 0")
        need(isinstance(self.threads, int) and 1 <= self.threads <= 2, "threads", "1 or 2 (the machine is shared)")
        need(0 <= self.validation_fraction < 0.5, "validation_fraction", "a number in [0, 0.5)")
        need(self.max_minutes > 0, "max_minutes", "a number > 0")


@dataclass
class TrainResult:
    module: FilmKeypointPolicy
    losses: list[tuple[int, float]]  # (step, mean training loss since the previous log line)
    validation_losses: list[tuple[int, float]]
    steps_done: int
    seconds: float
    stopped_early: bool
    stats: dict[str, list[float]]

    def summary(self) -> dict[str, Any]:
        return {"steps": self.steps_done, "seconds": round(self.seconds, 1), "stopped_early": self.stopped_early,
                "first_loss": self.losses[0][1] if self.losses else None,
                "final_loss": self.losses[-1][1] if self.losses else None,
                "validation_losses": self.validation_losses, "parameters": count_parameters(self.module)}


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def normalization_stats(data: DemoDataset) -> dict[str, list[float]]:
    offsets = data.targets - data.states[:, None, :]
    return {"state_mean": data.states.mean(axis=0).tolist(),
            "state_std": np.maximum(data.states.std(axis=0), MIN_STATE_STD).tolist(),
            "offset_scale": np.maximum(offsets.std(axis=(0, 1)), MIN_OFFSET_SCALE).tolist()}


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] RGB -> float [B, 3, H, W] normalized exactly as the manifest's camera entry."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return (x * (1.0 / 255.0) - 0.5) / 0.5


class _Batches:
    """Tensors of a subset of the samples, with the normalized state and offset targets precomputed."""

    def __init__(self, data: DemoDataset, index: np.ndarray, stats: dict[str, list[float]]) -> None:
        mean, std = np.asarray(stats["state_mean"]), np.asarray(stats["state_std"])
        scale = np.asarray(stats["offset_scale"])
        self.images = data.images[index]
        self.tokens = torch.from_numpy(data.tokens[index])
        self.states = torch.from_numpy(((data.states[index] - mean) / std).astype(np.float32))
        offsets = (data.targets[index] - data.states[index][:, None, :]) / scale
        self.offsets = torch.from_numpy(offsets.astype(np.float32))

    def __len__(self) -> int:
        return len(self.tokens)

    def get(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        t = torch.from_numpy(rows)
        return images_to_tensor(self.images[rows]), self.tokens[t], self.states[t], self.offsets[t]


def _loss(module: FilmKeypointPolicy, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    image, tokens, state, offsets = batch
    return torch.nn.functional.l1_loss(module.normalized_offsets(image, tokens, state), offsets)


def _evaluate(module: FilmKeypointPolicy, batches: _Batches, batch_size: int) -> float:
    module.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(batches), batch_size):
            rows = np.arange(start, min(start + batch_size, len(batches)))
            total += float(_loss(module, batches.get(rows))) * len(rows)
            count += len(rows)
    module.train()
    return total / max(count, 1)


@dataclass(frozen=True)
class InitialWeights:
    """A trained package's FilmKeypointPolicy to fine-tune: its weights and its normalization (kept)."""
    module: FilmKeypointPolicy
    stats: dict[str, list[float]]
    model_kwargs: dict[str, Any]  # constructor kwargs besides image size, horizon and normalization
    source: str


NORMALIZATION_KWARGS = ("state_mean", "state_std", "offset_scale")


def load_initial_weights(package_dir: Path, demo: DemoConfig) -> InitialWeights:
    """The torch weights of a package written by vla_train (checksums verified), for `train_policy(init=...)`.
    Raises TrainConfigError naming the package when it is not such a package or does not fit `demo`."""
    from vla_ros.model import ModelPackageError, load_model_package
    from vla_ros.model.backends.torch_backend import build_torch_module

    try:
        package = load_model_package(package_dir)
        weights = package.manifest.torch
        if weights is None or weights.module != POLICY_CLASS or package.torch_state_dict_path is None:
            raise TrainConfigError(f"--init {package_dir}: not a {POLICY_CLASS} package with a state_dict "
                                   "(vla_train writes those)")
        kwargs = dict(weights.kwargs)
        found = {"image_size": [int(s) for s in kwargs.get("image_size", ())], "horizon": package.horizon,
                 "model_period": package.control_period}
        wanted = {"image_size": [int(s) for s in demo.image_size], "horizon": demo.horizon,
                  "model_period": demo.model_period}
        if differing := [k for k in wanted if found[k] != wanted[k]]:
            raise TrainConfigError(f"--init {package_dir}: " + ", ".join(
                f"{k} {found[k]} differs from the data's {wanted[k]}" for k in differing))
        module = build_torch_module(weights, package.torch_state_dict_path)
    except ModelPackageError as error:
        raise TrainConfigError(f"--init {package_dir}: {error}") from error
    # The package's normalization, as written; the module's buffers (its defaults) where the kwargs omit it.
    stats = {name: [float(v) for v in kwargs[name]] if kwargs.get(name) is not None
             else getattr(module, name).tolist() for name in NORMALIZATION_KWARGS}
    extra = {k: v for k, v in kwargs.items() if k not in ("image_size", "horizon", *NORMALIZATION_KWARGS)}
    return InitialWeights(module, stats, extra, str(package_dir))


def train_policy(data: DemoDataset, config: TrainConfig, demo: DemoConfig,
                 log: Callable[[str], None] = print, init: InitialWeights | None = None) -> TrainResult:
    """Train a fresh module (normalization from the data), or fine-tune `init` (its normalization kept; pass
    its model_kwargs in `config` so the export rebuilds the same module)."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    stats = normalization_stats(data) if init is None else init.stats
    episodes = np.unique(data.episode)
    held_out = rng.permutation(episodes)[: round(len(episodes) * config.validation_fraction)]
    is_val = np.isin(data.episode, held_out)
    train_set = _Batches(data, np.flatnonzero(~is_val), stats)
    val_set = _Batches(data, np.flatnonzero(is_val), stats) if is_val.any() else None
    if init is None:
        module = FilmKeypointPolicy(image_size=list(demo.image_size), horizon=demo.horizon, **stats,
                                    **config.model_kwargs)
    else:
        module = init.module
        log(f"train: fine-tuning {init.source} (its normalization kept)")
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)

    def learning_rate(step: int) -> float:  # linear warm-up, then cosine decay to 5 %
        if step < config.warmup_steps:
            return config.learning_rate * (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    log(f"train: {len(train_set)} samples ({len(episodes) - len(held_out)} episodes), validation "
        f"{0 if val_set is None else len(val_set)} samples; {count_parameters(module)} parameters; "
        f"{config.steps} steps of {config.batch_size}")
    losses: list[tuple[int, float]] = []
    validation: list[tuple[int, float]] = []
    started = time.monotonic()
    running, running_n, stopped_early, step = 0.0, 0, False, 0
    module.train()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        rows = rng.integers(0, len(train_set), config.batch_size)
        loss = _loss(module, train_set.get(rows))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        running += loss.item()
        running_n += 1
        elapsed = time.monotonic() - started
        last = step == config.steps - 1
        out_of_time = elapsed > config.max_minutes * 60
        if (step + 1) % config.log_every == 0 or last or out_of_time:
            losses.append((step + 1, running / running_n))
            rate = (step + 1) / elapsed
            bar = "#" * int(20 * (step + 1) / config.steps)
            line = (f"train [{bar:<20}] step {step + 1}/{config.steps} loss {running / running_n:.4f} "
                    f"lr {learning_rate(step):.2e} {rate:.1f} steps/s eta {(config.steps - step - 1) / rate:.0f} s")
            if val_set is not None and ((step + 1) % (config.log_every * 5) == 0 or last or out_of_time):
                validation.append((step + 1, _evaluate(module, val_set, 256)))
                line += f" val {validation[-1][1]:.4f}"
            log(line)
            running, running_n = 0.0, 0
        if out_of_time:
            stopped_early = True
            log(f"train: stopped at step {step + 1}: the {config.max_minutes:g} min budget is spent")
            break
    module.eval()
    return TrainResult(module, losses, validation, step + 1, time.monotonic() - started, stopped_early, stats)


def package_draft(module: FilmKeypointPolicy, demo: DemoConfig, stats: dict[str, list[float]], name: str,
                  kwargs: dict[str, Any]) -> dict[str, Any]:
    """The vla.yaml draft for a trained FilmKeypointPolicy (sha256 values are filled in by the export)."""
    height, width = (int(s) for s in demo.image_size)
    dim = module.action_dim
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": ("FiLM-CNN + keypoints + byte-level language VLA trained by vla_train on the embedded "
                        "MuJoCo sim's scripted-expert demonstrations; absolute targets for joint_1..joint_6"),
        "inputs": {
            "cameras": [{"name": CAMERA_NAME, "tensor": "image_front", "size": [height, width], "resize": "resize",
                         "interpolation": "area", "pad_value": 0, "color_order": "rgb", "layout": "nchw",
                         "dtype": "float32", "scale": 1.0 / 255.0, "mean": [0.5, 0.5, 0.5],
                         "std": [0.5, 0.5, 0.5], "source_size": None}],
            "language": {"tokenizer": "bytes", "tensor": "instruction_tokens", "mask_tensor": None,
                         "max_length": demo.max_instruction_bytes, "pad_id": 0, "dtype": "int64"},
            "state": {"tensor": "state", "dim": dim, "dtype": "float32",
                      "normalization": {"kind": "mean_std", "mask": [True] * dim, "mean": stats["state_mean"],
                                        "std": stats["state_std"]}},
        },
        "outputs": {"kind": "continuous", "tensor": "actions", "horizon": demo.horizon, "action_dim": dim},
        "action": {"semantics": ActionSemantics.JOINT_POSITION.value, "normalization": {"kind": "none"},
                   "gripper": None},
        "control_period_s": float(demo.model_period),
        "weights": {"onnx": {"file": "model.onnx"},
                    "torch": {"module": POLICY_CLASS, "state_dict": {"file": "model.pt"}, "kwargs": kwargs}},
    }


def export_trained(result: TrainResult, demo: DemoConfig, config: TrainConfig, out_dir: Path,
                   name: str = "sim_act", extra_report: dict[str, Any] | None = None) -> ExportResult:
    """Export through the model runtime (ONNX + state_dict + parity check); writes norm_stats.json and
    train_report.json next to the package files."""
    kwargs: dict[str, Any] = {"image_size": [int(s) for s in demo.image_size], "horizon": demo.horizon,
                              **result.stats, **config.model_kwargs}
    draft = package_draft(result.module, demo, result.stats, name, kwargs)
    out_dir = Path(out_dir)
    export = export_package(draft, out_dir, module=result.module, samples=16, seed=config.seed, tensorrt="off")
    (out_dir / "norm_stats.json").write_text(json.dumps(result.stats, indent=2) + "\n", encoding="utf-8")
    report = {"demo": {**asdict(demo), "image_size": list(demo.image_size)}, "train": asdict(config),
              "result": result.summary(), "export_passed": export.passed, **(extra_report or {})}
    (out_dir / "train_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return export
