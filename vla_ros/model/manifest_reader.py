"""The strict section reader behind the manifest parsers (manifest, manifest_graphs, remote.manifest).

A section hands out fields by name and, on finish(), refuses every field nobody asked for: an unknown field is
usually a typo of one that then silently took its default. Errors name the dotted field path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest_types import MANIFEST_FILE, WeightFile


def describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Section:
    """One mapping of the manifest: hands out fields by name and rejects the ones nobody asked for."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ModelPackageError(f"{MANIFEST_FILE}: field '{where or '<root>'}': expected a mapping, "
                                    f"got {describe(data)}")
        self._data = data
        self._where = where
        self._allowed: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def error(self, key: str, expectation: str, value: object = None) -> ModelPackageError:
        got = f", got {describe(value)}" if value is not None else ""
        return ModelPackageError(f"{MANIFEST_FILE}: field '{self.path(key)}': expected {expectation}{got}")

    def required(self, key: str) -> Any:
        self._allowed.add(key)
        if key not in self._data:
            raise ModelPackageError(f"{MANIFEST_FILE}: missing required field '{self.path(key)}'")
        return self._data[key]

    def optional(self, key: str) -> Any:
        self._allowed.add(key)
        return self._data.get(key)

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self._data if k not in self._allowed)
        if unknown:
            paths = ", ".join(f"'{self.path(k)}'" for k in unknown)
            raise ModelPackageError(f"{MANIFEST_FILE}: unknown field(s) {paths}; allowed here: "
                                    f"{', '.join(sorted(self._allowed))}")

    # typed getters ------------------------------------------------------------------------------------------
    def string(self, key: str, *, optional: bool = False) -> str | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "a non-empty string", value)
        return value

    def integer(self, key: str, *, minimum: int | None = None, optional: bool = False) -> int | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            raise self.error(key, f"an integer{bound}", value)
        return value

    def number(self, key: str, *, positive: bool = False) -> float:
        value = self.required(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or (
                positive and value <= 0):
            raise self.error(key, "a finite number" + (" > 0" if positive else ""), value)
        return float(value)

    def boolean(self, key: str) -> bool:
        value = self.required(key)
        if not isinstance(value, bool):
            raise self.error(key, "true or false", value)
        return value

    def choice(self, key: str, enum: type[Enum]) -> Any:
        value = self.required(key)
        allowed = [m.value for m in enum]  # type: ignore[attr-defined]
        if value not in allowed:
            raise self.error(key, f"one of {allowed}", value)
        return enum(value)

    def one_of(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.required(key)
        if value not in allowed:
            raise self.error(key, f"one of {list(allowed)}", value)
        return value

    def vector(self, key: str, length: int, *, positive: bool = False) -> np.ndarray:
        value = self.required(key)
        ok = isinstance(value, list) and len(value) == length and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        if ok and positive:
            ok = all(v > 0 for v in value)
        if not ok:
            kind = "positive finite numbers" if positive else "finite numbers"
            raise self.error(key, f"a list of {length} {kind}", value)
        return np.asarray(value, dtype=np.float64)

    def bool_vector(self, key: str, length: int) -> np.ndarray:
        value = self.required(key)
        if not isinstance(value, list) or len(value) != length or not all(isinstance(v, bool) for v in value):
            raise self.error(key, f"a list of {length} booleans (true = normalized dimension)", value)
        return np.asarray(value, dtype=bool)

    def size(self, key: str, *, optional: bool = False) -> tuple[int, int] | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        if not (isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
            raise self.error(key, "[height, width] as two positive integers", value)
        return int(value[0]), int(value[1])

    def section(self, key: str, *, optional: bool = False) -> Section | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        return Section(value, self.path(key))


def weight_file(sec: Section, *, draft: bool) -> WeightFile:
    file_name = sec.string("file")
    assert file_name is not None
    if file_name.startswith("/") or ".." in file_name.replace("\\", "/").split("/"):
        raise sec.error("file", "a path relative to the package directory, inside it", file_name)
    sha = sec.optional("sha256")
    if sha is None and draft:
        sec.finish()
        return WeightFile(file_name, None)
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        if sha is None:
            raise ModelPackageError(f"{MANIFEST_FILE}: missing required field '{sec.path('sha256')}' "
                                    f"(sha256 of {file_name})")
        raise sec.error("sha256", "64 lowercase hex characters (sha256 of the file)", sha)
    sec.finish()
    return WeightFile(file_name, sha)
