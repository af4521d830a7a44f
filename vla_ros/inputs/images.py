"""sensor_msgs/Image and CompressedImage payloads -> HxWx3 uint8 RGB, without ROS.

ROS 2's cv_bridge is not installable from PyPI (the PyPI `cv-bridge` is the ROS 1 package and breaks with
numpy 2 / OpenCV 5), so the conversion lives here: a zero-copy view into the message buffer where possible,
one vectorized colour conversion, and a clear error for anything that does not match its header.
"""

from __future__ import annotations

import cv2
import numpy as np


class ImageError(ValueError):
    """The image cannot be used; the message says why (it ends up in /vla/status)."""


# encoding -> (channels, OpenCV conversion to RGB or None when already RGB)
_RAW_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
    "8UC1": (1, cv2.COLOR_GRAY2RGB),
    "8UC3": (3, cv2.COLOR_BGR2RGB),  # OpenCV's convention for untyped 3-channel images is BGR
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_RAW_ENCODINGS)

# A camera frame larger than this is rejected before any copy (8K RGBA); protects memory from a bad publisher.
MAX_IMAGE_BYTES = 7680 * 4320 * 4


def decode_raw_image(encoding: str, height: int, width: int, step: int,
                     data: bytes | memoryview | np.ndarray) -> np.ndarray:
    """Convert a raw sensor_msgs/Image payload to a contiguous HxWx3 uint8 RGB array."""
    if encoding not in _RAW_ENCODINGS:
        raise ImageError(f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    channels, conversion = _RAW_ENCODINGS[encoding]
    if height <= 0 or width <= 0:
        raise ImageError(f"image has no pixels: height={height} width={width}")
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageError(f"image step {step} is smaller than width*channels={row_bytes} for {encoding}")
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    expected = height * step
    if buffer.size != expected:
        raise ImageError(f"image data length {buffer.size} != height*step = {height}*{step} = {expected}")
    if expected > MAX_IMAGE_BYTES:
        raise ImageError(f"image of {expected} bytes exceeds the {MAX_IMAGE_BYTES}-byte limit")
    # Rows may be padded (step > width*channels): view with strides, then drop the padding.
    rows = buffer.reshape(height, step)[:, :row_bytes]
    pixels = rows.reshape(height, width, channels) if channels > 1 else rows.reshape(height, width)
    if conversion is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)


def decode_compressed_image(format_field: str, data: bytes | memoryview | np.ndarray) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg/png) payload to HxWx3 uint8 RGB."""
    buffer = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    if buffer.size == 0:
        raise ImageError("compressed image has no data")
    if buffer.size > MAX_IMAGE_BYTES:
        raise ImageError(f"compressed image of {buffer.size} bytes exceeds the {MAX_IMAGE_BYTES}-byte limit")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageError(f"compressed image (format {format_field!r}) could not be decoded")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def encode_raw_image(rgb: np.ndarray, encoding: str) -> tuple[bytes, int]:
    """RGB array -> (payload, step) in `encoding`; the inverse of decode_raw_image (used by publishers and tests)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"expected HxWx3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    conversions = {
        "rgb8": None,
        "bgr8": cv2.COLOR_RGB2BGR,
        "8UC3": cv2.COLOR_RGB2BGR,
        "rgba8": cv2.COLOR_RGB2RGBA,
        "bgra8": cv2.COLOR_RGB2BGRA,
        "mono8": cv2.COLOR_RGB2GRAY,
        "8UC1": cv2.COLOR_RGB2GRAY,
    }
    if encoding not in conversions:
        raise ImageError(f"unsupported image encoding {encoding!r}")
    code = conversions[encoding]
    out = rgb if code is None else cv2.cvtColor(rgb, code)
    out = np.ascontiguousarray(out)
    step = out.shape[1] * (out.shape[2] if out.ndim == 3 else 1)
    return out.tobytes(), step
