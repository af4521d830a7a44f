"""API key and TLS: a small openpi-protocol server written here with websockets (openpi-server has neither),
which checks the `Authorization: Api-Key` header and serves wss:// with a certificate from a CA made in the test."""

from __future__ import annotations

import http
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tls_certificates import make_test_certificates
from websockets.sync.server import Server, ServerConnection, serve

from vla_ros.bench.remote import free_port, mirror_package
from vla_ros.core.config import RemoteConfig
from vla_ros.core.types import Observation
from vla_ros.model import ModelPackageError, PolicyUnavailable, load_model_package
from vla_ros.model.remote import codec
from vla_ros.model.remote.policy import RemotePolicy

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
KEY = "s3cret-key-value"


def _handler(connection: ServerConnection) -> None:
    connection.send(codec.pack({"secured": True}))
    for frame in connection:
        request = codec.unpack(frame)
        actions = np.tile(request["observation/state"], (10, 1)).astype(np.float32)
        connection.send(codec.pack({"actions": actions, "server_timing": {"infer_ms": 0.1}}))


def _require_key(connection: ServerConnection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    if request.headers.get("Authorization") != f"Api-Key {KEY}":
        return connection.respond(http.HTTPStatus.UNAUTHORIZED, "bad key\n")
    return None


@pytest.fixture
def serve_in_thread() -> Iterator:
    servers: list[Server] = []

    def start(tls: ssl.SSLContext | None = None) -> int:
        port = free_port()
        server = serve(_handler, "127.0.0.1", port, ssl=tls, process_request=_require_key, compression=None)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.shutdown()


def _package(tmp_path: Path, url: str) -> Path:
    return mirror_package(SIM_ACT, tmp_path / "remote", url)


def _observation() -> Observation:
    return Observation({"front": np.zeros((96, 96, 3), dtype=np.uint8)}, 0.0, "go", np.arange(6.0))


def test_when_key_is_right_expect_accepted(serve_in_thread, tmp_path: Path, monkeypatch) -> None:
    url = f"ws://127.0.0.1:{serve_in_thread()}"
    monkeypatch.setenv("VLA_TEST_KEY", KEY)
    policy = RemotePolicy(load_model_package(_package(tmp_path, url)), RemoteConfig(api_key_env="VLA_TEST_KEY"))
    np.testing.assert_array_equal(policy.infer(_observation())[3], np.arange(6.0))
    policy.close()


def test_when_key_is_wrong_or_missing_expect_refused_without_the_key_in_the_message(serve_in_thread, tmp_path: Path,
                                                                                    monkeypatch) -> None:
    url = f"ws://127.0.0.1:{serve_in_thread()}"
    package = load_model_package(_package(tmp_path, url))
    with pytest.raises(PolicyUnavailable, match=r"HTTP 401.*API key"):
        RemotePolicy(package)
    monkeypatch.setenv("VLA_TEST_KEY", "wrong-" + KEY)
    with pytest.raises(PolicyUnavailable, match="HTTP 401") as refused:
        RemotePolicy(package, RemoteConfig(api_key_env="VLA_TEST_KEY"))
    assert KEY not in str(refused.value)
    with pytest.raises(ModelPackageError, match=r"VLA_UNSET_KEY.*not set"):
        RemotePolicy(package, RemoteConfig(api_key_env="VLA_UNSET_KEY"))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command."""
    return make_test_certificates(tmp_path_factory.mktemp("tls"))


def _tls_server(certificates: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["cert"], certificates["key"])
    return context


def test_when_wss_with_the_private_ca_file_expect_verified_connection(serve_in_thread, certificates, tmp_path: Path,
                                                                     monkeypatch) -> None:
    url = f"wss://127.0.0.1:{serve_in_thread(_tls_server(certificates))}"
    monkeypatch.setenv("VLA_TEST_KEY", KEY)
    config = RemoteConfig(api_key_env="VLA_TEST_KEY", ca_file=str(certificates["ca"]))
    policy = RemotePolicy(load_model_package(_package(tmp_path, url)), config)
    assert policy.server_metadata == {"secured": True}
    assert policy.infer(_observation()).shape == (10, 6)
    policy.close()


def test_when_wss_without_the_ca_file_expect_certificate_verification_failure(serve_in_thread, certificates,
                                                                               tmp_path: Path, monkeypatch) -> None:
    url = f"wss://127.0.0.1:{serve_in_thread(_tls_server(certificates))}"
    monkeypatch.setenv("VLA_TEST_KEY", KEY)
    with pytest.raises(PolicyUnavailable, match="certificate verification failed"):
        RemotePolicy(load_model_package(_package(tmp_path, url)), RemoteConfig(api_key_env="VLA_TEST_KEY"))


def test_when_ca_file_given_for_plain_ws_expect_configure_error(tmp_path: Path, certificates) -> None:
    package = load_model_package(_package(tmp_path, "ws://127.0.0.1:9"))
    with pytest.raises(ModelPackageError, match=r"ca_file.*ws://"):
        RemotePolicy(package, RemoteConfig(ca_file=str(certificates["ca"])))
