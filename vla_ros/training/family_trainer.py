"""The training loop the multi-graph families share (AdamW, warm-up then cosine decay, a time budget)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.training.dataset import DemoConfig
from vla_ros.training.trainer import count_parameters

LossFn = Callable[[np.ndarray], torch.Tensor]  # sample rows -> the batch's loss


def fit(module: torch.nn.Module, loss_of_rows: LossFn, samples: int, *, steps: int, batch_size: int,
        learning_rate: float, warmup_steps: int, seed: int, max_minutes: float, log: Callable[[str], None],
        label: str) -> tuple[int, float, list[tuple[int, float]]]:
    """Train in place; returns (steps done, seconds, [(step, mean loss of the last 100 steps)])."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=learning_rate, weight_decay=1e-4)

    def rate(step: int) -> float:
        if step < warmup_steps:
            return learning_rate * (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, steps - warmup_steps)
        return learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    log(f"train {label}: {samples} samples, {count_parameters(module)} parameters, {steps} steps of {batch_size}")
    started, running, count, losses, done = time.monotonic(), 0.0, 0, [], 0
    module.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = rate(step)
        loss = loss_of_rows(rng.integers(0, samples, batch_size))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        running, count, done = running + loss.item(), count + 1, step + 1
        if done % 100 == 0 or done == steps:
            losses.append((done, running / count))
            log(f"train {label}: step {done}/{steps} loss {running / count:.4f} "
                f"{done / (time.monotonic() - started):.1f} steps/s")
            running, count = 0.0, 0
        if time.monotonic() - started > max_minutes * 60:
            log(f"train {label}: stopped at step {done}: the {max_minutes:g} min budget is spent")
            break
    module.eval()
    return done, time.monotonic() - started, losses


def write_train_report(out_dir: Path, family: str, demo: DemoConfig, module: torch.nn.Module,
                       fitted: tuple[int, float, list[tuple[int, float]]], settings: dict[str, Any],
                       export_passed: bool) -> None:
    """train_report.json beside the package: the data, the settings, the losses and whether export passed."""
    done, seconds, losses = fitted
    report = {"family": family, "demo": {**asdict(demo), "image_size": list(demo.image_size)},
              "train": {"steps": done, "seconds": round(seconds, 1), **settings,
                        "parameters": count_parameters(module), "losses": losses},
              "export_passed": export_passed}
    (Path(out_dir) / "train_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def copy_prefix_weights(module: torch.nn.Module, package_dir: Path) -> tuple[list[float], list[float]]:
    """Start `module.prefix_encoder` from a trained multi-graph package's (its "VLM"), as RT-2 and OpenVLA start
    from a pretrained VLM. Returns the package's state normalization (mean, std), which those weights expect.
    Raises TrainConfigError naming the package when it has no such prefix or its shapes differ."""
    from vla_ros.model import ModelPackageError, load_model_package
    from vla_ros.training.trainer import TrainConfigError

    try:
        package = load_model_package(package_dir)
    except ModelPackageError as error:
        raise TrainConfigError(f"--init {package_dir}: {error}") from error
    state = package.manifest.state
    if package.torch_state_dict_path is None or state is None or state.normalization.mean is None:
        raise TrainConfigError(f"--init {package_dir}: needs a torch state_dict and a mean_std state normalization")
    saved = torch.load(str(package.torch_state_dict_path), map_location="cpu", weights_only=True)
    prefix = {key.removeprefix("prefix_encoder."): value for key, value in saved.items()
              if key.startswith("prefix_encoder.")}
    wanted = module.prefix_encoder.state_dict()
    if not prefix:
        raise TrainConfigError(f"--init {package_dir}: its weights have no prefix_encoder")
    if mismatched := [key for key in wanted if key not in prefix or prefix[key].shape != wanted[key].shape]:
        raise TrainConfigError(f"--init {package_dir}: prefix_encoder differs in {', '.join(mismatched[:4])}")
    module.prefix_encoder.load_state_dict(prefix)
    return [float(v) for v in state.normalization.mean], [float(v) for v in state.normalization.std]
