"""RT-2-style action-token policy (Brohan et al. 2023, "RT-2: Vision-Language-Action Models"), tiny.

RT-2 emits each action dimension as one token out of 256 uniform bins. Here: ViT patch embedding of the image
+ byte-level language tokens -> transformer encoder -> one learned query per (step, dimension) -> logits over
the bins, i.e. [T, D, n_bins]. The tokens are decoded in parallel rather than autoregressively (as
parallel-decoding VLAs do) so one forward pass gives the whole chunk and the graph exports without loops.
"""

from __future__ import annotations

import torch
from torch import nn

from vla_ros.training.families.blocks import DecoderBlock, EncoderBlock, LanguageEmbedding


class Rt2BinsPolicy(nn.Module):
    def __init__(self, image_size: tuple[int, int] | list[int] = (96, 96), action_dim: int = 6, horizon: int = 1,
                 n_bins: int = 256, vocab_size: int = 256, max_length: int = 32, pad_id: int = 0,
                 patch: int = 16, d_model: int = 64, heads: int = 4, encoder_layers: int = 2,
                 decoder_layers: int = 1) -> None:
        super().__init__()
        h, w = int(image_size[0]), int(image_size[1])
        if h % patch or w % patch:
            raise ValueError(f"image_size={image_size}: both sides must be multiples of patch={patch}")
        self.horizon, self.action_dim, self.n_bins = horizon, action_dim, n_bins
        self.patchify = nn.Conv2d(3, d_model, kernel_size=patch, stride=patch)
        self.image_position = nn.Parameter(torch.randn(1, (h // patch) * (w // patch), d_model) * 0.02)
        self.language = LanguageEmbedding(vocab_size, max_length, d_model, pad_id)
        self.encoder = nn.ModuleList(EncoderBlock(d_model, heads, 2 * d_model) for _ in range(encoder_layers))
        self.action_queries = nn.Parameter(torch.randn(1, horizon * action_dim, d_model))  # distinct per token
        self.decoder = nn.ModuleList(DecoderBlock(d_model, heads, 2 * d_model) for _ in range(decoder_layers))
        self.norm = nn.LayerNorm(d_model)
        self.to_bins = nn.Linear(d_model, n_bins)

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor) -> torch.Tensor:
        b = image_front.shape[0]
        patches = self.patchify(image_front).flatten(2).transpose(1, 2) + self.image_position
        words, word_bias = self.language(instruction_tokens)
        memory = torch.cat([patches, words], dim=1)
        key_bias = torch.cat([torch.zeros(b, patches.shape[1], dtype=word_bias.dtype, device=word_bias.device),
                              word_bias], dim=1)
        for block in self.encoder:
            memory = block(memory, key_bias)
        x = self.action_queries.expand(b, -1, -1)
        for block in self.decoder:
            x = block(x, memory, key_bias)
        logits = self.to_bins(self.norm(x))
        return logits.reshape(b, self.horizon, self.action_dim, self.n_bins)
