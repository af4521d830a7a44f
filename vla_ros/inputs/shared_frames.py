"""Camera frames handed from one process to another through shared memory, without ROS.

vla_node receives its cameras in a child process (vla_ros.ros.camera_receiver) so that taking a ~1 MB message
out of DDS and converting it never holds the GIL its control thread needs. The child writes each decoded frame
into a slot of a shared-memory buffer and sends a small notice over a socket; the node copies the pixels out
(numpy releases the GIL for that copy) and gives the slot back over the same socket.

Ownership of a slot passes only through socket messages, so the two processes never touch a slot at the same
time and no memory-ordering assumption is needed (weakly ordered CPUs such as a Jetson's included): the writer
fills a slot it owns, then sends "frame"; the reader copies it, then sends "free". With every slot out, the
writer drops the new frame rather than overwrite one being read.

    writer = FrameSlotWriter("front", slots=3)        # in the receiving process
    notice = writer.write(rgb, stamp)                # None: no free slot (the reader is behind)
    connection.send(notice)
    reader = FrameSlotReader()                       # in vla_node
    camera, image, stamp = reader.read(notice)       # a private copy
    connection.send(FrameSlotReader.release(notice))
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import numpy as np

# Three slots: one being read, one just written, one free for the next frame. A reader more than two frames
# behind is stalled, and the frames it would miss are stale anyway.
DEFAULT_SLOTS = 3


class SharedFrameError(RuntimeError):
    """The shared buffer named in a notice cannot be used; the message says why."""


@dataclass(frozen=True)
class FrameNotice:
    """Sent writer -> reader: frame `sequence` of `camera` is in `slot` of the buffer at `location`."""

    camera: str
    location: str  # /proc/<writer pid>/fd/<memfd>: readable by the same user while the writer lives
    generation: int  # a new buffer (a bigger frame) gets a new generation; frees of old ones are ignored
    slot: int
    slot_bytes: int
    buffer_bytes: int  # checked on mapping: a location whose fd number was reused cannot pass for this buffer
    shape: tuple[int, ...]
    dtype: str
    stamp: float
    sequence: int


@dataclass(frozen=True)
class SlotRelease:
    """Sent reader -> writer: the reader has copied the frame out of this slot."""

    camera: str
    generation: int
    slot: int


class FrameSlotWriter:
    """One camera's shared buffer of `slots` frame slots, owned by the writing process."""

    def __init__(self, camera: str, slots: int = DEFAULT_SLOTS) -> None:
        if slots < 1:
            raise ValueError(f"slots={slots}: expected at least 1")
        self.camera = camera
        self._slot_count = slots
        self._fd: int | None = None
        self._mapping: mmap.mmap | None = None
        self._previous: tuple[int, mmap.mmap] | None = None
        self._slot_bytes = 0
        self._generation = 0
        self._free: list[int] = []
        self._sequence = 0
        self.dropped = 0  # frames not handed over because every slot was out

    def write(self, image: np.ndarray, stamp: float) -> FrameNotice | None:
        """Copy `image` into a free slot; None when none is free (counted in `dropped`)."""
        image = np.ascontiguousarray(image)
        if self._mapping is None or image.nbytes > self._slot_bytes:
            self._allocate(max(image.nbytes, 1))
        if not self._free:
            self.dropped += 1
            return None
        assert self._mapping is not None
        slot = self._free.pop(0)
        start = slot * self._slot_bytes
        destination = np.frombuffer(self._mapping, dtype=np.uint8, count=image.nbytes, offset=start)
        destination[...] = image.reshape(-1).view(np.uint8)
        self._sequence += 1
        return FrameNotice(self.camera, f"/proc/{os.getpid()}/fd/{self._fd}", self._generation, slot,
                           self._slot_bytes, len(self._mapping), tuple(image.shape), image.dtype.str,
                           float(stamp), self._sequence)

    def release(self, release: SlotRelease) -> None:
        """The reader is done with a slot; releases of an older buffer are ignored."""
        if release.generation == self._generation and release.slot not in self._free \
                and 0 <= release.slot < self._slot_count:
            self._free.append(release.slot)

    def _allocate(self, slot_bytes: int) -> None:
        """A new buffer for frames of up to `slot_bytes`.

        The previous buffer stays open one generation longer, so a notice still in flight names a live buffer,
        and its fd number cannot be reused for the new one meanwhile.
        """
        fd = os.memfd_create(f"vla_camera_{self.camera}", os.MFD_CLOEXEC)
        os.ftruncate(fd, slot_bytes * self._slot_count)
        mapping = mmap.mmap(fd, slot_bytes * self._slot_count)
        self._close_previous()
        if self._fd is not None and self._mapping is not None:
            self._previous = (self._fd, self._mapping)
        self._fd, self._mapping = fd, mapping
        self._slot_bytes = slot_bytes
        self._generation += 1
        self._free = list(range(self._slot_count))

    def _close_previous(self) -> None:
        if self._previous is not None:
            self._previous[1].close()
            os.close(self._previous[0])
            self._previous = None

    def close(self) -> None:
        self._close_previous()
        if self._mapping is not None:
            self._mapping.close()
            self._mapping = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class FrameSlotReader:
    """Maps writers' buffers (one per camera and generation) and copies frames out of them."""

    def __init__(self) -> None:
        self._mapped: dict[str, tuple[int, mmap.mmap]] = {}  # camera -> (generation, mapping)

    def read(self, notice: FrameNotice) -> np.ndarray:
        """A private copy of the frame named by `notice`."""
        mapping = self._mapping_for(notice)
        dtype = np.dtype(notice.dtype)
        count = int(np.prod(notice.shape))
        offset = notice.slot * notice.slot_bytes
        if count * dtype.itemsize > notice.slot_bytes or offset + notice.slot_bytes > len(mapping) \
                or notice.slot < 0:
            raise SharedFrameError(f"camera {notice.camera!r}: frame of {count * dtype.itemsize} bytes does not "
                                   f"fit slot {notice.slot} of a {len(mapping)}-byte buffer")
        source = np.frombuffer(mapping, dtype=dtype, count=count, offset=offset).reshape(notice.shape)
        return source.copy()  # numpy releases the GIL for the copy itself

    @staticmethod
    def release(notice: FrameNotice) -> SlotRelease:
        return SlotRelease(notice.camera, notice.generation, notice.slot)

    def _mapping_for(self, notice: FrameNotice) -> mmap.mmap:
        known = self._mapped.get(notice.camera)
        if known is not None and known[0] == notice.generation:
            return known[1]
        try:
            with open(notice.location, "rb") as shared:
                mapping = mmap.mmap(shared.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as error:
            raise SharedFrameError(f"camera {notice.camera!r}: cannot map {notice.location}: {error}") from error
        if len(mapping) != notice.buffer_bytes:
            mapping.close()
            raise SharedFrameError(f"camera {notice.camera!r}: {notice.location} is not the buffer of generation "
                                   f"{notice.generation} (the writer replaced it)")
        if known is not None:
            known[1].close()
        self._mapped[notice.camera] = (notice.generation, mapping)
        return mapping

    def close(self) -> None:
        for _, mapping in self._mapped.values():
            mapping.close()
        self._mapped.clear()
