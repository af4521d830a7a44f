"""torch modules for tests: deliberately broken exports, slow and raising models (imported by module path)."""

from __future__ import annotations

import time

import torch

from vla_ros.training.families.act_chunk import ActChunkPolicy


class ExportDivergentActPolicy(ActChunkPolicy):
    """Behaves differently while being exported, the way a data-dependent branch frozen by tracing would."""

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        out = super().forward(image_front, instruction_tokens, state)
        if torch.onnx.is_in_onnx_export():
            return out + 0.5  # 0.5 normalized units = 0.005 rad with the example std: well over max_abs 1e-3
        return out


class SlowActPolicy(ActChunkPolicy):
    def __init__(self, delay_s: float = 0.05, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.delay_s = delay_s

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay_s)
        return super().forward(image_front, instruction_tokens, state)


class RaisingActPolicy(ActChunkPolicy):
    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("deliberate model fault")


class TwoCameraOpenVlaTokens(torch.nn.Module):
    """Two cameras (uint8 NHWC + float NCHW), a language mask, and OpenVLA-style action token ids as output.

    The token ids are produced exactly like OpenVLA's ActionTokenizer: digitize over linspace(-1, 1, n_bins)
    edges and count down from the end of the vocabulary.
    """

    def __init__(self, horizon: int = 2, action_dim: int = 7, vocab_size: int = 1000, n_bins: int = 256,
                 max_length: int = 8) -> None:
        super().__init__()
        self.horizon, self.action_dim, self.vocab_size = horizon, action_dim, vocab_size
        self.proj = torch.nn.Linear(6 + max_length, horizon * action_dim)
        self.register_buffer("edges", torch.linspace(-1.0, 1.0, n_bins))

    def continuous(self, image_front: torch.Tensor, image_wrist: torch.Tensor, instruction_tokens: torch.Tensor,
                   instruction_mask: torch.Tensor) -> torch.Tensor:
        """The normalized actions in (-1, 1) before tokenization, [b, T * D]."""
        front = image_front.to(torch.float32).mean(dim=(1, 2)) / 255.0  # [b, 3]
        wrist = image_wrist.mean(dim=(2, 3))  # [b, 3]
        words = instruction_tokens.to(torch.float32) * instruction_mask.to(torch.float32) / 255.0
        return torch.tanh(3.0 * self.proj(torch.cat([front, wrist, words], dim=1)))

    def forward(self, image_front: torch.Tensor, image_wrist: torch.Tensor, instruction_tokens: torch.Tensor,
                instruction_mask: torch.Tensor) -> torch.Tensor:
        x = self.continuous(image_front, image_wrist, instruction_tokens, instruction_mask)
        digitized = (x.unsqueeze(-1) >= self.edges).to(torch.int64).sum(dim=-1)  # == np.digitize(x, edges)
        tokens = self.vocab_size - digitized
        return tokens.reshape(-1, self.horizon, self.action_dim)
