"""The in-place Image/CompressedImage readers agree with rclpy's own deserialization on every field."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image

from vla_ros.inputs.cdr import CdrError, parse_compressed_image, parse_image

# ROS strings are NUL-terminated C strings: an embedded NUL cannot round-trip through rclpy either. Lone
# surrogates (category Cs) are not encodable as UTF-8, so rclpy cannot serialize them at all.
ROS_TEXT = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))


@settings(max_examples=200, deadline=None)
@given(sec=st.integers(-(2**31), 2**31 - 1), nanosec=st.integers(0, 999_999_999),
       frame_id=st.text(ROS_TEXT, max_size=20),
       height=st.integers(0, 2**32 - 1), width=st.integers(0, 2**32 - 1), encoding=st.text(ROS_TEXT, max_size=12),
       is_bigendian=st.integers(0, 1), step=st.integers(0, 2**32 - 1), data=st.binary(max_size=300))
def test_parse_image_matches_rclpy_for_any_field_values(sec, nanosec, frame_id, height, width, encoding,
                                                        is_bigendian, step, data) -> None:
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=is_bigendian, step=step, data=data)
    msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = sec, nanosec, frame_id
    parsed = parse_image(serialize_message(msg))
    assert (parsed.height, parsed.width, parsed.step, parsed.is_bigendian) == (height, width, step, is_bigendian)
    assert parsed.encoding == encoding and parsed.frame_id == frame_id
    assert parsed.stamp == pytest.approx(sec + nanosec * 1e-9)
    assert bytes(parsed.data) == data


@settings(max_examples=100, deadline=None)
@given(frame_id=st.text(ROS_TEXT, max_size=9), fmt=st.text(ROS_TEXT, max_size=30),
       data=st.binary(max_size=200))
def test_parse_compressed_image_matches_rclpy(frame_id, fmt, data) -> None:
    msg = CompressedImage(format=fmt, data=data)
    msg.header.frame_id = frame_id
    parsed = parse_compressed_image(serialize_message(msg))
    assert parsed.format == fmt and parsed.frame_id == frame_id and bytes(parsed.data) == data


def test_parsed_pixels_are_a_view_not_a_copy() -> None:
    payload = np.arange(12, dtype=np.uint8).tobytes()
    serialized = serialize_message(Image(height=2, width=2, encoding="rgb8", step=6, data=payload))
    parsed = parse_image(serialized)
    assert parsed.data.obj is serialized


@pytest.mark.parametrize("cut", [3, 10, 30])
def test_when_serialized_image_truncated_expect_cdr_error(cut: int) -> None:
    serialized = serialize_message(Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(12)))
    with pytest.raises(CdrError):
        parse_image(serialized[:-cut] if cut < len(serialized) else serialized[:3])
