"""Input validation at the edge of the safety layer: action chunks (S3, docs/safety_rules.md) and instructions."""

from __future__ import annotations

import re

import numpy as np

# Control characters that separate words: replaced by a space so "pick\nup" stays two words.
_WHITESPACE_CONTROLS = re.compile("[\t\n\r\v\f\x1c-\x1f\x85]")
# The remaining C0/C1 controls (Unicode category Cc) are dropped. Regexes, not a per-character loop: a
# 1 MB instruction must not hold the GIL (and so the control loop) for the better part of a second.
_OTHER_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def validate_chunk(actions: np.ndarray, expected_shape: tuple[int, int]) -> str | None:
    """Return why an action chunk must be rejected (S3), or None when it is usable.

    `expected_shape` is (T, D); a negative entry accepts any size along that axis (e.g. (-1, 7)).
    """
    if not isinstance(actions, np.ndarray):
        return f"actions must be a numpy array, got {type(actions).__name__}"
    if actions.dtype.kind not in "fiu":
        return f"actions must be numeric, got dtype {actions.dtype}"
    if actions.ndim != len(expected_shape):
        return f"actions have shape {actions.shape}, expected {tuple(expected_shape)}"
    for axis, (got, want) in enumerate(zip(actions.shape, expected_shape)):
        if want >= 0 and got != want:
            return f"actions have shape {actions.shape}, expected {tuple(expected_shape)} (axis {axis})"
    if actions.size == 0:
        return f"actions are empty (shape {actions.shape})"
    finite = np.isfinite(actions)
    if not finite.all():
        bad = int(actions.size - np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        return f"actions contain {bad} non-finite value(s), first at index {first}: {actions[first]}"
    return None


def validate_instruction(raw: str | bytes, max_length: int) -> tuple[str | None, str]:
    """Clean an instruction: (text, "") when usable, (None, reason) when rejected.

    Invalid UTF-8 is rejected (bytes that do not decode, or a str holding lone surrogates, which is
    how undecodable bytes arrive through a lenient decoder). Control characters are removed (those
    that separate words become a space), surrounding whitespace is stripped and runs of whitespace
    collapse to one space. Text longer than `max_length` characters after cleaning is rejected.
    An empty result is valid: an empty instruction means "stop".
    """
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"instruction is not valid UTF-8 (byte {exc.start}: {exc.reason})"
    elif isinstance(raw, str):
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            return None, f"instruction is not valid UTF-8 (character {exc.start}: {exc.reason})"
        text = raw
    else:
        return None, f"instruction must be str or bytes, got {type(raw).__name__}"

    cleaned = " ".join(_OTHER_CONTROLS.sub("", _WHITESPACE_CONTROLS.sub(" ", text)).split())
    if len(cleaned) > max_length:
        return None, f"instruction is {len(cleaned)} characters long; the maximum is {max_length}"
    return cleaned, ""
