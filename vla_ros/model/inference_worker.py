"""The child side of ProcessPolicy: `python -m vla_ros.model.inference_worker FD`.

FD is one end of a socket pair. The first message names the package, backend and RuntimeOptions; the worker
answers ("ready", BackendSelection) or ("error", kind, message). Then, until the socket closes:
- {"op": "infer", ...header}, the images in the caller's shared-memory slots (or, without memfd, one raw buffer
  per image after the header) -> ("ok", actions, timings) or
  ("error", "input" | "unavailable" | "model", message[, the model's stack]);
- {"op": "reset"} -> ("ok",).
"""

from __future__ import annotations

import mmap
import sys
import traceback
from multiprocessing.connection import Connection

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.execution.child_process import serve_inherited_socket
from vla_ros.model import InputError, create_policy, load_model_package
from vla_ros.model.errors import ModelPackageError, PolicyUnavailable


def _load(connection: Connection):
    request = connection.recv()
    try:
        package = load_model_package(request["package"])
        policy, selection = create_policy(package, request["backend"], request["options"])
    except ModelPackageError as error:
        connection.send(("error", "package", str(error)))
        return None
    except Exception as error:  # reported to the caller, which fails configure with this message
        connection.send(("error", "backend", f"{type(error).__name__}: {error}"))
        return None
    connection.send(("ready", selection))
    return policy


class SharedImages:
    """The caller's per-camera shared-memory slots (ImageSlots), mapped once per slot generation."""

    def __init__(self) -> None:
        self._mapped: dict[tuple[str, int], mmap.mmap] = {}

    def view(self, location: tuple[str, int], shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        mapping = self._mapped.get(location)
        if mapping is None:
            for key in [k for k in self._mapped if k[0] == location[0]]:  # an fd number reused by a new slot
                del self._mapped[key]  # unmapped once the last image viewing it is gone
            with open(location[0], "r+b") as slot:
                mapping = mmap.mmap(slot.fileno(), 0)
            self._mapped[location] = mapping
        return np.frombuffer(mapping, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def _receive_observation(connection: Connection, header: dict, shared: SharedImages) -> Observation:
    images = {}
    for name, shape, dtype, location in header["images"]:
        if location is None:
            images[name] = np.frombuffer(connection.recv_bytes(), dtype=np.dtype(dtype)).reshape(shape)
        else:
            images[name] = shared.view(tuple(location), shape, np.dtype(dtype))
    return Observation(images, header["stamp"], header["instruction"], header["state"], header.get("frozen_actions"))


def serve(connection: Connection) -> None:
    policy = _load(connection)
    if policy is None:
        return
    shared = SharedImages()
    while True:
        try:
            header = connection.recv()
        except (EOFError, OSError):
            return  # the caller closed the socket or died: nothing left to serve
        if header["op"] == "reset":
            policy.reset()
            connection.send(("ok",))
            continue
        observation = _receive_observation(connection, header, shared)
        try:
            actions = policy.infer(observation)
        except InputError as error:
            connection.send(("error", "input", str(error)))
            continue
        except PolicyUnavailable as error:  # transient (a remote server away): the caller holds, no fault
            connection.send(("error", "unavailable", str(error)))
            continue
        except Exception as error:  # the caller turns this into a model fault and holds the robot
            # The stack goes to the caller, which logs it once with its own report, not here per frame.
            stack = "".join(traceback.format_tb(error.__traceback__))
            connection.send(("error", "model", f"{type(error).__name__}: {error}", stack))
            continue
        connection.send(("ok", np.asarray(actions), dict(policy.timings_ms)))


def main(argv: list[str] | None = None) -> int:
    return serve_inherited_socket(sys.argv[1:] if argv is None else argv,
                                  "python -m vla_ros.model.inference_worker FD (started by ProcessPolicy)", serve)


if __name__ == "__main__":
    sys.exit(main())
