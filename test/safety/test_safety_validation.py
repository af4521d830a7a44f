"""S3 chunk validation and instruction validation."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.safety import validate_chunk, validate_instruction


def test_when_chunk_is_finite_and_shaped_expect_accepted():
    assert validate_chunk(np.zeros((10, 7)), (10, 7)) is None
    assert validate_chunk(np.zeros((3, 7), dtype=np.float32), (-1, 7)) is None


@pytest.mark.parametrize(("actions", "expected_shape", "words"), [
    (np.array([[0.0, np.nan]]), (1, 2), "non-finite"),
    (np.array([[0.0, np.inf]]), (1, 2), "non-finite"),
    (np.array([[0.0, -np.inf]]), (1, 2), "non-finite"),
    (np.zeros((10, 6)), (10, 7), "shape"),
    (np.zeros((9, 7)), (10, 7), "shape"),
    (np.zeros(70), (10, 7), "shape"),
    (np.zeros((0, 7)), (-1, 7), "empty"),
    (np.array([["a"] * 7] * 10), (10, 7), "numeric"),
    ([[0.0] * 7] * 10, (10, 7), "numpy array"),
])
def test_when_chunk_is_unusable_expect_reason(actions, expected_shape, words):
    reason = validate_chunk(actions, expected_shape)
    assert reason is not None and words in reason


def test_when_chunk_has_nan_expect_reason_names_the_index():
    actions = np.zeros((4, 3))
    actions[2, 1] = np.nan
    assert "(2, 1)" in validate_chunk(actions, (4, 3))


def test_when_instruction_is_plain_expect_unchanged():
    assert validate_instruction("pick up the red cube", 512) == ("pick up the red cube", "")


def test_when_instruction_has_control_characters_expect_stripped():
    text, reason = validate_instruction("pick\x00 up\tthe\x1b[31m red\ncube\x7f ", 512)
    assert reason == ""
    assert text == "pick up the[31m red cube"


def test_when_instruction_is_bytes_in_utf8_expect_decoded():
    assert validate_instruction("greife den Würfel".encode(), 512) == ("greife den Würfel", "")


def test_when_instruction_bytes_are_invalid_utf8_expect_rejected():
    text, reason = validate_instruction(b"pick \xff\xfe up", 512)
    assert text is None and "UTF-8" in reason


def test_when_instruction_str_holds_surrogates_expect_rejected():
    text, reason = validate_instruction(b"pick \xff up".decode("utf-8", "surrogateescape"), 512)
    assert text is None and "UTF-8" in reason


def test_when_instruction_too_long_expect_rejected_with_length():
    text, reason = validate_instruction("a" * 513, 512)
    assert text is None and "513" in reason and "512" in reason
    assert validate_instruction("a" * 512, 512) == ("a" * 512, "")


def test_when_instruction_is_empty_or_whitespace_expect_empty_text_meaning_stop():
    assert validate_instruction("", 512) == ("", "")
    assert validate_instruction(" \n\t ", 512) == ("", "")
