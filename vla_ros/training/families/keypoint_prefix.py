"""The "VLM prefix" the trained multi-graph families share: sim_act's encoder as a few context tokens.

Instruction bytes -> 1-D convolutions -> an instruction vector; a FiLM-modulated CNN whose spatial soft-argmax
gives one image-plane keypoint per channel (what reaching needs: where the named object is); the normalized
joint state. Fused into `tokens` tokens of width `width`, then `layers` transformer blocks over them (0 for the
small trained models; many for the ~300M scale configurations, where this is the VLM's share of the compute).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vla_ros.training.families.blocks import EncoderBlock
from vla_ros.training.policy import InstructionEncoder, SpatialSoftArgmax


class KeypointPrefix(nn.Module):
    """Image + instruction + normalized state -> `tokens` context tokens [B, tokens, width] (sim_act's encoder)."""

    def __init__(self, image_size: Sequence[int], state_dim: int, vocab_size: int, pad_id: int, channels: int,
                 language_width: int, width: int, tokens: int, layers: int, heads: int,
                 expand: str = "linear") -> None:
        super().__init__()
        h, w = int(image_size[0]), int(image_size[1])
        if h % 4 or w % 4:
            raise ValueError(f"image_size={list(image_size)}: both sides must be multiples of 4")
        self.tokens, self.width = tokens, width
        self.language = InstructionEncoder(vocab_size, language_width, pad_id)
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels // 2, kernel_size=4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels // 2, channels, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        )
        self.conv3 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.film = nn.Linear(language_width, 4 * channels)
        self.keypoints = SpatialSoftArgmax(h // 4, w // 4)
        if expand not in ("linear", "position"):
            raise ValueError(f"expand={expand!r}: expected 'linear' or 'position'")
        # linear: one projection per token (few tokens, the trained models); position: one fused vector told
        # apart per token by the position embedding, so hundreds of tokens cost no projection weights (the
        # scale configurations, whose transformer blocks then do the work).
        self.expand = expand
        fused_width = tokens * width if expand == "linear" else width
        self.fuse = nn.Sequential(nn.Linear(2 * channels + language_width + state_dim, width), nn.GELU(),
                                  nn.Linear(width, fused_width))
        self.position = nn.Parameter(torch.randn(1, tokens, width) * 0.02)
        self.blocks = nn.ModuleList(EncoderBlock(width, heads, 4 * width) for _ in range(layers))

    @staticmethod
    def _modulate(x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        gamma, beta = film.chunk(2, dim=1)
        return torch.relu(x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None])

    def forward(self, image: torch.Tensor, instruction_tokens: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        text = self.language(instruction_tokens)
        film3, film4 = self.film(text).chunk(2, dim=1)
        x = self.stem(image)
        x = self._modulate(self.conv3(x), film3)
        x = self._modulate(self.conv4(x), film4)
        fused = self.fuse(torch.cat([self.keypoints(x), text, state], dim=1))
        if self.expand == "linear":
            context = fused.reshape(-1, self.tokens, self.width) + self.position
        else:
            context = fused.unsqueeze(1) + self.position
        for block in self.blocks:
            context = block(context)
        return context
