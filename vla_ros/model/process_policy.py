"""ProcessPolicy: the same Policy, run in a child process so that its Python work cannot delay the control loop.

Inside one Python process every thread shares the GIL. Preprocessing a 640x480 frame, tokenizing and decoding are
many short numpy calls that each hold it, so the control thread waits behind them (`vla_bench rate` measured the
effect). In a child process they hold the child's GIL instead. What stays in the caller per inference: handing the
image bytes to a socket (the kernel copies them; the write releases the GIL) and unpickling a small action array.

    policy, selection = create_process_policy(package_root, "onnxruntime", RuntimeOptions())
    actions = policy.infer(observation)   # blocks this thread only; the GIL is free while it waits
    policy.close()

The child is `python -m vla_ros.model.inference_worker FD`, started through vla_ros.execution.child_process so that
it and all its threads run at normal scheduling; no multiprocessing re-import of the caller's
__main__ (rclpy stays out of the child). It exits when its socket closes, so it never outlives the caller.
Errors keep their meaning: an InputError in the child is an InputError here, a PolicyUnavailable (a remote policy
server out of reach, transient) a PolicyUnavailable; anything else, and the child dying,
raise InferenceWorkerError, which the pipeline treats as a model fault (hold until ~/reset). The next infer()
after the child died starts a new one.
"""

from __future__ import annotations

import mmap
import os
import socket
import subprocess
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.execution.child_process import child_command, wait_or_kill
from vla_ros.model.errors import InputError, ModelPackageError, PolicyUnavailable
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.runtime import BackendSelection

# Loading onnxruntime or torch and the model takes seconds; a worker silent for this long is broken.
STARTUP_TIMEOUT_S = 120.0


class InferenceWorkerError(RuntimeError):
    """The inference process failed or died; the message says how."""


class ImageSlots:
    """One shared-memory buffer per camera (a memfd), which the child maps through /proc/<our pid>/fd/<fd>.

    Nothing is left behind on a crash: a memfd has no name in the file system and is freed with its last user.
    The caller writes a slot only inside infer(), while the child is waiting for that request, and the child
    reads it only until it replies, so the two never touch a slot at the same time.
    """

    def __init__(self) -> None:
        self.shared = hasattr(os, "memfd_create")
        self._slots: dict[str, tuple[int, mmap.mmap, int]] = {}  # camera -> (fd, mapping, generation)
        self._generation = 0

    def put(self, camera: str, image: np.ndarray) -> tuple[str, int] | None:
        """Copies the image into the camera's slot; returns where the child finds it (None: sent in-band)."""
        if not self.shared:
            return None
        slot = self._slots.get(camera)
        if slot is None or len(slot[1]) < image.nbytes:
            self._drop(camera)
            fd = os.memfd_create(f"vla_image_{camera}", os.MFD_CLOEXEC)
            os.ftruncate(fd, max(image.nbytes, 1))
            self._generation += 1
            slot = (fd, mmap.mmap(fd, max(image.nbytes, 1)), self._generation)
            self._slots[camera] = slot
        fd, mapping, generation = slot
        np.frombuffer(mapping, dtype=image.dtype, count=image.size).reshape(image.shape)[...] = image
        return f"/proc/{os.getpid()}/fd/{fd}", generation

    def _drop(self, camera: str) -> None:
        slot = self._slots.pop(camera, None)
        if slot is not None:
            # The mapping is unmapped when its last array view goes; closing it under a live view would raise.
            os.close(slot[0])

    def close(self) -> None:
        for camera in list(self._slots):
            self._drop(camera)


class RemoteModelError(Exception):
    """The stack of a model error in the inference process, carried as the cause of InferenceWorkerError."""

    def __str__(self) -> str:
        return "in the inference process (most recent call last):\n" + str(self.args[0] if self.args else "")


class ProcessPolicy:
    """A ModelPolicy in a child process. Implements core.types.Policy; call infer() from one thread at a time."""

    def __init__(self, package_root: Path | str, backend: str, options: RuntimeOptions,
                 startup_timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        self._request = {"package": str(package_root), "backend": backend, "options": options}
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self.timings_ms: dict[str, float] = {}  # the child's stage timings plus "ipc" (the round trip's overhead)
        self._slots = ImageSlots()
        self.selection = self._start()

    # ----- process management -----
    def _start(self) -> BackendSelection:
        parent_end, child_end = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                child_command("vla_ros.model.inference_worker", str(child_end.fileno())),
                pass_fds=(child_end.fileno(),), env=child_environment())
        finally:
            child_end.close()
        self._connection = Connection(parent_end.detach())
        self._connection.send(self._request)
        if not self._connection.poll(self._startup_timeout_s):
            self.close()
            raise InferenceWorkerError(f"inference process did not load the model within {self._startup_timeout_s} s")
        reply = self._receive("while loading the model")
        if reply[0] == "error":
            self.close()
            kind, message = reply[1], reply[2]
            raise (ModelPackageError if kind == "package" else InferenceWorkerError)(message)
        return reply[1]

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and self._connection is not None

    def _ensure_running(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            self.close()
            # Reported once (a model fault: hold until ~/reset); the next call starts a new process.
            raise InferenceWorkerError(f"inference process exited (code {code}) between inferences")
        if not self._alive():
            self.close()
            self.selection = self._start()

    def _receive(self, during: str) -> Any:
        assert self._connection is not None
        try:
            return self._connection.recv()
        except (EOFError, OSError) as error:
            code = None if self._process is None else self._process.poll()
            self.close()
            raise InferenceWorkerError(f"inference process exited (code {code}) {during}") from error

    def close(self) -> None:
        """Stops the child process and frees the image slots; safe to call again (and from __del__)."""
        if self._connection is not None:
            self._connection.close()  # the child sees EOF and exits
            self._connection = None
        if self._process is not None:
            wait_or_kill(self._process, 5.0)
            self._process = None
        self._slots.close()

    def __del__(self) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    # ----- Policy -----
    def infer(self, obs: Observation) -> np.ndarray:
        self._ensure_running()
        assert self._connection is not None
        started = time.perf_counter()
        images = {name: np.ascontiguousarray(image) for name, image in obs.images.items()}
        # Pixels go through shared memory: one memcpy here instead of pushing ~1 MB per frame through the socket
        # in buffer-sized pieces (2-3 ms of process ping-pong on the 2-core benchmark machine).
        header = {"op": "infer", "stamp": obs.stamp, "instruction": obs.instruction, "state": obs.state,
                  "frozen_actions": obs.frozen_actions,
                  "images": [(name, image.shape, image.dtype.str, self._slots.put(name, image))
                             for name, image in images.items()]}
        try:
            self._connection.send(header)
            if not self._slots.shared:
                for image in images.values():
                    # No memfd on this OS: the buffer itself, not a pickle of it, written without the GIL.
                    self._connection.send_bytes(memoryview(image).cast("B"))
        except (BrokenPipeError, ConnectionResetError, OSError) as error:
            self.close()
            raise InferenceWorkerError(f"inference process is gone: {error}") from error
        reply = self._receive("during inference")
        if reply[0] == "error":
            kind, message = reply[1], reply[2]
            if kind == "input":
                raise InputError(message)
            if kind == "unavailable":
                raise PolicyUnavailable(message)
            # Chained, so a logged traceback shows where in the model it failed, not only this call.
            raise InferenceWorkerError(message) from RemoteModelError(reply[3] if len(reply) > 3 else "")
        actions, timings = reply[1], reply[2]
        round_trip_ms = (time.perf_counter() - started) * 1e3
        self.timings_ms = {**timings, "ipc": max(0.0, round_trip_ms - timings.get("total", 0.0))}
        return actions

    def reset(self) -> None:
        self.timings_ms = {}
        if not self._alive():
            return  # a fresh worker starts on the next infer()
        assert self._connection is not None
        self._connection.send({"op": "reset"})
        self._receive("during reset")


def child_environment() -> dict[str, str]:
    """The caller's environment, with the caller's import path so a child process finds this same vla_ros."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


def create_process_policy(package_root: Path | str, backend: str = "auto",
                          options: RuntimeOptions | None = None) -> tuple[ProcessPolicy, BackendSelection]:
    """Like runtime.create_policy, with the model loaded and run in a child process."""
    policy = ProcessPolicy(package_root, backend, options or RuntimeOptions())
    return policy, policy.selection

