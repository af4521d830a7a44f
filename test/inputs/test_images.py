"""Image payload conversion: every accepted encoding, padded rows, and each way a message can lie."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vla_ros.inputs.images import (
    SUPPORTED_ENCODINGS,
    ImageError,
    decode_compressed_image,
    decode_raw_image,
    encode_raw_image,
)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "8UC3", "rgba8", "bgra8"])
def test_when_color_encoding_expect_exact_rgb(encoding: str) -> None:
    payload, step = encode_raw_image(RGB, encoding)
    decoded = decode_raw_image(encoding, 6, 5, step, payload)
    assert decoded.dtype == np.uint8 and decoded.shape == (6, 5, 3)
    np.testing.assert_array_equal(decoded, RGB)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_when_mono_encoding_expect_gray_replicated_to_three_channels(encoding: str) -> None:
    payload, step = encode_raw_image(RGB, encoding)
    decoded = decode_raw_image(encoding, 6, 5, step, payload)
    gray = cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[:, :, channel], gray)


def test_when_bgr8_expect_channels_swapped_not_copied_blindly() -> None:
    bgr = np.zeros((1, 1, 3), dtype=np.uint8)
    bgr[0, 0] = (255, 0, 0)  # pure blue in BGR order
    assert decode_raw_image("bgr8", 1, 1, 3, bgr.tobytes())[0, 0].tolist() == [0, 0, 255]


def test_when_rows_padded_expect_padding_dropped() -> None:
    padded = np.zeros((6, 5 * 3 + 4), dtype=np.uint8)
    padded[:, :15] = RGB.reshape(6, 15)
    padded[:, 15:] = 99
    decoded = decode_raw_image("rgb8", 6, 5, 19, padded.tobytes())
    np.testing.assert_array_equal(decoded, RGB)


def test_every_supported_encoding_round_trips() -> None:
    for encoding in SUPPORTED_ENCODINGS:
        payload, step = encode_raw_image(RGB, encoding)
        assert decode_raw_image(encoding, 6, 5, step, payload).shape == (6, 5, 3)


@pytest.mark.parametrize(
    ("encoding", "height", "width", "step", "size", "message"),
    [
        ("yuv422", 6, 5, 10, 60, "unsupported image encoding 'yuv422'"),
        ("16UC1", 6, 5, 10, 60, "unsupported image encoding"),
        ("rgb8", 6, 5, 15, 89, r"data length 89 != height\*step"),
        ("rgb8", 6, 5, 12, 72, "step 12 is smaller than"),
        ("rgb8", 0, 5, 15, 0, "no pixels"),
    ],
)
def test_when_header_disagrees_with_data_expect_clear_error(encoding, height, width, step, size, message) -> None:
    with pytest.raises(ImageError, match=message):
        decode_raw_image(encoding, height, width, step, bytes(size))


def test_when_jpeg_expect_decoded_rgb_close_to_source() -> None:
    smooth = np.zeros((32, 32, 3), dtype=np.uint8)
    smooth[:, :, 0] = 200  # red in RGB
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR))
    assert ok
    decoded = decode_compressed_image("jpeg", jpeg.tobytes())
    assert decoded.shape == (32, 32, 3)
    assert abs(int(decoded[:, :, 0].mean()) - 200) < 4 and decoded[:, :, 2].mean() < 4


@pytest.mark.parametrize("payload", [b"", b"not an image at all", bytes(1000)])
def test_when_compressed_garbage_expect_clear_error(payload: bytes) -> None:
    with pytest.raises(ImageError):
        decode_compressed_image("jpeg", payload)
