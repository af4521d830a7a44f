"""Read a std_msgs/String straight from its CDR bytes.

rclpy decodes String payloads with errors='replace', so invalid UTF-8 would silently become U+FFFD and reach
the model. The instruction subscription therefore takes the raw serialized bytes and validates them itself.
"""

from __future__ import annotations

import struct


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
