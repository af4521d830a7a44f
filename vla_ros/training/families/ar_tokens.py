"""An RT-2 / OpenVLA-shaped autoregressive action-token policy: a prefix (image + instruction + state) then one
action token after another from a causal transformer with a KV cache.

- Vocabulary: 256 byte tokens (the "language" part of a VLM vocabulary) then `n_bins` action tokens, RT-2's map:
  token id = token_offset + bin, bin centers uniform over [-1, 1] (manifest `bins`, scheme rt2).
- Prefill: the prefix tokens (vla_ros.training.families.keypoint_prefix) attend to each other; the graph returns
  the logits that predict the first action token and the KV cache of every layer.
- Step: one token in, its key/value appended to the cache, the logits for the next token out. The position is
  the cache length, counted inside the graph, so one step graph serves every position.
- KV cache: one tensor [layers, 2 (key, value), B, heads, S, head_dim].

T * D tokens per chunk (time-major: all dims of step 0, then step 1 ...), greedy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from vla_ros.training.families.blocks import MLP
from vla_ros.training.families.keypoint_prefix import KeypointPrefix

BYTE_TOKENS = 256


class CachedSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width={width} must be divisible by heads={heads}")
        self.heads, self.head_dim = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, n, W]; past [2, B, H, S, hd] or None -> (out [B, n, W], present [2, B, H, S + n, hd])."""
        b, n, w = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            scores = scores + mask
        out = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, n, w)
        return self.out(out), torch.stack([k, v])


class DecoderLayer(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = CachedSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = MLP(width, 4 * width)

    def forward(self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        attended, present = self.attn(self.norm1(x), past, mask)
        x = x + attended
        return x + self.mlp(self.norm2(x)), present


class ArTokensPolicy(nn.Module):
    def __init__(self, image_size: Sequence[int] = (96, 96), state_dim: int = 6, action_dim: int = 6,
                 horizon: int = 10, vocab_size: int = BYTE_TOKENS, pad_id: int = 0, n_bins: int = 256,
                 channels: int = 32, language_width: int = 64, width: int = 128, prefix_tokens: int = 4,
                 prefix_layers: int = 0, layers: int = 3, heads: int = 4, prefix_expand: str = "linear") -> None:
        super().__init__()
        self.horizon, self.action_dim, self.n_bins = horizon, action_dim, n_bins
        self.token_offset = BYTE_TOKENS
        self.vocab = BYTE_TOKENS + n_bins
        self.prefix_tokens = prefix_tokens
        self.prefix_encoder = KeypointPrefix(image_size, state_dim, vocab_size, pad_id, channels, language_width,
                                             width, prefix_tokens, prefix_layers, heads, prefix_expand)
        self.embed = nn.Embedding(self.vocab, width)
        self.position = nn.Embedding(prefix_tokens + horizon * action_dim, width)
        self.layers = nn.ModuleList(DecoderLayer(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, self.vocab)

    @property
    def tokens_per_chunk(self) -> int:
        return self.horizon * self.action_dim

    def _run(self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        presents = []
        for index, layer in enumerate(self.layers):
            x, present = layer(x, None if past is None else past[index], mask)
            presents.append(present)
        return self.head(self.norm(x)), torch.stack(presents)

    def prefill(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor, state: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (logits [B, V] for the first action token, KV cache [L, 2, B, H, P, hd])."""
        context = self.prefix_encoder(image_front, instruction_tokens, state)
        positions = torch.arange(self.prefix_tokens, device=context.device)
        logits, cache = self._run(context + self.position(positions), None, None)
        return logits[:, -1], cache

    def step(self, token: torch.Tensor, past_kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """token [B, 1] (the previous action token), past_kv [L, 2, B, H, S, hd] -> (logits [B, V], S + 1 cache)."""
        # The cache length counted as a tensor (a Python int would be frozen into the exported graph).
        length = torch.ones_like(past_kv[0, 0, :, 0, :, 0]).sum(dim=-1, keepdim=True).long()  # [B, 1]
        x = self.embed(token) + self.position(length)
        logits, cache = self._run(x, past_kv, None)
        return logits[:, -1], cache

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor, state: torch.Tensor,
                action_tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits [B, N, V] predicting action_tokens [B, N] (ids) from the prefix and the ones
        before each."""
        context = self.prefix_encoder(image_front, instruction_tokens, state)
        p, n = self.prefix_tokens, action_tokens.shape[1]
        x = torch.cat([context, self.embed(action_tokens[:, :-1])], dim=1)
        x = x + self.position(torch.arange(p + n - 1, device=x.device))
        total = p + n - 1
        allowed = torch.ones(total, total, dtype=torch.bool, device=x.device).tril()
        allowed[:p, :p] = True  # the prefix sees itself whole, as the prefill does
        mask = torch.zeros(total, total, device=x.device).masked_fill(~allowed, -1e9)
        logits, _ = self._run(x, None, mask)
        return logits[:, p - 1:]

    @torch.no_grad()
    def generate(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor, state: torch.Tensor,
                 restrict_to_action_tokens: bool = True) -> torch.Tensor:
        """torch's own step-by-step greedy decoding (the reference for the exported graphs): ids [B, N]."""
        logits, cache = self.prefill(image_front, instruction_tokens, state)
        tokens = []
        for index in range(self.tokens_per_chunk):
            if restrict_to_action_tokens:
                token = logits[:, self.token_offset:].argmax(dim=-1, keepdim=True) + self.token_offset
            else:
                token = logits.argmax(dim=-1, keepdim=True)
            tokens.append(token)
            if index + 1 < self.tokens_per_chunk:
                logits, cache = self.step(token, cache)
        return torch.cat(tokens, dim=1)
