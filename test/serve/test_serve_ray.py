"""vla_serve on a real local Ray (one instance for the module: 2 replicas, batching up to 4, an API key, a 128 KiB
request limit) against openpi's own client (openpi_client.websocket_client_policy): same actions as the model in
process, batches across robots, /healthz, the key and the request checks through Ray's proxy, and a clean exit on
SIGTERM."""

from __future__ import annotations

import os
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from serve_requests import check_bad_requests_close_only_their_connection
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from vla_ros.bench.fleet import start_vla_serve, stop_vla_serve
from vla_ros.bench.remote import free_port
from vla_ros.core.types import Observation
from vla_ros.model import RuntimeOptions, create_policy, load_model_package

pytest.importorskip("ray.serve", reason="pip install .[serve]")
pytest.importorskip("openpi_client", reason="pip install --no-deps -r requirements-openpi.txt")

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
KEY = "fleet-key-for-the-ray-tests"
MAX_REQUEST_BYTES = 128 * 1024
AUTH = {"Authorization": f"Api-Key {KEY}"}


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = start_vla_serve(
            SIM_ACT, self.port, "--replicas", "2", "--cpus-per-replica", "0.5", "--max-batch-size", "4",
            "--batch-wait-ms", "20", "--api-key-env", "VLA_SERVE_TEST_KEY", "--max-request-bytes",
            str(MAX_REQUEST_BYTES), env={**os.environ, "VLA_SERVE_TEST_KEY": KEY})

    def stop(self) -> tuple[int, str]:
        assert self.process is not None
        process, self.process = self.process, None
        return stop_vla_serve(process)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    yield running
    if running.process is not None:
        running.stop()


def _requests(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"observation/image": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8),
             "observation/state": rng.uniform(-0.3, 0.3, 6), "prompt": "touch the red cube"} for _ in range(count)]


def _local_actions(request: dict) -> np.ndarray:
    local, _ = create_policy(load_model_package(SIM_ACT), "onnxruntime", RuntimeOptions(intra_op_threads=1))
    return local.infer(Observation({"front": request["observation/image"]}, 0.0, request["prompt"],
                                   request["observation/state"]))


def test_when_openpi_client_asks_expect_the_actions_of_the_model_in_process(server: Server) -> None:
    from openpi_client.websocket_client_policy import WebsocketClientPolicy

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as response:
        assert response.status == 200
    client = WebsocketClientPolicy("127.0.0.1", server.port, api_key=KEY)
    metadata = client.get_server_metadata()
    assert metadata["model"] == "sim_act" and metadata["horizon"] == 10 and metadata["replica_pid"] > 0
    for request in _requests(3, seed=1):
        reply = client.infer(request)
        np.testing.assert_array_equal(reply["actions"], _local_actions(request))
        assert reply["server_timing"]["infer_ms"] > 0


def test_when_robots_ask_at_once_expect_batches_with_the_actions_of_unbatched_calls(server: Server) -> None:
    from openpi_client.websocket_client_policy import WebsocketClientPolicy

    robots = 4
    requests = [_requests(12, seed=10 + r) for r in range(robots)]
    replies: list[list[dict]] = [[] for _ in range(robots)]
    barrier = threading.Barrier(robots)

    def robot(index: int) -> None:
        client = WebsocketClientPolicy("127.0.0.1", server.port, api_key=KEY)
        barrier.wait(30)
        replies[index] = [client.infer(request) for request in requests[index]]

    threads = [threading.Thread(target=robot, args=(i,)) for i in range(robots)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    sizes = [reply["server_timing"]["batch_size"] for robot_replies in replies for reply in robot_replies]
    assert len(sizes) == robots * 12 and max(sizes) > 1, sizes
    for robot_requests, robot_replies in zip(requests, replies):
        for request, reply in zip(robot_requests, robot_replies):
            np.testing.assert_allclose(reply["actions"], _local_actions(request), rtol=0, atol=1e-6)


def test_when_key_is_wrong_or_missing_expect_ray_proxy_refuses_the_handshake(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}"
    for headers in ({"Authorization": "Api-Key not-the-key"}, {}):
        with pytest.raises(InvalidStatus) as refused:
            with connect(url, additional_headers=headers, open_timeout=20):
                pass
        assert refused.value.response.status_code == 403


def test_when_request_malformed_or_oversize_expect_text_frame_through_ray_and_only_that_connection_closed(
        server: Server) -> None:
    check_bad_requests_close_only_their_connection(f"ws://127.0.0.1:{server.port}", MAX_REQUEST_BYTES, AUTH)


def test_when_sigterm_expect_ray_and_serve_shut_down_and_exit_status_0(server: Server) -> None:
    status, log = server.stop()
    assert status == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
