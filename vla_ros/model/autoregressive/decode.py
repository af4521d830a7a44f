"""Greedy decoding of action tokens over a prefill + step pair of graphs, backend-agnostic.

The stepper keeps the KV cache where its backend keeps tensors (an OrtValue on the session's device, a torch or
CUDA tensor) and is never asked to recompute the prefix: one prefill per chunk, then one step per token.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class TokenStepper(Protocol):
    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Run the prefix; keep its KV cache; return the logits [1, V] for the first token."""
        ...

    def step(self, token: int) -> np.ndarray:
        """Append `token` to the cache; return the logits [1, V] for the next one."""
        ...


def greedy_decode(stepper: TokenStepper, feeds: dict[str, np.ndarray], count: int,
                  allowed: tuple[int, int] | None) -> np.ndarray:
    """`count` token ids [count] int64; `allowed` = [first, last + 1) limits the argmax to the action tokens."""
    tokens = np.empty(count, dtype=np.int64)
    logits = stepper.prefill(feeds)
    for index in range(count):
        row = np.asarray(logits).reshape(-1)
        if allowed is not None:
            token = allowed[0] + int(np.argmax(row[allowed[0]:allowed[1]]))
        else:
            token = int(np.argmax(row))
        tokens[index] = token
        if index + 1 < count:
            logits = stepper.step(token)
    return tokens
