"""`vla_train --family ar`: an ArTokensPolicy trained on the scripted-expert demonstrations (teacher forcing,
cross-entropy over the action tokens), exported as an autoregressive_tokens package (prefill + step graphs),
token-parity-checked.

The actions are per-step joint increments (manifest semantics joint_position_delta: the first from the measured
state, each next from the previous target), each dimension mapped onto 256 uniform bins between the data's 0.5 and
99.5 percentiles (normalization `bounds`), RT-2's token map: id = 256 + bin. Increments, not absolute targets:
256 bins over a joint's whole range are ~7 mrad wide, and a policy whose every command is off by that much
hovers next to its target (the first version, with absolute targets, did: 0 of 20 in closed loop at a mean
offline error of 0.013 rad); over the increments' range they are well under 1 mrad.

The loss is a cross-entropy against a Gaussian spread over the bins around the true value (HL-Gauss; Farebrother
et al. 2024), not against the one true bin: a one-hot target says nothing about which wrong bins are near, so a
256-way classifier learns a fine regression slowly (with hard labels, 23 % of the increments' signs were wrong). With
`init` (a trained flow_matching package), the prefix encoder is that package's, frozen, as RT-2 and OpenVLA start
from a pretrained VLM.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.core.types import ActionSemantics
from vla_ros.training.ar_package import ar_draft
from vla_ros.training.dataset import DemoConfig, DemoDataset
from vla_ros.training.export import export_package
from vla_ros.training.families.ar_tokens import BYTE_TOKENS, ArTokensPolicy
from vla_ros.training.family_trainer import copy_prefix_weights, fit, write_train_report
from vla_ros.training.trainer import MIN_STATE_STD, images_to_tensor

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
N_BINS = 256
LABEL_SIGMA_BINS = 1.5  # the spread of the soft targets, in bins
# 2 steps x 6 joints = 12 tokens a chunk: the node replans at the camera rate (every 67 ms), so only the first
# steps of a chunk are executed; a longer chunk makes every decode and every training sequence longer (30 tokens
# at 5 steps learnt too slowly to act on: docs/benchmarks.md).
HORIZON = 2
MODEL_KWARGS: dict[str, Any] = {"width": 128, "prefix_tokens": 4, "prefix_layers": 0, "layers": 3, "heads": 4,
                                "n_bins": N_BINS}


def to_bins(values: np.ndarray, low: np.ndarray, high: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Robot values -> RT-2 bin indices (uniform over [low, high], inverse of the bin centers)."""
    normalized = 2.0 * (values - low) / (high - low) - 1.0
    return np.clip(np.floor((normalized + 1.0) * 0.5 * n_bins), 0, n_bins - 1).astype(np.int64)


def soft_bin_targets(values: torch.Tensor, low: torch.Tensor, high: torch.Tensor, n_bins: int = N_BINS,
                     sigma_bins: float = LABEL_SIGMA_BINS) -> torch.Tensor:
    """values [..., D] -> [..., D, n_bins]: the mass of a normal distribution centered on each value (sigma in
    bins) falling into each bin, renormalized over the bins (values near the edges keep a full distribution)."""
    position = (values - low) / (high - low) * n_bins  # in bin widths; bin b spans [b, b + 1)
    edges = torch.arange(n_bins + 1, dtype=values.dtype)
    mass = torch.diff(torch.special.ndtr((edges - position[..., None]) / sigma_bins), dim=-1)
    return mass / mass.sum(dim=-1, keepdim=True).clamp_min(1e-12)


def train_and_export(data: DemoDataset, demo: DemoConfig, out_dir: Path, name: str, *, steps: int, threads: int,
                     seed: int, max_minutes: float, log: Callable[[str], None] = print,
                     init: Path | None = None) -> bool:
    """Train, export to out_dir; True when token parity passed and vla.yaml was written."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    state_mean = data.states.mean(axis=0)
    state_std = np.maximum(data.states.std(axis=0), MIN_STATE_STD)
    targets = data.targets[:, :HORIZON]
    increments = np.diff(np.concatenate([data.states[:, None, :], targets], axis=1), axis=1)
    flat = increments.reshape(-1, increments.shape[-1])
    low, high = np.percentile(flat, 0.5, axis=0) - 1e-4, np.percentile(flat, 99.5, axis=0) + 1e-4
    kwargs = {"image_size": [int(s) for s in demo.image_size], "horizon": HORIZON, "action_dim": 6,
              "state_dim": 6, **MODEL_KWARGS}
    module = ArTokensPolicy(**kwargs)
    if init is not None:  # the prefix's weights expect the state normalized as that package did
        mean, std = copy_prefix_weights(module, init)
        state_mean, state_std = np.asarray(mean), np.asarray(std)
        # Kept frozen: the decoder learns to read a prefix that already finds the named object, and the
        # backward pass skips the CNN (2 cores).
        module.prefix_encoder.requires_grad_(False)
        log(f"train ar: prefix encoder from {init}, frozen")
    states = torch.from_numpy(((data.states - state_mean) / state_std).astype(np.float32))
    tokens = torch.from_numpy(data.tokens)
    action_ids = torch.from_numpy(to_bins(increments, low, high).reshape(len(data), -1) + BYTE_TOKENS)
    increment_values = torch.from_numpy(increments.reshape(len(data), -1).astype(np.float32))
    low_per_token = torch.from_numpy(np.tile(low, HORIZON).astype(np.float32))
    high_per_token = torch.from_numpy(np.tile(high, HORIZON).astype(np.float32))

    def loss_of_rows(rows: np.ndarray) -> torch.Tensor:
        index = torch.from_numpy(rows)
        targets = action_ids[index]
        logits = module(images_to_tensor(data.images[rows]), tokens[index], states[index], targets)
        # Only the action tokens compete, as decoding restricts the argmax to them.
        log_probs = torch.log_softmax(logits[..., BYTE_TOKENS:], dim=-1)
        soft_targets = soft_bin_targets(increment_values[index], low_per_token, high_per_token)
        return -(soft_targets * log_probs).sum(dim=-1).mean()

    fitted = fit(module, loss_of_rows, len(data), steps=steps, batch_size=BATCH_SIZE,
                 learning_rate=LEARNING_RATE, warmup_steps=200, seed=seed, max_minutes=max_minutes,
                 log=log, label="ar")
    draft = ar_draft(name, "RT-2-style autoregressive action-token VLA (FiLM-CNN keypoint prefix + causal "
                     "transformer decoding 12 action tokens with a KV cache) trained by vla_train --family ar on "
                     "the embedded sim's scripted-expert demonstrations; per-step increments for joint_1..joint_6",
                     kwargs, max_instruction_bytes=demo.max_instruction_bytes,
                     control_period_s=float(demo.model_period), state_mean=state_mean.tolist(),
                     state_std=state_std.tolist(), action_low=low.tolist(), action_high=high.tolist(),
                     semantics=ActionSemantics.JOINT_POSITION_DELTA)
    out_dir = Path(out_dir)
    export = export_package(draft, out_dir, module=module, samples=8, seed=seed, tensorrt="off")
    write_train_report(out_dir, "ar", demo, module, fitted,
                       {"batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "seed": seed, "threads": threads,
                        "model_kwargs": kwargs, "label_sigma_bins": LABEL_SIGMA_BINS,
                        "init": None if init is None else str(init)}, export.passed)
    return export.manifest_written
