"""vla_node's side of its camera-receiving child process (vla_ros.ros.camera_receiver).

A ~1 MB camera message costs the process that takes it out of DDS a byte copy and conversions that hold the
GIL; in vla_node that meant the control thread waiting behind every frame (docs/benchmarks.md, rate). Here a
child takes the frames, and vla_node only reads small notices and copies pixels out of shared memory, which
numpy does without the GIL.

    cameras = CameraProcess(request, on_frame, on_error, log, thread_priority=40)
    cameras.start()          # the child starts; frames arrive as on_frame(camera, rgb, stamp)
    cameras.close()

If the child dies, on_error says so (the stale-image hold then covers the robot) and a new child is started.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

import numpy as np

from vla_ros.execution.child_process import child_command, wait_or_kill
from vla_ros.execution.realtime import set_fifo_priority
from vla_ros.inputs.shared_frames import FrameNotice, FrameSlotReader, SharedFrameError
from vla_ros.model.process_policy import child_environment
from vla_ros.ros.camera_receiver import CameraReceiverRequest

FrameCallback = Callable[[str, np.ndarray, float], None]
ErrorCallback = Callable[[str], None]

# Between restarts of a child that keeps exiting (a bad install, a crash on a particular frame).
RESTART_DELAY_S = 1.0
# How often the reader thread looks at its stop flag while no notice arrives.
_POLL_S = 0.1


class CameraProcess:
    def __init__(self, request: CameraReceiverRequest, on_frame: FrameCallback, on_error: ErrorCallback,
                 log: logging.Logger | None = None, thread_priority: int = 0) -> None:
        self.request = request
        self._on_frame = on_frame
        self._on_error = on_error
        self._log = log or logging.getLogger("vla_ros.camera_process")
        self._thread_priority = thread_priority
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._reader = FrameSlotReader()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None else process.pid

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._run, name="vla_camera_rx", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        parent_end, child_end = socket.socketpair()
        try:
            self._process = subprocess.Popen(child_command("vla_ros.ros.camera_receiver", str(child_end.fileno())),
                                             pass_fds=(child_end.fileno(),), env=child_environment())
        finally:
            child_end.close()
        self._connection = Connection(parent_end.detach())
        self._connection.send(self.request)

    def _run(self) -> None:
        problem = set_fifo_priority(self._thread_priority)
        if problem:
            self._log.warning(f"camera thread: {problem}")
        while not self._stop.is_set():
            connection = self._connection
            if connection is None:
                if self._stop.wait(RESTART_DELAY_S):
                    break
                self.restarts += 1
                try:
                    self._spawn()
                except OSError as error:
                    self._log.error(f"camera receiver process could not start: {error}")
                continue
            try:
                if not connection.poll(_POLL_S):
                    continue
                message = connection.recv()
            except (EOFError, OSError):
                self._child_exited()
                continue
            self._handle(connection, message)

    def _handle(self, connection: Connection, message: object) -> None:
        if isinstance(message, FrameNotice):
            try:
                image = self._reader.read(message)
            except SharedFrameError as error:
                self._on_error(str(error))
                return
            finally:
                try:
                    connection.send(FrameSlotReader.release(message))
                except OSError:
                    pass  # the child is gone; the next recv reports it
            self._on_frame(message.camera, image, message.stamp)
        elif isinstance(message, tuple) and message and message[0] == "error":
            self._on_error(str(message[2]))
        elif isinstance(message, tuple) and message and message[0] == "ready":
            self._log.info(f"camera receiver process {message[1]} subscribed to "
                           f"{[c.topic for c in self.request.cameras]}")

    def _child_exited(self) -> None:
        if self._stop.is_set():
            return
        code = None if self._process is None else wait_or_kill(self._process, 2.0)
        self._close_connection()
        self._reader.close()
        reason = f"camera receiver process exited (code {code}); restarting it"
        self._log.error(reason)
        self._on_error(reason)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        self._close_connection()  # the child sees EOF and exits
        if self._process is not None:
            wait_or_kill(self._process, 5.0)
            self._process = None
        if thread is None or not thread.is_alive():
            # A reader thread still inside read() holds a view of a mapping: unmapping it under the view would
            # raise. The process is ending then anyway.
            self._reader.close()

