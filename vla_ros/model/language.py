"""Instruction text -> token tensors, encoded once per instruction change (not per frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest_types import LanguageInput


class InstructionEncoder:
    """Tokenizes with the package's HF tokenizer.json or the built-in byte-level tokenizer.

    bytes tokenizer: token id = UTF-8 byte value (0..255), no special tokens.
    Both: truncate to max_length, right-pad with pad_id; the optional mask is 1 on real tokens, 0 on padding.
    The result for the latest instruction is cached, so a steady instruction costs nothing per frame.
    """

    def __init__(self, spec: LanguageInput, package_root: Path) -> None:
        self.spec = spec
        self._tokenizer = None
        if spec.tokenizer is not None:
            from tokenizers import Tokenizer  # imported only when a package ships a tokenizer

            path = package_root / spec.tokenizer.file
            try:
                self._tokenizer = Tokenizer.from_file(str(path))
            except Exception as exc:  # the tokenizers library raises a bare Exception on bad files
                raise ModelPackageError(f"inputs.language.tokenizer.file: cannot load {path} as a HF "
                                        f"tokenizers tokenizer.json: {exc}") from exc
        self._cached_text: str | None = None
        self._cached: dict[str, np.ndarray] = {}
        self.encode_count = 0  # how many times text was actually tokenized (observability + tests)

    def token_ids(self, text: str) -> list[int]:
        if self._tokenizer is None:
            return list(text.encode("utf-8"))
        return list(self._tokenizer.encode(text).ids)

    def encode(self, text: str) -> dict[str, np.ndarray]:
        if text == self._cached_text:
            return self._cached
        ids = self.token_ids(text)[: self.spec.max_length]
        tokens = np.full((1, self.spec.max_length), self.spec.pad_id, dtype=self.spec.dtype)
        tokens[0, : len(ids)] = ids
        tensors = {self.spec.tensor: tokens}
        if self.spec.mask_tensor is not None:
            mask = np.zeros((1, self.spec.max_length), dtype=self.spec.dtype)
            mask[0, : len(ids)] = 1
            tensors[self.spec.mask_tensor] = mask
        for array in tensors.values():
            array.setflags(write=False)  # shared across frames: nobody may modify the cached tensors
        self._cached_text, self._cached = text, tensors
        self.encode_count += 1
        return tensors
