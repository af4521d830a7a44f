"""openpi's websocket protocol, server side, over an ASGI websocket (FastAPI, as Ray Serve's ingress).

Per connection: refuse it before the handshake when an API key is configured and `Authorization: Api-Key KEY`
does not carry it (HTTP 403; the key is never echoed or logged); else send the metadata (one msgpack map), then
answer each binary frame (an observation, openpi's msgpack-numpy, vla_ros.model.remote.codec) with one binary
frame {"actions": [H, D] float64 in robot units, "server_timing": {"infer_ms", "batch_size"}}. A request that is
too large, not msgpack, not an observation this model can run, or that the model fails on gets one text frame
saying why and that connection is closed; every other connection goes on.

`infer` is where batching plugs in: Ray Serve's @serve.batch around `run_batch` inside a replica (app.py), or
`run_batch` on one observation at a time in the single-process server (direct.py).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect

from vla_ros.core.types import Observation
from vla_ros.model.remote import codec
from vla_ros.serve.model import BatchResult, ServedModel
from vla_ros.serve.options import ServeOptions

_LOG = logging.getLogger("vla_ros.serve")

# Websocket close codes (RFC 6455).
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
MAX_ERROR_CHARS = 400

ItemResult = tuple[Any, float, int]  # (actions or the exception, infer_ms of its batch, its batch's size)


class ServeConfigError(RuntimeError):
    """The server cannot start as configured (e.g. an API key variable named but not set)."""


def api_key_from_env(env_name: str) -> str | None:
    if not env_name:
        return None
    key = os.environ.get(env_name, "").strip()
    if not key:
        raise ServeConfigError(f"--api-key-env {env_name}: the environment variable is not set or empty (it must "
                               "hold the key robots present)")
    return key


class PolicyService:
    def __init__(self, model: ServedModel, options: ServeOptions,
                 on_batch: Callable[[BatchResult], None] | None = None,
                 extra_metadata: dict[str, Any] | None = None) -> None:
        self.model = model
        self.metadata = {**model.metadata, **(extra_metadata or {})}
        self.options = options
        self._api_key = api_key_from_env(options.api_key_env)
        # One thread: the model is not thread safe, and batches must not overlap on a CPU-bound replica.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vla_serve_model")
        self._on_batch = on_batch
        self.batched: Callable[[Observation], Awaitable[ItemResult]] | None = None

    # ----- the model -----
    async def run_batch(self, observations: list[Observation]) -> list[ItemResult]:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, self.model.infer_batch, observations)
        if self._on_batch is not None:
            self._on_batch(result)
        return [(actions, result.infer_ms, result.batch_size) for actions in result.actions]

    async def infer(self, obs: Observation) -> ItemResult:
        if self.batched is not None:
            return await self.batched(obs)
        return (await self.run_batch([obs]))[0]

    # ----- the connection -----
    def authorized(self, headers: Any) -> bool:
        if self._api_key is None:
            return True
        presented = headers.get("authorization", "")
        scheme, _, key = presented.partition(" ")
        return scheme == "Api-Key" and hmac.compare_digest(key.strip().encode(), self._api_key.encode())

    async def _fail(self, websocket: WebSocket, code: int, text: str) -> None:
        text = " ".join(text.split())[:MAX_ERROR_CHARS]
        try:
            await websocket.send_text(text)
            await websocket.close(code=code)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the robot is gone already

    async def serve_connection(self, websocket: WebSocket) -> None:
        if not self.authorized(websocket.headers):
            _LOG.warning("refused a connection from %s: missing or wrong API key", websocket.client)
            await websocket.close(code=POLICY_VIOLATION)  # before accept: the handshake is answered with 403
            return
        await websocket.accept()
        try:
            await websocket.send_bytes(codec.pack(self.metadata))
            while True:
                try:
                    message = await websocket.receive()
                except WebSocketDisconnect:
                    raise
                except Exception as error:  # the transport is gone (Ray's proxy stopped at shutdown): as a close
                    _LOG.debug("connection from %s ended: %s", websocket.client, type(error).__name__)
                    return
                if message["type"] == "websocket.disconnect":
                    return
                frame = message.get("bytes")
                if frame is None:
                    await self._fail(websocket, POLICY_VIOLATION, "expected a binary frame (a msgpack observation)")
                    return
                if len(frame) > self.options.max_request_bytes:
                    await self._fail(websocket, MESSAGE_TOO_BIG, f"request of {len(frame)} bytes is over the "
                                     f"server's limit of {self.options.max_request_bytes} bytes")
                    return
                reply = await self._answer(frame)
                if isinstance(reply, str):
                    await self._fail(websocket, INTERNAL_ERROR, reply)
                    return
                await websocket.send_bytes(reply)
        except WebSocketDisconnect:
            return

    async def _answer(self, frame: bytes) -> bytes | str:
        """The reply frame, or the error text for this robot."""
        try:
            obs = self.model.observation(codec.unpack(frame))
        except (codec.WireFormatError, ValueError) as error:
            return f"bad request: {error}"
        actions, infer_ms, batch_size = await self.infer(obs)
        if isinstance(actions, Exception):
            return f"inference failed: {type(actions).__name__}: {actions}"
        reply = {"actions": np.asarray(actions, dtype=np.float64),
                 "server_timing": {"infer_ms": float(infer_ms), "batch_size": int(batch_size)}}
        return codec.pack(reply)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
