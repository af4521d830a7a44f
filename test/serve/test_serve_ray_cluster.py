"""vla_serve --address joins a Ray cluster that was already running (a head started with `ray start`, as on a GPU
box or under KubeRay), serves robots through it, and on SIGTERM deletes only its own application: the cluster
stays up for whatever else runs on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vla_ros.bench.fleet import start_vla_serve, stop_vla_serve
from vla_ros.bench.remote import free_port, mirror_package
from vla_ros.core.types import Observation
from vla_ros.model import PolicyUnavailable, load_model_package
from vla_ros.model.remote.policy import RemotePolicy

pytest.importorskip("ray.serve", reason="pip install .[serve]")

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"
OBS = Observation({"front": np.zeros((96, 96, 3), np.uint8)}, 0.0, "touch the red cube", np.zeros(6))
RAY = str(Path(sys.executable).parent / "ray")


# `ray start` (Ray >= 2.60) turns token authentication on and keeps the token in ~/.ray/auth_token; every
# driver that joins, vla_serve included, runs in token mode.
CLUSTER_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}


def _ray(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([RAY, *args], capture_output=True, text=True, timeout=timeout, env=CLUSTER_ENV)


@pytest.fixture
def cluster() -> Iterator[str]:
    if not Path(RAY).exists() and shutil.which("ray") is None:
        pytest.skip("the ray command is not installed")
    port = free_port()
    started = _ray("start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                   "--disable-usage-stats")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        _ray("stop", "--force")


def test_when_address_given_expect_served_through_the_cluster_and_cluster_left_running(cluster: str,
                                                                                        tmp_path: Path) -> None:
    port = free_port()
    process = start_vla_serve(SIM_ACT, port, "--address", cluster, "--replicas", "1", "--cpus-per-replica", "0.5",
                              env=CLUSTER_ENV, timeout_s=240.0)
    url = f"ws://127.0.0.1:{port}"
    package = load_model_package(mirror_package(SIM_ACT, tmp_path / "remote", url))
    try:
        policy = RemotePolicy(package)  # the robot needs no Ray token: only the server joins the cluster
        assert policy.infer(OBS).shape == (10, 6)
        policy.close()
    finally:
        status, log = stop_vla_serve(process)
    assert status == 0, log[-3000:]
    alive = _ray("status", f"--address={cluster}")
    assert alive.returncode == 0, alive.stdout + alive.stderr  # the cluster outlives the application
    with pytest.raises(PolicyUnavailable):  # and the application is gone from it
        RemotePolicy(package)
