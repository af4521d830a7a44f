from __future__ import annotations

import math

import numpy as np
import pytest

from vla_ros.inputs.cdr import CdrError, string_payload_bytes
from vla_ros.inputs.joint_state import JointStateError, JointStateReorderer

JOINTS = ["a", "b", "c"]


def test_when_names_shuffled_expect_reordered_to_joint_names() -> None:
    reorderer = JointStateReorderer(JOINTS)
    np.testing.assert_array_equal(reorderer.reorder(["c", "a", "b"], [3.0, 1.0, 2.0]), [1.0, 2.0, 3.0])


def test_when_extra_joints_expect_ignored() -> None:
    reorderer = JointStateReorderer(JOINTS)
    np.testing.assert_array_equal(reorderer.reorder(["x", "a", "b", "c"], [9.0, 1.0, 2.0, 3.0]), [1.0, 2.0, 3.0])


def test_when_name_order_changes_between_messages_expect_cache_not_reused() -> None:
    reorderer = JointStateReorderer(JOINTS)
    reorderer.reorder(["a", "b", "c"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(reorderer.reorder(["b", "c", "a"], [2.0, 3.0, 1.0]), [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("names", "positions", "message"),
    [
        (["a", "b"], [1.0, 2.0], r"missing joints \['c'\]"),
        (["a", "b", "b", "c"], [1.0, 2.0, 2.0, 3.0], r"duplicated joint names \['b'\]"),
        (["a", "b", "c"], [1.0, math.nan, 3.0], r"non-finite positions for \['b'\]"),
        (["a", "b", "c"], [1.0, math.inf, 3.0], "non-finite"),
        (["a", "b", "c"], [1.0, 2.0], "3 names but 2 positions"),
    ],
)
def test_when_joint_state_bad_expect_error_naming_the_problem(names, positions, message) -> None:
    with pytest.raises(JointStateError, match=message):
        JointStateReorderer(JOINTS).reorder(names, positions)


def test_when_cdr_string_expect_raw_bytes_even_if_invalid_utf8() -> None:
    little_endian = b"\x00\x01\x00\x00" + (3).to_bytes(4, "little") + b"\xff\xfe\x00"
    assert string_payload_bytes(little_endian) == b"\xff\xfe"
    big_endian = b"\x00\x00\x00\x00" + (3).to_bytes(4, "big") + b"hi\x00"
    assert string_payload_bytes(big_endian) == b"hi"


def test_when_cdr_truncated_expect_error() -> None:
    with pytest.raises(CdrError):
        string_payload_bytes(b"\x00\x01\x00\x00" + (50).to_bytes(4, "little") + b"abc")
