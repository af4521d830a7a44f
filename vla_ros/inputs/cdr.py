"""Read a few messages straight from their serialized (CDR) bytes.

- std_msgs/String: rclpy decodes with errors='replace', so invalid UTF-8 would silently become U+FFFD and
  reach the model; the instruction subscription takes the raw bytes and validates them itself.
- sensor_msgs/Image and CompressedImage: the pixels are viewed in place instead of copied while holding the
  GIL (see parse_image).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


class CdrError(ValueError):
    """The serialized message is malformed."""


def string_payload_bytes(serialized: bytes) -> bytes:
    """The bytes of the single string field of a serialized std_msgs/String (without the trailing NUL)."""
    if len(serialized) < 8:
        raise CdrError(f"serialized String too short ({len(serialized)} bytes)")
    # Encapsulation header: 2-byte scheme id (0x0000 CDR big-endian, 0x0001 CDR little-endian), 2 option bytes.
    scheme = serialized[1]
    byte_order = "<" if scheme & 0x01 else ">"
    (length,) = struct.unpack_from(f"{byte_order}I", serialized, 4)
    body = serialized[8 : 8 + length]
    if length == 0 or len(body) != length:
        raise CdrError(f"serialized String declares {length} bytes but carries {len(serialized) - 8}")
    return body[:-1] if body.endswith(b"\x00") else body


class _Reader:
    """Sequential CDR (XCDR1) reader; alignment is relative to the payload after the 4-byte header."""

    def __init__(self, serialized: bytes) -> None:
        if len(serialized) < 4:
            raise CdrError(f"serialized message too short ({len(serialized)} bytes)")
        self.buffer = serialized
        self.order = "<" if serialized[1] & 0x01 else ">"
        self.offset = 4

    def _align(self, size: int) -> None:
        self.offset += (-(self.offset - 4)) % size

    def uint32(self) -> int:
        self._align(4)
        if self.offset + 4 > len(self.buffer):
            raise CdrError("serialized message truncated")
        (value,) = struct.unpack_from(f"{self.order}I", self.buffer, self.offset)
        self.offset += 4
        return value

    def int32(self) -> int:
        value = self.uint32()
        return value - (1 << 32) if value >= 1 << 31 else value

    def uint8(self) -> int:
        if self.offset + 1 > len(self.buffer):
            raise CdrError("serialized message truncated")
        value = self.buffer[self.offset]
        self.offset += 1
        return value

    def header(self) -> tuple[float, str]:
        """std_msgs/Header: (stamp in seconds, frame_id)."""
        sec = self.int32()
        nanosec = self.uint32()
        return sec + nanosec * 1e-9, self.string()

    def string(self) -> str:
        raw = self.octets()
        return bytes(raw).rstrip(b"\x00").decode("utf-8", errors="replace")

    def octets(self) -> bytes | memoryview:
        length = self.uint32()
        end = self.offset + length
        if end > len(self.buffer):
            raise CdrError(f"sequence of {length} bytes runs past the end of the message")
        view = memoryview(self.buffer)[self.offset:end]
        self.offset = end
        return view


@dataclass(frozen=True)
class RawImage:
    """The fields of a serialized sensor_msgs/Image (data is a zero-copy view into the message buffer)."""

    stamp: float
    frame_id: str
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


def parse_image(serialized: bytes) -> RawImage:
    """sensor_msgs/Image from its CDR bytes without building a Python message.

    rclpy's own deserialization copies the pixels into an array.array while holding the GIL (~1 ms for
    640x480 here), which the control thread then waits for; this view costs a few microseconds.
    """
    reader = _Reader(serialized)
    stamp, frame_id = reader.header()
    height = reader.uint32()
    width = reader.uint32()
    encoding = reader.string()
    is_bigendian = reader.uint8()
    step = reader.uint32()
    data = reader.octets()
    return RawImage(stamp, frame_id, height, width, encoding, is_bigendian, step, data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RawCompressedImage:
    stamp: float
    frame_id: str
    format: str
    data: memoryview


def parse_compressed_image(serialized: bytes) -> RawCompressedImage:
    reader = _Reader(serialized)
    stamp, frame_id = reader.header()
    fmt = reader.string()
    data = reader.octets()
    return RawCompressedImage(stamp, frame_id, fmt, data)  # type: ignore[arg-type]
