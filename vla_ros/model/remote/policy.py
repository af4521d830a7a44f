"""RemotePolicy: core.types.Policy over an openpi-protocol policy server (`backend: remote`).

    policy = RemotePolicy(package, RemoteConfig(url="ws://gpu-box:8000"))   # connects and checks one reply
    actions = policy.infer(observation)                                       # [H, D] float64, robot units
    policy.timings_ms   # preprocess, round_trip, server_infer, postprocess, total, bytes_sent, bytes_received

Construction is configure: the server must be reachable and its first reply (to a blank observation) must match
the package, else it raises (PolicyUnavailable naming the URL and the reason, or ModelPackageError saying what
was expected and what came back). While running, a dropped connection or a reply later than remote.timeout_s
raises PolicyUnavailable: the node holds (inference timeout) without latching a fault, and each later infer()
tries to reconnect, at most once per backoff delay (doubling from BACKOFF_INITIAL_S up to BACKOFF_MAX_S). A reply
that is not valid (a server error text, bad msgpack, over remote.max_message_bytes, missing `actions`, wrong
shape or dtype, NaN or inf) raises RemoteReplyError, an InvalidModelOutput: a model fault, nothing is used from it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from vla_ros.core.config import RemoteConfig
from vla_ros.core.types import Observation
from vla_ros.model.decoding import ActionDecoder, encode_actions
from vla_ros.model.errors import ModelPackageError, PolicyUnavailable
from vla_ros.model.package import ModelPackage
from vla_ros.model.remote import codec
from vla_ros.model.remote.connection import RemoteConnection, RemoteReplyError
from vla_ros.model.remote.manifest import check_url
from vla_ros.model.remote.request import blank_observation, build_request

BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 2.0
# A policy server may compile its model on the first request (openpi's JAX servers do): the configure check waits
# at least this long for that first reply.
FIRST_REPLY_TIMEOUT_S = 30.0

_LOG = logging.getLogger("vla_ros.model.remote")


def server_url(package: ModelPackage, config: RemoteConfig) -> str:
    """The URL to use: the remote_url parameter when set, else the package's remote.url."""
    remote = package.manifest.remote
    if remote is None:
        raise ModelPackageError(f"backend remote: package '{package.name}' is not a remote package (its vla.yaml "
                                "has no 'remote:' section)")
    return check_url(config.url, "remote_url") if config.url else remote.url


class RemotePolicy:
    """One package's policy server. Not thread safe: call infer() from one thread at a time."""

    def __init__(self, package: ModelPackage, config: RemoteConfig | None = None, *, check_reply: bool = True
                 ) -> None:
        self.config = config or RemoteConfig()
        self.url = server_url(package, self.config)
        assert package.manifest.remote is not None
        self.package = package
        self.spec = package.manifest.remote
        self._decode = ActionDecoder(package.manifest.outputs, package.manifest.action)
        self._connection = RemoteConnection(self.url, self.config)
        self.timings_ms: dict[str, float] = {}
        self._backoff_s = BACKOFF_INITIAL_S
        self._retry_at = 0.0
        self._down_reason = ""
        try:
            self._connection.open(self.config.timeout_s)
        except PolicyUnavailable as error:
            raise PolicyUnavailable(f"cannot reach the remote policy at {self.url}: {error}") from error
        _LOG.info("connected to the policy server at %s (metadata keys %s)", self.url,
                  sorted(map(str, self._connection.metadata)))
        if check_reply:
            self._check_first_reply()

    @property
    def server_metadata(self) -> dict[str, Any]:
        return dict(self._connection.metadata)

    @property
    def backend_name(self) -> str:
        return "remote"

    def _check_first_reply(self) -> None:
        try:
            self._infer(blank_observation(self.spec), max(self.config.timeout_s, FIRST_REPLY_TIMEOUT_S))
        except RemoteReplyError as error:
            self.close()
            raise ModelPackageError(f"{self.package.name}: the policy server at {self.url} does not fit the "
                                    f"package: {error}") from error
        except PolicyUnavailable as error:
            self.close()
            raise PolicyUnavailable(f"the remote policy at {self.url} did not answer the configure check: "
                                    f"{error}") from error
        self.timings_ms = {}

    # ----- connection state -----
    def _lost(self, reason: str) -> None:
        self._down_reason = reason
        self._retry_at = time.monotonic() + self._backoff_s
        self._backoff_s = min(2.0 * self._backoff_s, BACKOFF_MAX_S)

    @contextmanager
    def _losing_connection_on_error(self, what: str) -> Iterator[None]:
        """A transport or protocol error drops the connection and starts the reconnect backoff; the error goes
        on (PolicyUnavailable naming the server: the node holds without a fault)."""
        try:
            yield
        except PolicyUnavailable as error:
            self._lost(str(error))
            raise PolicyUnavailable(f"remote policy at {self.url}{what}: {error}") from error
        except RemoteReplyError as error:
            self._lost(str(error))
            raise

    def _ensure_connected(self) -> None:
        if self._connection.connected:
            return
        wait = self._retry_at - time.monotonic()
        if wait > 0.0:
            raise PolicyUnavailable(f"remote policy at {self.url} unavailable ({self._down_reason}); reconnecting "
                                    f"in {wait:.2f} s")
        with self._losing_connection_on_error(" unavailable"):
            self._connection.open(self.config.timeout_s)
        _LOG.info("reconnected to the policy server at %s", self.url)

    # ----- the reply -----
    def _checked_actions(self, reply: Any) -> tuple[np.ndarray, float | None]:
        actions_spec = self.spec.actions
        if not isinstance(reply, dict):
            raise RemoteReplyError(f"the reply is a {type(reply).__name__}, expected a map holding "
                                   f"'{actions_spec.key}'")
        if actions_spec.key not in reply:
            raise RemoteReplyError(f"the reply has no '{actions_spec.key}' (keys: {sorted(map(str, reply))})")
        actions = reply[actions_spec.key]
        expected = [actions_spec.horizon, actions_spec.action_dim]
        if not isinstance(actions, np.ndarray):
            raise RemoteReplyError(f"'{actions_spec.key}' is a {type(actions).__name__}, expected a float array "
                                   f"of shape {expected}")
        if actions.dtype.kind != "f":
            raise RemoteReplyError(f"'{actions_spec.key}': expected a float array, got dtype {actions.dtype}")
        if list(actions.shape) != expected:
            raise RemoteReplyError(f"'{actions_spec.key}': expected shape {expected} (remote.actions horizon, "
                                   f"action_dim), got {list(actions.shape)}")
        if not np.all(np.isfinite(actions)):
            raise RemoteReplyError(f"'{actions_spec.key}' holds NaN or inf")
        timing = reply.get("server_timing")
        infer_ms = timing.get("infer_ms") if isinstance(timing, dict) else None
        return actions, float(infer_ms) if isinstance(infer_ms, (int, float)) else None

    # ----- Policy -----
    @property
    def max_frozen_steps(self) -> int:
        """Leading actions the server takes as given (real-time chunking), from the package's remote.actions."""
        return self.spec.actions.max_frozen_steps

    def _infer(self, obs: Observation, timeout: float) -> np.ndarray:
        t0 = time.perf_counter()
        if obs.frozen_actions is not None and self.max_frozen_steps:
            # Sent in the units of the server's replies: this package's decoding, inverted.
            obs = dataclasses.replace(obs, frozen_actions=encode_actions(obs.frozen_actions,
                                                                         self.package.manifest.action))
        frame = codec.pack(build_request(self.spec, obs))
        t1 = time.perf_counter()
        self._ensure_connected()
        with self._losing_connection_on_error(""):
            reply, reply_bytes = self._connection.exchange(frame, timeout)
        t2 = time.perf_counter()
        actions, server_infer_ms = self._checked_actions(reply)
        decoded = self._decode(actions[np.newaxis])
        t3 = time.perf_counter()
        self._backoff_s = BACKOFF_INITIAL_S
        round_trip = (t2 - t1) * 1e3
        self.timings_ms = {"preprocess": (t1 - t0) * 1e3, "round_trip": round_trip,
                           # "inference" is the model call of every backend; here the whole round trip.
                           "inference": round_trip, "postprocess": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3,
                           "bytes_sent": float(len(frame)), "bytes_received": float(reply_bytes)}
        if server_infer_ms is not None:
            self.timings_ms["server_infer"] = server_infer_ms
        return decoded

    def infer(self, obs: Observation) -> np.ndarray:
        return self._infer(obs, self.config.timeout_s)

    def reset(self) -> None:
        """openpi's servers keep no episode state per connection (their client's reset does nothing either)."""
        self.timings_ms = {}

    def close(self) -> None:
        self._connection.close()

    def __del__(self) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.close()
