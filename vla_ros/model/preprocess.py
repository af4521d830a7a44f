"""Observation -> input tensors, exactly as the manifest declares (OpenCV + numpy, no per-pixel Python).

Order of operations for a camera (documented in README.md, the golden tests pin it):
check (HxWx3 uint8, fixed source size) -> geometry (resize | center_crop | letterbox) -> color order ->
dtype cast with x * scale, then (x - mean) / std per channel -> layout (NCHW / NHWC) with a batch axis of 1.
"""

from __future__ import annotations

import cv2
import numpy as np

from vla_ros.model.errors import InputError
from vla_ros.model.manifest_types import (
    CameraInput,
    ColorOrder,
    Interpolation,
    Layout,
    Normalization,
    NormalizationKind,
    ResizeMode,
    StateInput,
)

_CV_INTERPOLATION = {
    Interpolation.NEAREST: cv2.INTER_NEAREST,
    Interpolation.LINEAR: cv2.INTER_LINEAR,
    Interpolation.AREA: cv2.INTER_AREA,
    Interpolation.CUBIC: cv2.INTER_CUBIC,
}


def center_crop_box(src_hw: tuple[int, int], target_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(y0, x0, h, w) of the largest centered region of src with the target's aspect ratio."""
    h, w = src_hw
    th, tw = target_hw
    if w * th > h * tw:  # source is wider than the target: cut the sides
        cw = max(1, round(h * tw / th))
        return 0, (w - cw) // 2, h, cw
    ch = max(1, round(w * th / tw))
    return (h - ch) // 2, 0, ch, w


def letterbox_placement(src_hw: tuple[int, int], target_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(y0, x0, h, w) where the aspect-preserving scaled source lands inside the target canvas."""
    h, w = src_hw
    th, tw = target_hw
    s = min(th / h, tw / w)
    nh = min(th, max(1, round(h * s)))
    nw = min(tw, max(1, round(w * s)))
    return (th - nh) // 2, (tw - nw) // 2, nh, nw


class ImagePreprocessor:
    """One camera's image -> its model tensor. Constant per-channel factors are computed once here."""

    def __init__(self, spec: CameraInput) -> None:
        self.spec = spec
        self._interp = _CV_INTERPOLATION[spec.interpolation]
        std = np.asarray(spec.std, dtype=np.float32)
        # x * scale then (x - mean) / std == x * (scale / std) - mean / std: one multiply-add per pixel.
        self._gain = (np.float32(spec.scale) / std).astype(np.float32)
        self._bias = (-np.asarray(spec.mean, dtype=np.float32) / std).astype(np.float32)

    def check(self, image: object) -> np.ndarray:
        name = self.spec.name
        if not isinstance(image, np.ndarray):
            raise InputError(f"camera '{name}': expected a numpy image, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"camera '{name}': expected an HxWx3 uint8 RGB image, got shape {image.shape} "
                             f"dtype {image.dtype}")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise InputError(f"camera '{name}': empty image of shape {image.shape}")
        if self.spec.source_size is not None and tuple(image.shape[:2]) != self.spec.source_size:
            sh, sw = self.spec.source_size
            raise InputError(f"camera '{name}': the model requires {sh}x{sw} (HxW) images, got "
                             f"{image.shape[0]}x{image.shape[1]}")
        return image

    def _resize(self, image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        if image.shape[:2] == hw:
            return image
        return cv2.resize(np.ascontiguousarray(image), (hw[1], hw[0]), interpolation=self._interp)

    def geometry(self, image: np.ndarray) -> np.ndarray:
        target = self.spec.size
        src = (int(image.shape[0]), int(image.shape[1]))
        mode = self.spec.resize
        if mode is ResizeMode.RESIZE:
            return self._resize(image, target)
        if mode is ResizeMode.CENTER_CROP:
            y0, x0, ch, cw = center_crop_box(src, target)
            return self._resize(image[y0:y0 + ch, x0:x0 + cw], target)
        y0, x0, nh, nw = letterbox_placement(src, target)
        canvas = np.full((target[0], target[1], 3), self.spec.pad_value, dtype=np.uint8)
        canvas[y0:y0 + nh, x0:x0 + nw] = self._resize(image, (nh, nw))
        return canvas

    def __call__(self, image: object) -> np.ndarray:
        pixels = self.geometry(self.check(image))
        if self.spec.color_order is ColorOrder.BGR:
            pixels = pixels[..., ::-1]
        if self.spec.dtype == "uint8":
            tensor = np.ascontiguousarray(pixels)
            if self.spec.layout is Layout.NCHW:
                tensor = tensor.transpose(2, 0, 1)
            return np.ascontiguousarray(tensor[None])
        tensor = self._normalized(pixels)
        if self.spec.dtype == "float16":
            tensor = tensor.astype(np.float16)
        return tensor

    def _normalized(self, pixels: np.ndarray) -> np.ndarray:
        """float32(x) * gain + bias per channel, written straight into the batch tensor of the model's layout.

        One channel at a time: broadcasting over a trailing axis of 3 runs numpy's inner loop 3 elements at a
        time, about 7x slower on a 224x224 image (1.0 against 0.14 ms). The arithmetic, and so every bit of the
        result, is the same.
        """
        height, width = pixels.shape[:2]
        if self.spec.layout is Layout.NCHW:
            tensor = np.empty((1, 3, height, width), dtype=np.float32)
            channels = [tensor[0, c] for c in range(3)]
        else:
            tensor = np.empty((1, height, width, 3), dtype=np.float32)
            channels = [tensor[0, ..., c] for c in range(3)]
        for c, out in enumerate(channels):
            np.multiply(pixels[..., c], self._gain[c], out=out)
            out += self._bias[c]
        return tensor


class AffineNormalizer:
    """normalized = x * gain + offset per dimension; identity on dimensions the mask leaves out."""

    def __init__(self, norm: Normalization, dim: int) -> None:
        gain = np.ones(dim)
        offset = np.zeros(dim)
        if norm.kind is NormalizationKind.MEAN_STD:
            assert norm.mean is not None and norm.std is not None and norm.mask is not None
            gain = np.where(norm.mask, 1.0 / norm.std, 1.0)
            offset = np.where(norm.mask, -norm.mean / norm.std, 0.0)
        elif norm.kind is NormalizationKind.BOUNDS:
            assert norm.low is not None and norm.high is not None and norm.mask is not None
            span = np.where(norm.mask, norm.high - norm.low, 1.0)
            gain = np.where(norm.mask, 2.0 / span, 1.0)
            offset = np.where(norm.mask, -2.0 * norm.low / span - 1.0, 0.0)
        self.gain = gain
        self.offset = offset

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return x * self.gain + self.offset

    def unnormalize(self, y: np.ndarray) -> np.ndarray:
        return (y - self.offset) / self.gain


class StatePreprocessor:
    """Joint positions (robot order) -> the normalized state tensor [1, dim]."""

    def __init__(self, spec: StateInput) -> None:
        self.spec = spec
        self._norm = AffineNormalizer(spec.normalization, spec.dim)

    def __call__(self, state: object) -> np.ndarray:
        if state is None:
            raise InputError(f"the model needs a {self.spec.dim}-dimensional joint state, none was given")
        values = np.asarray(state, dtype=np.float64)
        if values.shape != (self.spec.dim,):
            raise InputError(f"state: expected {self.spec.dim} joint positions, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise InputError(f"state: non-finite joint positions {values.tolist()}")
        return self._norm.normalize(values).astype(self.spec.dtype)[None]
