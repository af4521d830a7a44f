"""ACT-style action-chunk policy (Zhao et al. 2023, "Learning Fine-Grained Bimanual Manipulation with Low-Cost
Hardware"), shrunk to run in a few ms on one CPU core.

As in ACT: a CNN backbone turns the image into a feature grid, the grid tokens plus a projected joint-state
token go through a transformer encoder, and a DETR-style decoder with `horizon` learned queries cross-attends
to that memory and regresses the whole chunk [T, D] at once. ACT's CVAE style variable is set to its prior
mean (zero) at inference, so it is left out here. We add language tokens to the memory (a VLA needs the
instruction), encoded with a byte-level embedding.
"""

from __future__ import annotations

import torch
from torch import nn

from vla_ros.training.families.blocks import DecoderBlock, EncoderBlock, LanguageEmbedding


class ActChunkPolicy(nn.Module):
    def __init__(self, image_size: tuple[int, int] | list[int] = (96, 96), state_dim: int = 6, action_dim: int = 6,
                 horizon: int = 10, vocab_size: int = 256, max_length: int = 32, pad_id: int = 0,
                 d_model: int = 64, heads: int = 4, encoder_layers: int = 1, decoder_layers: int = 1) -> None:
        super().__init__()
        h, w = int(image_size[0]), int(image_size[1])
        if h % 16 or w % 16:
            raise ValueError(f"image_size={image_size}: both sides must be multiples of 16")
        self.horizon, self.action_dim = horizon, action_dim
        self.backbone = nn.Sequential(  # stride 16 overall: 96x96 -> 6x6 feature grid
            nn.Conv2d(3, 32, kernel_size=4, stride=4), nn.GELU(),
            nn.Conv2d(32, 48, kernel_size=3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(48, d_model, kernel_size=3, stride=2, padding=1),
        )
        self.image_position = nn.Parameter(torch.randn(1, (h // 16) * (w // 16), d_model) * 0.02)
        self.state_proj = nn.Linear(state_dim, d_model)
        self.language = LanguageEmbedding(vocab_size, max_length, d_model, pad_id)
        self.encoder = nn.ModuleList(EncoderBlock(d_model, heads, 2 * d_model) for _ in range(encoder_layers))
        self.queries = nn.Parameter(torch.randn(1, horizon, d_model) * 0.02)
        self.decoder = nn.ModuleList(DecoderBlock(d_model, heads, 2 * d_model) for _ in range(decoder_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, action_dim)

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        b = image_front.shape[0]
        grid = self.backbone(image_front).flatten(2).transpose(1, 2) + self.image_position
        words, word_bias = self.language(instruction_tokens)
        state_token = self.state_proj(state).unsqueeze(1)
        memory = torch.cat([grid, state_token, words], dim=1)
        visible = torch.zeros(b, grid.shape[1] + 1, dtype=word_bias.dtype, device=word_bias.device)
        key_bias = torch.cat([visible, word_bias], dim=1)
        for block in self.encoder:
            memory = block(memory, key_bias)
        x = self.queries.expand(b, -1, -1)
        for block in self.decoder:
            x = block(x, memory, key_bias)
        return self.head(self.norm(x))  # [b, T, D], normalized actions
