"""The wire encoding against openpi-client's own msgpack_numpy, both directions, and what it refuses."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from vla_ros.model.remote import codec

openpi_msgpack = pytest.importorskip("openpi_client.msgpack_numpy", reason="pip install --no-deps -r "
                                     "requirements-openpi.txt")


def _droid_like() -> dict:
    rng = np.random.default_rng(0)
    return {
        "observation/exterior_image_1_left": rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
        "observation/wrist_image_left": rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
        "observation/joint_position": rng.random(7),
        "observation/gripper_position": rng.random(1).astype(np.float32),
        "images": {"cam_high": rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)},
        "prompt": "pick up the red block",
        "scalar": np.float32(1.5),
        "count": 3,
    }


def _assert_same(a: object, b: object) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)


def test_when_we_pack_expect_openpi_client_unpacks_the_same_arrays() -> None:
    message = _droid_like()
    _assert_same(message, openpi_msgpack.unpackb(codec.pack(message)))


def test_when_openpi_client_packs_expect_we_unpack_the_same_arrays() -> None:
    message = _droid_like()
    reply = {"actions": np.random.default_rng(1).random((10, 8)), "server_timing": {"infer_ms": 12.5}}
    _assert_same(message, codec.unpack(openpi_msgpack.Packer().pack(message)))
    _assert_same(reply, codec.unpack(openpi_msgpack.packb(reply)))


def test_when_we_pack_expect_the_same_bytes_as_openpi_client() -> None:
    message = _droid_like()
    assert codec.pack(message) == openpi_msgpack.packb(message)


@pytest.mark.parametrize("tagged, reason", [
    ({b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "|O", b"shape": [1]}, "not allowed"),
    ({b"__ndarray__": True, b"data": b"\0" * 7, b"dtype": "<f8", b"shape": [1]}, "needs 8 bytes"),
    ({b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "<f8", b"shape": [-1]}, "non-negative"),
    ({b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "nonsense", b"shape": [1]}, "not a numpy dtype"),
])
def test_when_an_array_is_malformed_or_an_object_array_expect_wire_format_error(tagged: dict, reason: str) -> None:
    frame = msgpack.packb({"actions": tagged}, use_bin_type=True)
    with pytest.raises(codec.WireFormatError, match=reason):
        codec.unpack(frame)


def test_when_bytes_are_not_msgpack_expect_wire_format_error() -> None:
    with pytest.raises(codec.WireFormatError):
        codec.unpack(b"\xc1\xc1\xc1")


def test_when_packing_an_object_array_expect_refused() -> None:
    with pytest.raises(codec.WireFormatError):
        codec.pack({"bad": np.array([object()], dtype=object)})
