"""One websocket connection to an openpi-protocol policy server (websockets' synchronous client).

The protocol, as openpi's WebsocketPolicyServer speaks it: the server answers a plain `GET /healthz` with 200; on a
websocket connect it first sends its metadata (one msgpack map); then each binary request frame (an observation)
gets one reply frame (a map with the actions and `server_timing`). A text frame is an error: the server sends its
traceback as text and closes the connection.

Errors are split by what the caller should do: PolicyUnavailable (cannot reach the server, it refused us, no reply
in time, the connection dropped: hold and reconnect) and RemoteReplyError (the server answered with something
that is not a valid reply: a fault).
"""

from __future__ import annotations

import http.client
import inspect
import os
import socket as socket_module
import ssl
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from vla_ros.core.config import RemoteConfig
from vla_ros.model.errors import InvalidModelOutput, ModelPackageError, PolicyUnavailable
from vla_ros.model.remote import codec

# A server's error text reaches /vla/status; its traceback can be long.
MAX_SERVER_ERROR_CHARS = 400
_MESSAGE_TOO_BIG = 1009  # websocket close code: what we send when a frame exceeds max_size
# websockets >= 16 wants connect() used as a context manager unless told that a plain connection is meant.
_PLAIN_CONNECTION = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


class RemoteReplyError(InvalidModelOutput):
    """The server replied with something that is not a valid reply (a text frame, bad msgpack, too large)."""


def truncated(text: str, limit: int = MAX_SERVER_ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_api_key(env_name: str) -> str | None:
    """The key from the named environment variable; ModelPackageError when it is named but unset or empty."""
    if not env_name:
        return None
    key = os.environ.get(env_name, "")
    if not key.strip():
        raise ModelPackageError(f"remote.api_key_env: the environment variable {env_name!r} is not set or empty "
                                "(it must hold the policy server's API key)")
    return key.strip()


def tls_context(url: str, ca_file: str) -> ssl.SSLContext | None:
    """Certificate-verifying TLS for wss:// (with `ca_file` as the trusted CAs when given); None for ws://."""
    if urlsplit(url).scheme != "wss":
        if ca_file:
            raise ModelPackageError(f"remote.ca_file is set but {url} is ws:// (no TLS); use wss:// or clear it")
        return None
    if ca_file and not os.path.isfile(ca_file):
        raise ModelPackageError(f"remote.ca_file: {ca_file!r} is not a file")
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (ssl.SSLError, OSError) as error:
        raise ModelPackageError(f"remote.ca_file: {ca_file!r} is not a PEM CA bundle: {error}") from error


def _why(error: BaseException) -> str:
    """A short reason for a failed connect or exchange, for logs and /vla/status."""
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        hint = " (the server refused the API key, or needs one: remote.api_key_env)" if status in (401, 403) else ""
        return f"the server refused the connection with HTTP {status}{hint}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {error.verify_message} (remote.ca_file for a private CA)"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the policy server running?)"
    if isinstance(error, TimeoutError):
        return f"timed out{': ' + str(error) if str(error) else ''}"
    if isinstance(error, ConnectionClosed):
        return f"connection closed ({error})"
    return f"{type(error).__name__}: {error}"


class RemoteConnection:
    """Not thread safe; one request at a time (openpi's servers answer in order on one connection)."""

    def __init__(self, url: str, config: RemoteConfig) -> None:
        self.url = url
        self.config = config
        self._ssl = tls_context(url, config.ca_file)
        api_key = read_api_key(config.api_key_env)
        # The header openpi's WebsocketClientPolicy sends. Never logged: error texts carry only the status code.
        self._headers = {"Authorization": f"Api-Key {api_key}"} if api_key else None
        self._socket: ClientConnection | None = None
        self.metadata: dict[str, Any] = {}
        self.last_reply_bytes = 0

    @property
    def connected(self) -> bool:
        return self._socket is not None

    def _probe_health(self, timeout: float) -> None:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.scheme == "wss":
            port = parts.port or 443
            probe: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                                             context=self._ssl)
        else:
            probe = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
        try:
            probe.request("GET", "/healthz", headers=self._headers or {})
            response = probe.getresponse()
            response.read(1024)
        except (OSError, http.client.HTTPException) as error:
            raise PolicyUnavailable(f"GET /healthz failed: {_why(error)}") from error
        finally:
            probe.close()
        if response.status != 200:
            raise PolicyUnavailable(f"GET /healthz answered HTTP {response.status}, expected 200")

    def open(self, timeout: float) -> dict[str, Any]:
        """Probe /healthz, connect, read the metadata. PolicyUnavailable (with the reason) if any step fails."""
        self.close()
        self._probe_health(timeout)
        try:
            socket = connect(self.url, ssl=self._ssl, additional_headers=self._headers, compression=None,
                             max_size=self.config.max_message_bytes, open_timeout=timeout, close_timeout=1.0,
                             proxy=None, user_agent_header=f"vla_ros websockets/{websockets.__version__}",
                             **_PLAIN_CONNECTION)
        except (OSError, InvalidHandshake, TimeoutError) as error:
            raise PolicyUnavailable(_why(error)) from error
        self._socket = socket
        metadata = self._receive(timeout, "the server's metadata")
        if not isinstance(metadata, dict):
            self.close()
            raise RemoteReplyError(f"the server's first message (its metadata) is a {type(metadata).__name__}, "
                                   "expected a map")
        self.metadata = metadata
        return metadata

    def _receive(self, timeout: float, what: str) -> Any:
        assert self._socket is not None
        try:
            frame = self._socket.recv(timeout=timeout)
        except TimeoutError as error:
            # A reply that comes later would be taken for the next request's: the connection cannot be reused.
            # Dropped without the closing handshake, which a busy server would not answer in time either.
            self.close(abort=True)
            raise PolicyUnavailable(f"no reply within {timeout:g} s (remote.timeout_s) waiting for {what}") from error
        except ConnectionClosed as error:
            self.close()
            if error.sent is not None and error.sent.code == _MESSAGE_TOO_BIG:
                raise RemoteReplyError(f"{what} is larger than remote.max_message_bytes="
                                       f"{self.config.max_message_bytes}") from error
            raise PolicyUnavailable(f"{_why(error)} while waiting for {what}") from error
        if isinstance(frame, str):
            self.close()  # openpi's server closes after an error text anyway
            raise RemoteReplyError(f"server error instead of {what}: {truncated(frame)}")
        self.last_reply_bytes = len(frame)
        try:
            return codec.unpack(frame)
        except codec.WireFormatError as error:
            self.close()
            raise RemoteReplyError(f"{what} is not an openpi message: {error}") from error

    def exchange(self, frame: bytes, timeout: float) -> tuple[Any, int]:
        """Send one request frame, return (the decoded reply, its size in bytes)."""
        if self._socket is None:
            raise PolicyUnavailable("not connected")
        try:
            self._socket.send(frame)
        except (ConnectionClosed, OSError) as error:
            self.close()
            raise PolicyUnavailable(f"sending the observation failed: {_why(error)}") from error
        reply = self._receive(timeout, "the reply")
        return reply, self.last_reply_bytes

    def close(self, abort: bool = False) -> None:
        if self._socket is not None:
            socket, self._socket = self._socket, None
            try:
                if abort:
                    socket.socket.shutdown(socket_module.SHUT_RDWR)
                socket.close()
            except Exception:  # closing a broken connection may fail in many ways; it is gone either way
                pass
