"""The service in one process (uvicorn, no Ray): API key, TLS, malformed and oversize requests. The Ray Serve
replicas run the same PolicyService (test_serve_ray.py covers that path)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from serve_requests import SIM_ACT_REQUEST, check_bad_requests_close_only_their_connection
from tls_certificates import make_test_certificates
from websockets.sync.client import connect

from vla_ros.bench.remote import free_port, mirror_package
from vla_ros.core.config import RemoteConfig
from vla_ros.core.types import Observation
from vla_ros.model import PolicyUnavailable, load_model_package
from vla_ros.model.remote import codec
from vla_ros.model.remote.policy import RemotePolicy
from vla_ros.serve.direct import single_process_server
from vla_ros.serve.options import ServeOptions
from vla_ros.training.flow_package import build_flow_example

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
KEY = "s3cret-fleet-key"
OBS = Observation({"front": np.zeros((96, 96, 3), np.uint8)}, 0.0, "touch the red cube", np.zeros(6))

Start = Callable[..., int]


@pytest.fixture
def start_server() -> Iterator[Start]:
    servers = []

    def start(certfile: str = "", keyfile: str = "", model: Path = SIM_ACT, **options: object) -> int:
        port = free_port()
        server = single_process_server(ServeOptions(model_path=str(model), **options), "127.0.0.1", port,
                                       certfile, keyfile)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.05)
        assert server.started, "the single-process server did not start"
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def _remote(tmp_path: Path, url: str, **config: object) -> RemotePolicy:
    remote_dir = mirror_package(SIM_ACT, tmp_path / "remote", url)
    return RemotePolicy(load_model_package(remote_dir), RemoteConfig(**config))


def test_when_api_key_required_expect_right_key_served_and_wrong_or_missing_key_refused(
        start_server: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLA_SERVE_KEY", KEY)
    port = start_server(api_key_env="VLA_SERVE_KEY")
    url = f"ws://127.0.0.1:{port}"
    policy = _remote(tmp_path, url, api_key_env="VLA_SERVE_KEY")
    assert policy.infer(OBS).shape == (10, 6)
    policy.close()
    monkeypatch.setenv("VLA_WRONG_KEY", "not-the-key")
    for config in ({"api_key_env": "VLA_WRONG_KEY"}, {}):
        with pytest.raises(PolicyUnavailable, match="HTTP 403") as refused:
            _remote(tmp_path, url, **config)
        assert KEY not in str(refused.value)


def test_when_request_malformed_or_oversize_expect_text_frame_and_only_that_connection_closed(
        start_server: Start) -> None:
    port = start_server(max_request_bytes=64 * 1024)
    check_bad_requests_close_only_their_connection(f"ws://127.0.0.1:{port}", 64 * 1024)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_test_certificates(tmp_path_factory.mktemp("tls"))


def test_when_served_with_certfile_expect_wss_verified_by_the_robot(start_server: Start, tmp_path: Path,
                                                                     certificates: dict[str, Path]) -> None:
    port = start_server(str(certificates["cert"]), str(certificates["key"]))
    policy = _remote(tmp_path, f"wss://127.0.0.1:{port}", ca_file=str(certificates["ca"]))
    assert policy.infer(OBS).shape == (10, 6)
    policy.close()


def test_when_robot_sends_frozen_actions_to_a_flow_server_expect_chunk_starting_with_them(
        start_server: Start, tmp_path: Path) -> None:
    """Real-time chunking through a stateless server: the prefix travels with the request."""
    flow = build_flow_example(tmp_path / "flow", seed=5, action_scale=0.2)
    port = start_server(model=flow)
    remote_dir = mirror_package(flow, tmp_path / "remote", f"ws://127.0.0.1:{port}")
    policy = RemotePolicy(load_model_package(remote_dir))
    assert policy.max_frozen_steps == 5 and policy.server_metadata["max_frozen_steps"] == 5
    plain = policy.infer(OBS)
    frozen = plain[2:5] + 0.03
    chunk = policy.infer(dataclasses.replace(OBS, frozen_actions=frozen))
    np.testing.assert_allclose(chunk[:3], frozen, atol=1e-5)
    policy.close()
    with connect(f"ws://127.0.0.1:{port}", max_size=None) as bad:
        bad.recv(timeout=10)
        bad.send(codec.pack({**SIM_ACT_REQUEST, "frozen_actions": np.full((2, 6), np.nan)}))
        error = bad.recv(timeout=10)
        assert isinstance(error, str) and "frozen_actions" in error, error
