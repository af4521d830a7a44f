"""Preprocessing against hand-computed golden arrays (geometry, color order, normalization, layout, state)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vla_ros.model import InputError
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
from vla_ros.model.preprocess import (
    AffineNormalizer,
    ImagePreprocessor,
    StatePreprocessor,
    center_crop_box,
    letterbox_placement,
)


def camera(size: tuple[int, int], *, resize: ResizeMode = ResizeMode.RESIZE,
           interpolation: Interpolation = Interpolation.AREA, color_order: ColorOrder = ColorOrder.RGB,
           layout: Layout = Layout.NHWC, dtype: str = "uint8", scale: float = 1.0,
           mean: tuple[float, float, float] = (0.0, 0.0, 0.0), std: tuple[float, float, float] = (1.0, 1.0, 1.0),
           pad_value: int = 0, source_size: tuple[int, int] | None = None) -> CameraInput:
    return CameraInput("front", "image", size, resize, interpolation, pad_value, color_order, layout, dtype, scale,
                       mean, std, source_size)


def gray_to_rgb(plane: list[list[int]]) -> np.ndarray:
    """Same values in all three channels, so geometry goldens can be written as one plane."""
    return np.repeat(np.asarray(plane, dtype=np.uint8)[:, :, None], 3, axis=2)


def test_when_area_resize_halves_image_expect_block_means() -> None:
    image = gray_to_rgb([[0, 2, 10, 10],
                         [4, 6, 10, 10],
                         [1, 1, 0, 0],
                         [1, 1, 0, 4]])
    out = ImagePreprocessor(camera((2, 2)))(image)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, :, 0], [[3, 10], [1, 1]])


def test_when_nearest_resize_doubles_image_expect_repeated_pixels() -> None:
    image = gray_to_rgb([[1, 2],
                         [3, 4]])
    out = ImagePreprocessor(camera((4, 4), interpolation=Interpolation.NEAREST))(image)
    np.testing.assert_array_equal(out[0, :, :, 0], [[1, 1, 2, 2],
                                                    [1, 1, 2, 2],
                                                    [3, 3, 4, 4],
                                                    [3, 3, 4, 4]])


def test_when_center_crop_of_wide_image_expect_middle_columns() -> None:
    image = gray_to_rgb([[9, 1, 2, 3, 4, 9],
                         [9, 5, 6, 7, 8, 9]])
    out = ImagePreprocessor(camera((2, 2), resize=ResizeMode.CENTER_CROP, interpolation=Interpolation.NEAREST))(image)
    # crop keeps columns 2..3 (a 2x2 square in the middle of 2x6); no resize needed afterwards
    np.testing.assert_array_equal(out[0, :, :, 0], [[2, 3], [6, 7]])


def test_when_center_crop_boxes_are_computed_expect_centered_squares() -> None:
    assert center_crop_box((480, 640), (224, 224)) == (0, 80, 480, 480)
    assert center_crop_box((640, 480), (224, 224)) == (80, 0, 480, 480)
    assert center_crop_box((100, 100), (50, 100)) == (25, 0, 50, 100)


def test_when_letterbox_wide_image_expect_padded_rows() -> None:
    image = gray_to_rgb([[1, 2, 3, 4],
                         [5, 6, 7, 8]])
    out = ImagePreprocessor(camera((4, 4), resize=ResizeMode.LETTERBOX, pad_value=7))(image)
    np.testing.assert_array_equal(out[0, :, :, 0], [[7, 7, 7, 7],
                                                    [1, 2, 3, 4],
                                                    [5, 6, 7, 8],
                                                    [7, 7, 7, 7]])


def test_when_letterbox_needs_downscale_expect_area_means_on_top_row() -> None:
    image = gray_to_rgb([[0, 2, 8, 8],
                         [4, 6, 8, 8]])
    out = ImagePreprocessor(camera((2, 2), resize=ResizeMode.LETTERBOX, pad_value=0))(image)
    assert letterbox_placement((2, 4), (2, 2)) == (0, 0, 1, 2)
    np.testing.assert_array_equal(out[0, :, :, 0], [[3, 8], [0, 0]])


def test_when_color_order_is_bgr_expect_channels_swapped() -> None:
    image = np.zeros((1, 1, 3), dtype=np.uint8)
    image[0, 0] = (10, 20, 30)  # RGB in
    out = ImagePreprocessor(camera((1, 1), color_order=ColorOrder.BGR))(image)
    np.testing.assert_array_equal(out[0, 0, 0], [30, 20, 10])


def test_when_float_nchw_with_mean_std_expect_golden_values() -> None:
    image = np.array([[[0, 51, 255], [255, 0, 102]]], dtype=np.uint8)  # 1x2, RGB
    spec = camera((1, 2), layout=Layout.NCHW, dtype="float32", scale=1 / 255, mean=(0.5, 0.5, 0.5),
                  std=(0.5, 0.25, 0.5))
    out = ImagePreprocessor(spec)(image)
    assert out.shape == (1, 3, 1, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    # (x / 255 - 0.5) / std per channel: R=[0,255], G=[51,0] (std 0.25), B=[255,102]
    golden = np.array([[[[-1.0, 1.0]], [[-1.2, -2.0]], [[1.0, -0.2]]]], dtype=np.float32)
    np.testing.assert_allclose(out, golden, atol=1e-6)


def test_when_dtype_is_float16_expect_half_precision_values() -> None:
    image = np.full((2, 2, 3), 255, dtype=np.uint8)
    out = ImagePreprocessor(camera((2, 2), dtype="float16", scale=1 / 255))(image)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), 1.0, atol=1e-3)


@pytest.mark.parametrize(("image", "reason"), [
    (np.zeros((4, 4), dtype=np.uint8), "HxWx3 uint8"),
    (np.zeros((4, 4, 4), dtype=np.uint8), "HxWx3 uint8"),
    (np.zeros((4, 4, 3), dtype=np.float32), "HxWx3 uint8"),
    ("not an image", "numpy image"),
])
def test_when_image_is_malformed_expect_input_error(image: object, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        ImagePreprocessor(camera((2, 2)))(image)


def test_when_source_size_is_fixed_and_image_differs_expect_input_error() -> None:
    prep = ImagePreprocessor(camera((2, 2), source_size=(4, 4)))
    prep(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(InputError, match=r"requires 4x4 \(HxW\) images, got 4x6"):
        prep(np.zeros((4, 6, 3), dtype=np.uint8))


def state_spec(norm: Normalization, dim: int = 2) -> StateInput:
    return StateInput("state", dim, "float32", norm)


def test_when_state_uses_mean_std_with_mask_expect_only_masked_dims_normalized() -> None:
    norm = Normalization(NormalizationKind.MEAN_STD, mean=np.array([1.0, 1.0]), std=np.array([2.0, 2.0]),
                         mask=np.array([True, False]))
    out = StatePreprocessor(state_spec(norm))([3.0, 3.0])
    assert out.dtype == np.float32 and out.shape == (1, 2)
    np.testing.assert_allclose(out, [[1.0, 3.0]])


def test_when_state_uses_bounds_expect_minus_one_to_one() -> None:
    norm = Normalization(NormalizationKind.BOUNDS, low=np.array([0.0, -2.0]), high=np.array([10.0, 2.0]),
                         mask=np.array([True, True]))
    prep = StatePreprocessor(state_spec(norm))
    np.testing.assert_allclose(prep([0.0, 2.0]), [[-1.0, 1.0]], atol=1e-7)
    np.testing.assert_allclose(prep([5.0, 0.0]), [[0.0, 0.0]], atol=1e-7)


@pytest.mark.parametrize(("state", "reason"), [
    (None, "needs a 2-dimensional joint state"),
    ([1.0, 2.0, 3.0], r"expected 2 joint positions, got shape \(3,\)"),
    ([1.0, float("nan")], "non-finite"),
])
def test_when_state_is_unusable_expect_input_error(state: object, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        StatePreprocessor(state_spec(Normalization(NormalizationKind.NONE)))(state)


@settings(max_examples=40, deadline=None)
@given(src_h=st.integers(1, 64), src_w=st.integers(1, 64), dst_h=st.integers(1, 32), dst_w=st.integers(1, 32),
       mode=st.sampled_from(list(ResizeMode)), layout=st.sampled_from(list(Layout)))
def test_when_any_source_size_expect_exact_target_tensor_shape(src_h: int, src_w: int, dst_h: int, dst_w: int,
                                                               mode: ResizeMode, layout: Layout) -> None:
    spec = camera((dst_h, dst_w), resize=mode, layout=layout, dtype="float32", scale=1 / 255)
    out = ImagePreprocessor(spec)(np.full((src_h, src_w, 3), 255, dtype=np.uint8))
    assert out.shape == ((1, 3, dst_h, dst_w) if layout is Layout.NCHW else (1, dst_h, dst_w, 3))
    if mode is not ResizeMode.LETTERBOX:  # letterbox pads with 0; the others only ever see white pixels
        np.testing.assert_allclose(out, 1.0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-100, 100), min_size=3, max_size=3),
       kind=st.sampled_from([NormalizationKind.MEAN_STD, NormalizationKind.BOUNDS]),
       mask=st.lists(st.booleans(), min_size=3, max_size=3))
def test_when_state_normalized_then_unnormalized_expect_round_trip(values: list[float], kind: NormalizationKind,
                                                                   mask: list[bool]) -> None:
    from vla_ros.model.decoding import unnormalize

    norm = Normalization(kind, mean=np.array([1.0, -2.0, 0.5]), std=np.array([0.5, 3.0, 1.0]),
                         low=np.array([-1.0, 0.0, -5.0]), high=np.array([1.0, 2.0, 5.0]), mask=np.array(mask))
    x = np.asarray(values)
    normalized = AffineNormalizer(norm, 3).normalize(x)
    np.testing.assert_allclose(unnormalize(normalized, norm), x, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(normalized[~np.array(mask)], x[~np.array(mask)])


@pytest.mark.parametrize("layout", [Layout.NCHW, Layout.NHWC])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("color_order", [ColorOrder.RGB, ColorOrder.BGR])
def test_when_normalizing_per_channel_expect_bit_identical_to_the_broadcast_formula(layout, dtype,
                                                                                   color_order) -> None:
    """The fast per-channel path must give exactly float32(x) * scale/std - mean/std, in the declared layout."""
    spec = camera((30, 40), layout=layout, dtype=dtype, color_order=color_order, scale=1 / 255,
                  mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    image = np.random.default_rng(3).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    pixels = image[..., ::-1] if color_order is ColorOrder.BGR else image
    std = np.asarray(spec.std, dtype=np.float32)
    reference = pixels.astype(np.float32) * (np.float32(spec.scale) / std).astype(np.float32) \
        + (-np.asarray(spec.mean, dtype=np.float32) / std).astype(np.float32)
    reference = reference.astype(np.dtype(dtype))
    if layout is Layout.NCHW:
        reference = reference.transpose(2, 0, 1)
    tensor = ImagePreprocessor(spec)(image)
    assert tensor.dtype == np.dtype(dtype) and tensor.flags.c_contiguous
    np.testing.assert_array_equal(tensor, reference[None])
