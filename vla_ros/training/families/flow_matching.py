"""A pi0-shaped flow-matching policy: a prefix computed once per observation, and an action expert (a velocity
field) integrated over a few Euler steps from seeded noise.

- Prefix ("VLM" in pi0): the sim_act encoder (instruction bytes -> 1-D convolutions; a FiLM-modulated CNN whose
  spatial soft-argmax gives object keypoints; the normalized joint state), fused into `context_tokens` tokens of
  width `width`, then `prefix_layers` transformer blocks over them. The prefix graph returns the tokens.
- Expert: one token per action step (its noisy value, its own flow time and its step position) attends to the
  context tokens and to the other action tokens through `expert_layers` blocks, and returns the velocity.

Flow convention (time reversed against pi0's paper, as in its code's comments): x_tau = tau * a + (1 - tau) * eps,
the target velocity is a - eps, and integration runs tau 0 -> 1. Every action has its own tau, which is what
real-time chunking trains on: a frozen prefix of the chunk is given clean (tau = 1) and the rest learns to
continue it (training-time action conditioning, Black et al. 2025; docs/rtc.md).

Actions are absolute joint targets normalized with the data's mean/std (manifest action normalization mean_std).
The same class at width 1024 with 16 + 6 layers is the ~300M "realistic scale" configuration (random weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from vla_ros.training.families.blocks import EncoderBlock
from vla_ros.training.families.keypoint_prefix import KeypointPrefix


def time_embedding(tau: torch.Tensor, width: int) -> torch.Tensor:
    """[B, T] flow times in [0, 1] -> [B, T, width] sinusoidal features (periods from 1 to 1/1000)."""
    half = width // 2
    frequencies = torch.exp(torch.arange(half, dtype=torch.float32, device=tau.device) * (-math.log(1000.0) / half))
    angles = tau.unsqueeze(-1) * frequencies * (2.0 * math.pi)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class PrefixSource(Protocol):
    """Replaces some frozen prefixes (and the target after them) with ones the demonstration did not take."""

    def apply(self, actions: torch.Tensor, frozen_rows: torch.Tensor, delays: torch.Tensor,
              generator: torch.Generator) -> torch.Tensor: ...


class FlowMatchingPolicy(nn.Module):
    def __init__(self, image_size: Sequence[int] = (96, 96), state_dim: int = 6, action_dim: int = 6,
                 horizon: int = 10, vocab_size: int = 256, pad_id: int = 0, channels: int = 32,
                 language_width: int = 64, width: int = 128, context_tokens: int = 4, prefix_layers: int = 0,
                 expert_layers: int = 3, heads: int = 4, max_delay_steps: int = 5,
                 prefix_expand: str = "linear") -> None:
        super().__init__()
        if not 0 < max_delay_steps < horizon:
            raise ValueError(f"max_delay_steps={max_delay_steps}: expected 1 .. horizon - 1 = {horizon - 1}")
        self.horizon, self.action_dim, self.width = horizon, action_dim, width
        self.max_delay_steps = max_delay_steps
        self.prefix_encoder = KeypointPrefix(image_size, state_dim, vocab_size, pad_id, channels, language_width,
                                             width, context_tokens, prefix_layers, heads, prefix_expand)
        self.action_in = nn.Linear(action_dim, width)
        self.time_in = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
        self.step_position = nn.Parameter(torch.randn(1, horizon, width) * 0.02)
        self.expert = nn.ModuleList(EncoderBlock(width, heads, 4 * width) for _ in range(expert_layers))
        self.norm = nn.LayerNorm(width)
        self.action_out = nn.Linear(width, action_dim)

    def prefix(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Once per observation: context tokens [B, context_tokens, width]."""
        return self.prefix_encoder(image_front, instruction_tokens, state)

    def velocity(self, context: torch.Tensor, noisy_actions: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """d x / d tau for every action [B, T, D], each at its own flow time time[B, T]."""
        actions = self.action_in(noisy_actions) + self.time_in(time_embedding(time, self.width)) + self.step_position
        x = torch.cat([context, actions], dim=1)
        for block in self.expert:
            x = block(x)
        return self.action_out(self.norm(x[:, context.shape[1]:]))

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor, state: torch.Tensor,
                noisy_actions: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """Both parts in one call (training)."""
        return self.velocity(self.prefix(image_front, instruction_tokens, state), noisy_actions, time)


def flow_matching_loss(module: FlowMatchingPolicy, images: torch.Tensor, tokens: torch.Tensor, states: torch.Tensor,
                       actions: torch.Tensor, generator: torch.Generator, frozen_probability: float = 0.5,
                       perturb: PrefixSource | None = None) -> torch.Tensor:
    """Conditional flow matching on normalized action chunks [B, T, D], with training-time RTC.

    tau ~ Beta(1.5, 1) per chunk (more weight near the noisy end, as pi0 samples it). With `frozen_probability`
    a chunk gets a frozen prefix of d ~ U{1 .. max_delay_steps} steps: given clean at tau = 1 and left out of the
    loss, so the expert learns to continue actions that are already being executed. With `perturb`, some frozen
    prefixes are not the demonstration's own (see PrefixPerturbation).
    """
    b, horizon, _ = actions.shape
    noise = torch.randn(actions.shape, generator=generator)
    tau = torch.distributions.Beta(1.5, 1.0).sample((b, 1)).expand(b, horizon).clone()
    delays = torch.randint(1, module.max_delay_steps + 1, (b,), generator=generator)
    frozen_rows = torch.rand(b, generator=generator) < frozen_probability
    steps = torch.arange(horizon).unsqueeze(0)
    frozen = frozen_rows.unsqueeze(1) & (steps < delays.unsqueeze(1))  # [B, T]
    if perturb is not None:
        actions = perturb.apply(actions, frozen_rows, delays, generator)
    tau = torch.where(frozen, torch.ones_like(tau), tau)
    t = tau.unsqueeze(-1)
    noisy = t * actions + (1.0 - t) * noise
    predicted = module(images, tokens, states, noisy, tau)
    error = ((predicted - (actions - noise)) ** 2).mean(dim=-1)  # [B, T]
    weight = (~frozen).float()
    return (error * weight).sum() / weight.sum().clamp(min=1.0)


@dataclass(frozen=True)
class PrefixPerturbation:
    """Frozen prefixes that are not the demonstration's own, and the continuation that recovers from them.

    At run time the frozen prefix is the previous chunk's plan, made from an older observation, so it is off
    the plan the current observation calls for, and often moving the wrong way. A policy trained only on the
    demonstrations' own prefixes learns that the prefix is always right and carries its motion on (closed-loop
    drift: docs/rtc.md). Here a share of the frozen prefixes are offset by a random ramp (offset + drift * step,
    in normalized units), and the target continuation starts where the ramp ends and settles back onto the
    demonstration with time constant `settle_steps`: continuous at the boundary, corrected after it.
    """

    probability: float = 0.5
    offset_std: float = 0.1
    drift_std: float = 0.05
    settle_steps: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability={self.probability}: must be within [0, 1]")
        if self.offset_std < 0 or self.drift_std < 0 or self.settle_steps <= 0:
            raise ValueError(f"offset_std={self.offset_std}, drift_std={self.drift_std}: must be >= 0; "
                             f"settle_steps={self.settle_steps}: must be > 0")

    def apply(self, actions: torch.Tensor, frozen_rows: torch.Tensor, delays: torch.Tensor,
              generator: torch.Generator) -> torch.Tensor:
        """actions [B, T, D] with the chosen frozen rows' prefix ramped and their continuation settling back."""
        b, horizon, dim = actions.shape
        chosen = frozen_rows & (torch.rand(b, generator=generator) < self.probability)
        offset = torch.randn(b, 1, dim, generator=generator) * self.offset_std
        drift = torch.randn(b, 1, dim, generator=generator) * self.drift_std
        steps = torch.arange(horizon, dtype=actions.dtype).view(1, horizon, 1)
        last_frozen = (delays - 1).to(actions.dtype).view(b, 1, 1)
        ramp = offset + drift * torch.minimum(steps, last_frozen)  # constant after the prefix's last step
        settling = torch.exp(-torch.clamp(steps - last_frozen, min=0.0) / self.settle_steps)
        return actions + torch.where(chosen.view(b, 1, 1), ramp * settling, torch.zeros_like(actions))
