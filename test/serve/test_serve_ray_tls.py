"""vla_serve on a real local Ray with --certfile/--keyfile: Ray Serve's proxy serves wss:// and https://, and the
robot's remote backend verifies it against a private CA (remote.ca_file), with the API key on top."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tls_certificates import make_test_certificates

from vla_ros.bench.fleet import start_vla_serve, stop_vla_serve
from vla_ros.bench.remote import free_port, mirror_package
from vla_ros.core.config import RemoteConfig
from vla_ros.core.types import Observation
from vla_ros.model import PolicyUnavailable, load_model_package
from vla_ros.model.remote.policy import RemotePolicy

pytest.importorskip("ray.serve", reason="pip install .[serve]")

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
KEY = "tls-fleet-key"
OBS = Observation({"front": np.zeros((96, 96, 3), np.uint8)}, 0.0, "touch the red cube", np.zeros(6))


def test_when_ray_serves_with_a_certificate_expect_wss_verified_by_the_robot_and_plain_ws_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certificates = make_test_certificates(tmp_path)
    port = free_port()
    process = start_vla_serve(SIM_ACT, port, "--replicas", "1", "--cpus-per-replica", "0.5",
                              "--certfile", str(certificates["cert"]), "--keyfile", str(certificates["key"]),
                              "--api-key-env", "VLA_SERVE_TLS_KEY", env={**os.environ, "VLA_SERVE_TLS_KEY": KEY},
                              ca_file=certificates["ca"])
    try:
        monkeypatch.setenv("VLA_ROBOT_KEY", KEY)
        url = f"wss://127.0.0.1:{port}"
        package = load_model_package(mirror_package(SIM_ACT, tmp_path / "remote", url))
        policy = RemotePolicy(package, RemoteConfig(api_key_env="VLA_ROBOT_KEY", ca_file=str(certificates["ca"])))
        assert policy.infer(OBS).shape == (10, 6)
        policy.close()
        # Without the private CA the robot must not trust the server, and plain ws:// finds no websocket.
        with pytest.raises(PolicyUnavailable):
            RemotePolicy(package, RemoteConfig(api_key_env="VLA_ROBOT_KEY"))
        plain = load_model_package(mirror_package(SIM_ACT, tmp_path / "plain", f"ws://127.0.0.1:{port}"))
        with pytest.raises(PolicyUnavailable):
            RemotePolicy(plain, RemoteConfig(api_key_env="VLA_ROBOT_KEY"))
    finally:
        status, log = stop_vla_serve(process)
    assert status == 0, log[-3000:]
