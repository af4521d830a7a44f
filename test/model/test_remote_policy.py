"""RemotePolicy against openpi's own WebsocketPolicyServer (PyPI openpi-server) in a real process, serving the
bundled sim model through openpi-style keys: same actions as in process, configure errors, faults, reconnect."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vla_ros.bench.remote import free_port, mirror_package, start_server
from vla_ros.core.config import ConfigError, RemoteConfig
from vla_ros.core.types import Observation
from vla_ros.model import (
    InvalidModelOutput,
    ModelPackageError,
    PolicyUnavailable,
    RuntimeOptions,
    create_policy,
    load_model_package,
)
from vla_ros.model.process_policy import InferenceWorkerError, create_process_policy
from vla_ros.model.remote.policy import BACKOFF_MAX_S, RemotePolicy

pytest.importorskip("openpi_server", reason="pip install --no-deps -r requirements-openpi.txt")

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"


def _observations(count: int, seed: int = 0) -> list[Observation]:
    rng = np.random.default_rng(seed)
    return [Observation({"front": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}, 0.0, "touch the red cube",
                        rng.uniform(-0.3, 0.3, 6)) for _ in range(count)]


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.remote_dir = mirror_package(SIM_ACT, tmp_path / "remote_sim_act", self.url)
        self.process: subprocess.Popen | None = None

    def start(self, *extra: str) -> Server:
        self.process = start_server(SIM_ACT, self.remote_dir, self.port, *extra)
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    yield running
    running.kill()


def test_when_served_by_openpi_server_expect_the_same_actions_as_in_process(server: Server) -> None:
    server.start()
    local, _ = create_policy(load_model_package(SIM_ACT), "onnxruntime", RuntimeOptions(intra_op_threads=1))
    remote, selection = create_policy(load_model_package(server.remote_dir), "auto")
    try:
        assert selection.name == "remote" and selection.providers == [server.url]
        assert remote.server_metadata == {"model": "sim_act"}
        for obs in _observations(5):
            np.testing.assert_array_equal(remote.infer(obs), local.infer(obs))
        timings = remote.timings_ms
        assert timings["round_trip"] > 0 and timings["server_infer"] > 0
        assert timings["bytes_sent"] > 96 * 96 * 3 and timings["bytes_received"] > 10 * 6 * 8
    finally:
        remote.close()


def test_when_run_in_the_inference_process_expect_actions_and_remote_timings(server: Server) -> None:
    server.start()
    policy, selection = create_process_policy(server.remote_dir, "remote")
    try:
        assert selection.name == "remote"
        actions = policy.infer(_observations(1)[0])
        assert actions.shape == (10, 6) and {"round_trip", "server_infer", "bytes_sent", "ipc"} <= set(
            policy.timings_ms)
    finally:
        policy.close()


def test_when_server_unreachable_at_configure_expect_error_naming_url_and_reason(server: Server) -> None:
    with pytest.raises(PolicyUnavailable, match=rf"{server.url}.*connection refused"):
        RemotePolicy(load_model_package(server.remote_dir))
    with pytest.raises(InferenceWorkerError, match=rf"{server.url}.*connection refused"):
        create_process_policy(server.remote_dir, "remote")


def test_when_remote_url_parameter_set_expect_it_overrides_the_manifest(server: Server, tmp_path: Path) -> None:
    server.start()
    elsewhere = mirror_package(SIM_ACT, tmp_path / "elsewhere", "ws://127.0.0.1:9")
    policy = RemotePolicy(load_model_package(elsewhere), RemoteConfig(url=server.url))
    assert policy.url == server.url
    policy.close()
    # A URL that is no websocket URL is refused where the parameters become a config, naming the parameter.
    with pytest.raises(ConfigError, match=r"remote_url='http://127\.0\.0\.1:1'"):
        RemoteConfig(url="http://127.0.0.1:1")


def test_when_first_reply_mismatches_at_configure_expect_expected_and_got(server: Server) -> None:
    server.start("--fault", "wrong_shape")
    with pytest.raises(ModelPackageError, match=r"expected shape \[10, 6\].*got \[10, 5\]"):
        RemotePolicy(load_model_package(server.remote_dir))


@pytest.mark.parametrize("fault, reason", [
    ("wrong_shape", r"expected shape \[10, 6\]"),
    ("nan", "NaN or inf"),
    ("missing_key", "no 'actions'"),
    ("int_dtype", "expected a float array, got dtype int64"),
    ("error", "server error instead of the reply: .*injected server failure"),
    ("oversize", "larger than remote.max_message_bytes"),
])
def test_when_reply_is_malformed_while_running_expect_invalid_output_with_reason(server: Server, fault: str,
                                                                                reason: str) -> None:
    server.start("--fault", fault, "--fault-after", "1")  # the configure check gets a good reply
    policy = RemotePolicy(load_model_package(server.remote_dir), RemoteConfig(max_message_bytes=1 << 20))
    with pytest.raises(InvalidModelOutput, match=reason):
        policy.infer(_observations(1)[0])
    policy.close()


def test_when_server_is_slower_than_timeout_expect_unavailable_not_a_fault(server: Server) -> None:
    server.start("--fault", "slow", "--fault-after", "1", "--slow-s", "1.0")
    policy = RemotePolicy(load_model_package(server.remote_dir), RemoteConfig(timeout_s=0.2))
    started = time.monotonic()
    with pytest.raises(PolicyUnavailable, match=r"no reply within 0.2 s"):
        policy.infer(_observations(1)[0])
    assert time.monotonic() - started < 0.8
    with pytest.raises(PolicyUnavailable, match="reconnecting in"):  # within the backoff: no new attempt
        policy.infer(_observations(1)[0])
    policy.close()


def test_when_server_killed_and_restarted_expect_unavailable_then_reconnect(server: Server) -> None:
    server.start()
    policy, _ = create_process_policy(server.remote_dir, "remote", RuntimeOptions(remote=RemoteConfig(timeout_s=0.5)))
    try:
        obs = _observations(1)[0]
        expected = policy.infer(obs)
        server.kill()
        with pytest.raises(PolicyUnavailable):
            policy.infer(obs)
        server.start()
        deadline = time.monotonic() + 2 * BACKOFF_MAX_S + 5.0
        while True:
            try:
                np.testing.assert_array_equal(policy.infer(obs), expected)
                break
            except PolicyUnavailable:
                assert time.monotonic() < deadline, "did not reconnect"
                time.sleep(0.05)
    finally:
        policy.close()
