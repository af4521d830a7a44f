"""torch modules the fault-injection tests load into vla_node by module path (a real model, made slow or broken)."""

from __future__ import annotations

import time

import torch

from vla_ros.training.families.act_chunk import ActChunkPolicy


class BusyActPolicy(ActChunkPolicy):
    """Burns `busy_ms` of CPU in torch ops per inference: the cost profile of a larger real model."""

    def __init__(self, busy_ms: float = 200.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.busy_ms = busy_ms
        self._work = torch.randn(128, 128)

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        deadline = time.perf_counter() + self.busy_ms / 1e3
        x = self._work
        while time.perf_counter() < deadline:
            x = torch.tanh(x @ self._work)
        return super().forward(image_front, instruction_tokens, state) + 0.0 * x.mean()


class RaisingActPolicy(ActChunkPolicy):
    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("deliberate model fault")
