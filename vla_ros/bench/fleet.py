"""`vla_bench fleet`: N simulated robots against one vla_serve, 1 and 2 replicas, batching off and on.

Each robot is a thread that does what vla_node's remote backend does: builds the request from an observation
through the remote package's mapping (DROID layout: two 224x224x3 images, the joint state, a prompt, ~300 KB),
sends it over its own websocket (vla_ros.model.remote.connection) and waits for the chunk, at most at `rate_hz`
(a robot that falls behind sends again at once). Reported per configuration: chunks/s over all robots, the round
trip (p50/p99), and the batch sizes the server formed (from each reply's server_timing). Also, in the same run:
the Ray Serve path against `vla_serve --single-process` (same model, same request, one robot), `p99_ratio_8_to_1`
(batching on, one replica: p99 with 8 robots over p99 with 1) and the replica speedup at the largest fleet.
The robots share this process, so on a small machine the clients compete with the replicas for the cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.bench.remote import _observations, droid_layout_package, free_port, wait_healthy
from vla_ros.core.config import RemoteConfig
from vla_ros.core.timing import timing_stats
from vla_ros.model import load_model_package
from vla_ros.model.remote import codec
from vla_ros.model.remote.connection import RemoteConnection
from vla_ros.model.remote.request import build_request
from vla_ros.model.remote.spec import RemoteSpec

SERVER_START_TIMEOUT_S = 120.0


# ------------------------------------------------------------------------------------------------ servers


def start_vla_serve(model: Path, port: int, *extra: str, timeout_s: float = SERVER_START_TIMEOUT_S,
                    env: dict[str, str] | None = None, ca_file: Path | None = None) -> subprocess.Popen:
    """`vla_serve MODEL --port P ...` in its own process group, healthy when this returns (checked over https
    against `ca_file` when the server has a certificate). Its stderr goes to a temporary file (Ray logs a lot; a
    pipe nobody reads would block it), returned by stop_vla_serve."""
    log = tempfile.TemporaryFile(mode="w+", prefix="vla_serve_")
    process = subprocess.Popen([sys.executable, "-m", "vla_ros.serve.cli", str(model), "--port", str(port),
                                *extra], stdout=subprocess.DEVNULL, stderr=log, start_new_session=True, env=env)
    process.log = log  # type: ignore[attr-defined]
    try:
        wait_healthy(port, timeout_s, process, ca_file)
    except Exception:
        stop_vla_serve(process, signal.SIGKILL)
        raise
    return process


def stop_vla_serve(process: subprocess.Popen, signum: int = signal.SIGTERM, timeout_s: float = 60.0
                   ) -> tuple[int, str]:
    """Signal the server (SIGTERM: its clean shutdown), wait, return (exit status, its stderr). Whatever is
    left of its process group after that (a local Ray it did not stop) is killed."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    log = getattr(process, "log", None)
    if log is None:
        return process.returncode, ""
    log.seek(0)
    text = log.read()
    log.close()
    return process.returncode, text


# ------------------------------------------------------------------------------------------------ robots


class _Robot(threading.Thread):
    def __init__(self, url: str, spec: RemoteSpec, frames: list[bytes], rate_hz: float, stop_at: float,
                 warmup: int) -> None:
        super().__init__(daemon=True)
        self.url, self.spec, self.frames = url, spec, frames
        self.period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self.stop_at, self.warmup = stop_at, warmup
        self.round_trips_ms: list[float] = []
        self.batch_sizes: list[int] = []
        self.error = ""

    def run(self) -> None:
        connection = RemoteConnection(self.url, RemoteConfig(timeout_s=10.0))
        try:
            connection.open(10.0)
            next_send = time.monotonic()
            i = 0
            while time.monotonic() < self.stop_at:
                started = time.perf_counter()
                reply, _ = connection.exchange(self.frames[i % len(self.frames)], 10.0)
                elapsed = (time.perf_counter() - started) * 1e3
                if i >= self.warmup:
                    self.round_trips_ms.append(elapsed)
                    self.batch_sizes.append(int(reply.get("server_timing", {}).get("batch_size", 1)))
                i += 1
                next_send = max(next_send + self.period, time.monotonic())
                time.sleep(max(0.0, next_send - time.monotonic()))
        except Exception as error:  # reported in the results; one robot's failure must not hang the run
            self.error = f"{type(error).__name__}: {error}"
        finally:
            connection.close()


def drive_fleet(url: str, remote_dir: Path, robots: int, duration_s: float, rate_hz: float,
                warmup: int = 3) -> dict[str, Any]:
    """`robots` robots for duration_s against url: chunks/s, round trip, batch sizes."""
    package = load_model_package(remote_dir)
    spec = package.manifest.remote
    assert spec is not None
    frames = [codec.pack(build_request(spec, obs)) for obs in _observations(8, package.state_dim)]
    stop_at = time.monotonic() + duration_s
    fleet = [_Robot(url, spec, frames, rate_hz, stop_at, warmup) for _ in range(robots)]
    started = time.monotonic()
    for robot in fleet:
        robot.start()
    for robot in fleet:
        robot.join(duration_s + 30.0)
    elapsed = time.monotonic() - started
    round_trips = [ms for robot in fleet for ms in robot.round_trips_ms]
    sizes = Counter(size for robot in fleet for size in robot.batch_sizes)
    return {"robots": robots, "chunks_per_s": round(len(round_trips) / max(elapsed, 1e-9), 2),
            "round_trip": timing_stats(round_trips, 3) if round_trips else {"n": 0},
            "batch_sizes": {str(k): v for k, v in sorted(sizes.items())},
            "mean_batch_size": round(float(np.mean([s for r in fleet for s in r.batch_sizes])), 3)
            if sizes else None,
            "bytes_per_request": len(frames[0]), "errors": [r.error for r in fleet if r.error]}


# ------------------------------------------------------------------------------------------------ the suite


def run_fleet(model: str | None = None, robot_counts: tuple[int, ...] = (1, 2, 4, 8),
              replica_counts: tuple[int, ...] = (1, 2), batching: tuple[bool, ...] = (False, True),
              duration_s: float = 5.0, rate_hz: float = 15.0, max_batch_size: int = 8,
              batch_wait_ms: float = 5.0) -> dict[str, Any]:
    from vla_ros.ros.model_path import resolve_model_path  # the checkout's or the installed share's models/

    local_dir = resolve_model_path(model or "sim_act").resolve()
    configurations: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vla_bench_fleet_") as tmp:
        port = free_port()
        url = f"ws://127.0.0.1:{port}"
        remote_dir = droid_layout_package(local_dir, Path(tmp) / "remote", url)
        layout = ("--request-layout", str(remote_dir))
        server = start_vla_serve(local_dir, port, "--single-process", *layout)
        try:
            direct = drive_fleet(url, remote_dir, 1, duration_s, rate_hz)
        finally:
            stop_vla_serve(server)
        for replicas in replica_counts:
            for batched in batching:
                options = ["--replicas", str(replicas), "--cpus-per-replica", "0.5", *layout,
                           "--max-batch-size", str(max_batch_size if batched else 1),
                           "--batch-wait-ms", str(batch_wait_ms)]
                server = start_vla_serve(local_dir, port, *options)
                try:
                    for robots in robot_counts:
                        configurations.append({"replicas": replicas, "batching": batched,
                                               **drive_fleet(url, remote_dir, robots, duration_s, rate_hz)})
                finally:
                    stop_vla_serve(server)
    return {"model": local_dir.name, "rate_hz": rate_hz, "duration_s": duration_s,
            "max_batch_size": max_batch_size, "batch_wait_ms": batch_wait_ms,
            "request": "DROID layout: 2 x 224x224x3 uint8, joint state, prompt; loopback; robots are threads of "
                       "the bench process", "single_process": direct, "configurations": configurations,
            **_comparisons(direct, configurations)}


def _find(configurations: list[dict[str, Any]], replicas: int, batching: bool, robots: int) -> dict | None:
    for c in configurations:
        if (c["replicas"], c["batching"], c["robots"]) == (replicas, batching, robots):
            return c
    return None


def _comparisons(direct: dict[str, Any], configurations: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ray_one = _find(configurations, 1, False, 1) or _find(configurations, 1, True, 1)
    if ray_one and ray_one["round_trip"].get("n") and direct["round_trip"].get("n"):
        out["ray_overhead_p50_ms"] = round(ray_one["round_trip"]["p50_ms"] - direct["round_trip"]["p50_ms"], 3)
        out["ray_overhead_p99_ms"] = round(ray_one["round_trip"]["p99_ms"] - direct["round_trip"]["p99_ms"], 3)
    one, eight = _find(configurations, 1, True, 1), _find(configurations, 1, True, 8)
    if one and eight and one["round_trip"].get("n") and eight["round_trip"].get("n"):
        out["p99_ratio_8_to_1"] = round(eight["round_trip"]["p99_ms"] / one["round_trip"]["p99_ms"], 3)
    largest = max((c["robots"] for c in configurations), default=0)
    for batched in (False, True):
        single, double = _find(configurations, 1, batched, largest), _find(configurations, 2, batched, largest)
        if single and double and single["chunks_per_s"] > 0:
            key = f"replica_speedup_{largest}_robots_{'batching' if batched else 'no_batching'}"
            out[key] = round(double["chunks_per_s"] / single["chunks_per_s"], 3)
    return out
