"""Frames through shared memory (vla_ros.inputs.shared_frames): what the camera child hands vla_node."""

from __future__ import annotations

import dataclasses
import multiprocessing

import numpy as np
import pytest

from vla_ros.inputs.shared_frames import FrameSlotReader, FrameSlotWriter, SharedFrameError


def _frame(value: int, shape=(48, 64, 3)) -> np.ndarray:
    rng = np.random.default_rng(value)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def test_when_a_frame_is_written_expect_the_reader_gets_an_identical_private_copy() -> None:
    writer, reader = FrameSlotWriter("front"), FrameSlotReader()
    image = _frame(1)
    notice = writer.write(image, stamp=12.5)
    assert notice is not None and notice.stamp == 12.5 and notice.camera == "front"
    copy = reader.read(notice)
    np.testing.assert_array_equal(copy, image)
    writer.release(reader.release(notice))
    for value in range(2, 8):  # every slot rewritten: the copy already taken must not change
        writer.release(reader.release(writer.write(_frame(value), stamp=float(value))))
    np.testing.assert_array_equal(copy, image)
    writer.close()
    reader.close()


def test_when_every_slot_is_out_expect_new_frames_dropped_until_one_is_released() -> None:
    writer, reader = FrameSlotWriter("front", slots=2), FrameSlotReader()
    first, second = writer.write(_frame(1), 1.0), writer.write(_frame(2), 2.0)
    assert first is not None and second is not None and first.slot != second.slot
    assert writer.write(_frame(3), 3.0) is None  # never overwrite a slot the reader may be copying
    assert writer.dropped == 1
    writer.release(reader.release(first))
    third = writer.write(_frame(3), 3.0)
    assert third is not None and third.slot == first.slot
    np.testing.assert_array_equal(reader.read(second), _frame(2))  # the unreleased slot is untouched
    np.testing.assert_array_equal(reader.read(third), _frame(3))
    writer.close()
    reader.close()


def test_when_a_bigger_frame_arrives_expect_a_new_buffer_and_the_in_flight_notice_still_readable() -> None:
    writer, reader = FrameSlotWriter("front"), FrameSlotReader()
    small = writer.write(_frame(1, (24, 32, 3)), 1.0)
    big = writer.write(_frame(2, (96, 128, 3)), 2.0)
    assert small is not None and big is not None and big.generation == small.generation + 1
    np.testing.assert_array_equal(reader.read(small), _frame(1, (24, 32, 3)))  # read after the switch
    np.testing.assert_array_equal(reader.read(big), _frame(2, (96, 128, 3)))
    writer.release(reader.release(small))  # a release of the old buffer must not free a slot of the new one
    assert writer.write(_frame(3, (96, 128, 3)), 3.0).slot != big.slot
    writer.close()
    reader.close()


@pytest.mark.parametrize("shape,dtype", [((30, 40), np.uint8), ((30, 40, 3), np.float32), ((5, 7, 4), np.uint16)])
def test_when_frames_are_not_rgb8_expect_shape_and_dtype_preserved(shape, dtype) -> None:
    writer, reader = FrameSlotWriter("depth"), FrameSlotReader()
    image = (np.arange(int(np.prod(shape))) % 251).astype(dtype).reshape(shape)
    copy = reader.read(writer.write(image, 0.5))
    assert copy.dtype == dtype and copy.shape == shape
    np.testing.assert_array_equal(copy, image)
    writer.close()
    reader.close()


def test_when_a_notice_names_a_buffer_that_is_gone_or_replaced_expect_a_clear_error() -> None:
    writer, reader = FrameSlotWriter("front"), FrameSlotReader()
    notice = writer.write(_frame(1), 1.0)
    with pytest.raises(SharedFrameError, match="not the buffer of generation"):
        reader.read(dataclasses.replace(notice, buffer_bytes=notice.buffer_bytes + 1, generation=99))
    with pytest.raises(SharedFrameError, match="does not fit"):
        reader.read(dataclasses.replace(notice, shape=(480, 640, 3)))
    with pytest.raises(SharedFrameError, match="cannot map"):
        reader.read(dataclasses.replace(notice, location="/proc/self/fd/999999", generation=100))
    writer.close()
    reader.close()


def _write_in_child(connection) -> None:
    writer = FrameSlotWriter("front")
    notice = writer.write(_frame(7, (480, 640, 3)), 7.0)
    connection.send(notice)
    connection.recv()  # the reader has copied it; the buffer may go
    writer.close()


def test_when_the_writer_is_another_process_expect_the_frame_read_through_its_memfd() -> None:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_write_in_child, args=(child,))
    process.start()
    try:
        notice = parent.recv()
        reader = FrameSlotReader()
        np.testing.assert_array_equal(reader.read(notice), _frame(7, (480, 640, 3)))
        parent.send(reader.release(notice))
        reader.close()
    finally:
        process.join(timeout=10)
    assert process.exitcode == 0
