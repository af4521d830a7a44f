from __future__ import annotations

import numpy as np

from vla_ros.inputs.frames import Frame, FrameStore

IMAGE = np.zeros((2, 2, 3), dtype=np.uint8)


def test_when_one_camera_missing_expect_no_set_and_reason() -> None:
    store = FrameStore(["left", "right"], sync_tolerance=0.05)
    store.put("left", Frame(IMAGE, 1.0, 1.0))
    frame_set, why = store.synchronized()
    assert frame_set is None and "right" in why
    assert store.newest_stamp() is None


def test_when_stamps_within_tolerance_expect_set_stamped_with_oldest() -> None:
    store = FrameStore(["left", "right"], sync_tolerance=0.05)
    store.put("left", Frame(IMAGE, 1.00, 1.0))
    store.put("right", Frame(IMAGE, 1.03, 1.0))
    frame_set, _ = store.synchronized()
    assert frame_set is not None and frame_set.stamp == 1.00 and set(frame_set.frames) == {"left", "right"}


def test_when_stamps_too_far_apart_expect_no_set() -> None:
    store = FrameStore(["left", "right"], sync_tolerance=0.05)
    store.put("left", Frame(IMAGE, 1.0, 1.0))
    store.put("right", Frame(IMAGE, 1.2, 1.2))
    frame_set, why = store.synchronized()
    assert frame_set is None and "200 ms" in why


def test_when_new_frame_expect_sequence_advances() -> None:
    store = FrameStore(["front"], sync_tolerance=0.0)
    store.put("front", Frame(IMAGE, 1.0, 1.0))
    first, _ = store.synchronized()
    store.put("front", Frame(IMAGE, 1.1, 1.1))
    second, _ = store.synchronized()
    assert first is not None and second is not None and second.sequence > first.sequence
