"""The wire encoding of openpi's policy servers: msgpack, with numpy arrays as small tagged maps.

An array travels as a map {b"__ndarray__": True, b"data": raw bytes, b"dtype": numpy dtype string (e.g. "<f4"),
b"shape": [dims]}; a numpy scalar as {b"__npgeneric__": True, b"data": the value, b"dtype": ...}. The tag keys
are msgpack binary strings, everything else (the observation's and the reply's keys) plain strings. This is what
openpi_client.msgpack_numpy produces and reads; nothing here ever unpickles, and only plain numeric dtypes are
accepted, so a reply cannot make us build object arrays.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

# bool, signed and unsigned integers, floats: everything a policy exchanges. Object, void and complex
# arrays are refused in both directions (openpi refuses the same kinds when packing).
_ALLOWED_KINDS = frozenset("biuf")
_NDARRAY_TAG = b"__ndarray__"
_GENERIC_TAG = b"__npgeneric__"


class WireFormatError(ValueError):
    """Bytes that are not a valid openpi message (bad msgpack, a malformed or disallowed array)."""


def _encode_numpy(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind not in _ALLOWED_KINDS:
        raise WireFormatError(f"cannot send a numpy value of dtype {value.dtype} (allowed: bool, int, uint, float)")
    if isinstance(value, np.ndarray):
        return {_NDARRAY_TAG: True, b"data": np.ascontiguousarray(value).tobytes(), b"dtype": value.dtype.str,
                b"shape": list(value.shape)}
    if isinstance(value, np.generic):
        return {_GENERIC_TAG: True, b"data": value.item(), b"dtype": value.dtype.str}
    raise TypeError(f"cannot encode {type(value).__name__} for an openpi server")


def _numeric_dtype(raw: Any) -> np.dtype:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", errors="replace")
    if not isinstance(raw, str):
        raise WireFormatError(f"array dtype {raw!r} is not a dtype string")
    try:
        dtype = np.dtype(raw)
    except TypeError as error:
        raise WireFormatError(f"array dtype {raw!r} is not a numpy dtype") from error
    if dtype.kind not in _ALLOWED_KINDS:
        raise WireFormatError(f"array dtype {dtype} is not allowed (bool, int, uint, float only)")
    return dtype


def _decode_numpy(tagged: dict) -> Any:
    if _NDARRAY_TAG in tagged:
        dtype = _numeric_dtype(tagged.get(b"dtype"))
        shape = tagged.get(b"shape")
        data = tagged.get(b"data")
        if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise WireFormatError(f"array shape {shape!r} is not a list of non-negative integers")
        if not isinstance(data, bytes):
            raise WireFormatError("array data is not a binary string")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(data) != expected:
            raise WireFormatError(f"array of shape {list(shape)} and dtype {dtype} needs {expected} bytes, "
                                  f"got {len(data)}")
        return np.frombuffer(data, dtype=dtype).reshape(shape)
    if _GENERIC_TAG in tagged:
        return _numeric_dtype(tagged.get(b"dtype")).type(tagged.get(b"data"))
    return tagged


def pack(message: Any) -> bytes:
    """An observation (or any dict of str, numbers, numpy arrays, nested dicts) -> one binary frame."""
    return msgpack.packb(message, default=_encode_numpy, use_bin_type=True)


def unpack(frame: bytes) -> Any:
    """One binary frame -> the message, arrays as read-only numpy views of the frame."""
    try:
        return msgpack.unpackb(frame, object_hook=_decode_numpy, raw=False)
    except WireFormatError:
        raise
    except (ValueError, TypeError) as error:  # msgpack's errors are ValueErrors
        raise WireFormatError(f"not a valid msgpack message: {error}") from error
