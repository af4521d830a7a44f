"""Transformer pieces written out by hand so the legacy ONNX exporter and TensorRT see plain MatMul/Softmax."""

from __future__ import annotations

import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model={d_model} must be divisible by heads={heads}")
        self.heads = heads
        self.head_dim = d_model // heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_bias: torch.Tensor | None = None) -> torch.Tensor:
        b, nq, d = x.shape
        nk = memory.shape[1]
        q = self.q(x).reshape(b, nq, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(memory).reshape(b, nk, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if key_bias is not None:  # [b, nk] additive, large negative on padding keys
            scores = scores + key_bias[:, None, None, :]
        weights = torch.softmax(scores, dim=-1)
        return self.out(torch.matmul(weights, v).transpose(1, 2).reshape(b, nq, d))


class MLP(nn.Sequential):
    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))


class EncoderBlock(nn.Module):
    """Pre-norm self-attention + MLP."""

    def __init__(self, d_model: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, hidden)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, key_bias)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """Pre-norm self-attention over the queries, cross-attention to the encoder memory, MLP (DETR/ACT decoder)."""

    def __init__(self, d_model: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model, heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.cross_attn = Attention(d_model, heads)
        self.norm3 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, hidden)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor, key_bias: torch.Tensor | None) -> torch.Tensor:
        h = self.norm1(queries)
        x = queries + self.self_attn(h, h)
        x = x + self.cross_attn(self.norm2(x), memory, key_bias)
        return x + self.mlp(self.norm3(x))


class LanguageEmbedding(nn.Module):
    """Token ids [b, L] -> embeddings [b, L, d] plus an additive key bias that hides padding."""

    def __init__(self, vocab_size: int, max_length: int, d_model: int, pad_id: int) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.position = nn.Parameter(torch.randn(1, max_length, d_model) * 0.02)

    def forward(self, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bias = (token_ids == self.pad_id).to(torch.float32) * -1e4
        return self.tokens(token_ids) + self.position, bias
