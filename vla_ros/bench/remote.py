"""`vla_bench remote`, and a local openpi policy server for it and for the tests.

The server is openpi's own WebsocketPolicyServer (PyPI `openpi-server`, installed with --no-deps from
requirements-openpi.txt) wrapping PackagePolicy: a local model package run in process, fed from a request dict
laid out as a remote package's `remote:` section says (the inverse of vla_ros/model/remote/request.py). So the
same model can be run in vla_node's inference process and behind a websocket, and compared.

    python -m vla_ros.bench.remote --local models/sim_act --remote DIR --port 8000 [--fault MODE --fault-after N]

The suite: loopback, a DROID-layout request (two 224x224x3 images, the state, a prompt) to models/sim_act served
as above, against the same model in the inference process (ProcessPolicy, as vla_node runs both). It reports
the infer() wall time of each, the added latency (p50 and p99 differences) and the bytes per request.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vla_ros.core.timing import timing_stats
from vla_ros.core.types import Observation
from vla_ros.model import create_policy, load_model_package
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.remote.spec import KeyPath, RemoteLayout, RemoteSpec

# What a test server can be told to do wrong, after `fault_after` good replies.
FAULTS = ("none", "slow", "wrong_shape", "nan", "missing_key", "int_dtype", "error", "oversize")
WARMUP = 5


# ----------------------------------------------------------------------------------------- remote packages


def write_remote_package(out_dir: Path, *, name: str, url: str, cameras: list[dict[str, Any]],
                         state_keys: list[dict[str, Any]] | None, horizon: int, action_dim: int, semantics: str,
                         control_period_s: float, state_dtype: str = "float64", max_frozen_steps: int = 0) -> Path:
    """A remote vla.yaml (no normalization, no gripper mapping: the server answers in robot units)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format_version": 1, "name": name,
        "remote": {"url": url, "cameras": cameras,
                   "state": None if state_keys is None else {"dtype": state_dtype, "keys": state_keys},
                   "prompt_key": "prompt",
                   "actions": {"key": "actions", "horizon": horizon, "action_dim": action_dim,
                               "max_frozen_steps": max_frozen_steps}},
        "action": {"semantics": semantics, "normalization": {"kind": "none"}, "gripper": None},
        "control_period_s": control_period_s,
    }
    (out_dir / "vla.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return out_dir


def mirror_package(local_dir: Path, out_dir: Path, url: str, *, image_size: tuple[int, int] | None = None,
                   resize: str = "plain") -> Path:
    """A remote package for a local one, with LIBERO-style keys: observation/image (first camera),
    observation/<name>_image (others), observation/state, prompt; HWC uint8 at the model's image size."""
    local = load_model_package(local_dir)
    cameras = [{"name": cam.name, "key": "observation/image" if i == 0 else f"observation/{cam.name}_image",
                "size": list(image_size or cam.size), "resize": resize, "layout": "hwc", "dtype": "uint8"}
               for i, cam in enumerate(local.manifest.cameras)]
    state = None if local.state_dim is None else [{"key": "observation/state", "dim": local.state_dim}]
    flow = local.manifest.outputs.flow
    return write_remote_package(out_dir, name=f"remote_{local.name}", url=url, cameras=cameras, state_keys=state,
                                horizon=local.horizon, action_dim=local.action_dim,
                                semantics=local.semantics.value, control_period_s=local.control_period,
                                max_frozen_steps=0 if flow is None or flow.rtc is None else flow.rtc.max_delay_steps)


def droid_layout_package(local_dir: Path, out_dir: Path, url: str) -> Path:
    """The DROID request layout (exterior + wrist 224x224 resize_with_pad, joint state, prompt) in front of a local
    model: its first camera gets the exterior image; the state is the model's (sim_act: 6 joints)."""
    local = load_model_package(local_dir)
    first = local.camera_names[0]
    cameras = [{"name": first, "key": "observation/exterior_image_1_left", "size": [224, 224],
                "resize": "resize_with_pad", "layout": "hwc", "dtype": "uint8"},
               {"name": "wrist", "key": "observation/wrist_image_left", "size": [224, 224],
                "resize": "resize_with_pad", "layout": "hwc", "dtype": "uint8"}]
    state = None if local.state_dim is None else [{"key": "observation/joint_position", "dim": local.state_dim}]
    return write_remote_package(out_dir, name=f"droid_layout_{local.name}", url=url, cameras=cameras,
                                state_keys=state, horizon=local.horizon, action_dim=local.action_dim,
                                semantics=local.semantics.value, control_period_s=local.control_period)


# ------------------------------------------------------------------------------------------- the server side


def _get(request: dict[str, Any], key: KeyPath) -> Any:
    value: Any = request
    for part in key:
        value = value[part]
    return value


class PackagePolicy:
    """openpi's BasePolicy shape (infer(dict) -> dict, reset()) around a local model package."""

    def __init__(self, local_dir: Path, remote: RemoteSpec, fault: str = "none", fault_after: int = 0,
                 slow_s: float = 0.0) -> None:
        self.package = load_model_package(local_dir)
        self.policy, _ = create_policy(self.package, "onnxruntime", RuntimeOptions(intra_op_threads=1))
        self.remote = remote
        if fault not in FAULTS:
            raise ValueError(f"fault={fault!r}: expected one of {FAULTS}")
        self.fault, self.fault_after, self.slow_s = fault, fault_after, slow_s
        self.replies = 0

    def observation(self, request: dict[str, Any]) -> Observation:
        images = {}
        for camera in self.remote.cameras:
            if camera.name not in self.package.camera_names:
                continue  # sent (and paid for) but this model has no such camera
            image = np.asarray(_get(request, camera.key))
            if camera.layout is RemoteLayout.CHW:
                image = image.transpose(1, 2, 0)
            if image.dtype != np.uint8:
                image = (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)
            images[camera.name] = np.ascontiguousarray(image)
        state = None
        if self.remote.state is not None:
            state = np.concatenate([np.asarray(_get(request, k.key), dtype=np.float64).reshape(-1)
                                    for k in self.remote.state.keys])
        prompt = _get(request, self.remote.prompt_key) if self.remote.prompt_key else ""
        return Observation(images, 0.0, str(prompt), state)

    def infer(self, request: dict[str, Any]) -> dict[str, Any]:
        actions = self.policy.infer(self.observation(request))
        self.replies += 1
        fault = self.fault if self.replies > self.fault_after else "none"
        reply: dict[str, Any] = {"actions": actions}
        if fault == "slow":
            time.sleep(self.slow_s)
        elif fault == "wrong_shape":
            reply["actions"] = actions[:, :-1]
        elif fault == "nan":
            reply["actions"] = np.full_like(actions, np.nan)
        elif fault == "missing_key":
            reply = {"action": actions}
        elif fault == "int_dtype":
            reply["actions"] = actions.astype(np.int64)
        elif fault == "error":
            raise RuntimeError("injected server failure")
        elif fault == "oversize":
            reply["padding"] = np.zeros(8 << 20, dtype=np.uint8)
        return reply

    def reset(self) -> None:
        self.policy.reset()


def serve(local_dir: Path, remote_dir: Path, host: str, port: int, fault: str = "none", fault_after: int = 0,
          slow_s: float = 0.0) -> None:
    from openpi_server import WebsocketPolicyServer  # requirements-openpi.txt (pip install --no-deps)

    remote = load_model_package(remote_dir).manifest.remote
    assert remote is not None
    policy = PackagePolicy(local_dir, remote, fault, fault_after, slow_s)
    WebsocketPolicyServer(policy, host=host, port=port, metadata={"model": policy.package.name}).serve_forever()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(port: int, timeout_s: float = 60.0, process: subprocess.Popen | None = None,
                 ca_file: Path | None = None) -> None:
    """Until GET /healthz answers 200 (over https, verified against `ca_file`, when it is given)."""
    import ssl

    deadline = time.monotonic() + timeout_s
    context = None if ca_file is None else ssl.create_default_context(cafile=str(ca_file))
    url = f"{'http' if ca_file is None else 'https'}://127.0.0.1:{port}/healthz"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the policy server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1.0, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"no policy server on port {port} after {timeout_s} s")


def start_server(local_dir: Path, remote_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    """The server in its own process (its GIL is not ours), healthy when this returns."""
    process = subprocess.Popen([sys.executable, "-m", "vla_ros.bench.remote", "--local", str(local_dir),
                                "--remote", str(remote_dir), "--port", str(port), *extra],
                               stdout=subprocess.DEVNULL)  # vla_bench prints only its JSON on stdout
    try:
        wait_healthy(port, process=process)
    except Exception:
        process.kill()
        process.wait()
        raise
    return process


# ------------------------------------------------------------------------------------------------ the suite


def _observations(count: int, state_dim: int | None, seed: int = 0) -> list[Observation]:
    rng = np.random.default_rng(seed)
    return [Observation({name: rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for name in ("front", "wrist")},
                        0.0, "push the blue cylinder to the left",
                        None if state_dim is None else rng.uniform(-0.5, 0.5, state_dim)) for _ in range(count)]


def _time(policy: Any, observations: list[Observation], iterations: int) -> tuple[list[float], list[dict]]:
    wall, timings = [], []
    for i in range(WARMUP + iterations):
        started = time.perf_counter()
        policy.infer(observations[i % len(observations)])
        if i >= WARMUP:
            wall.append((time.perf_counter() - started) * 1e3)
            timings.append(dict(policy.timings_ms))
    return wall, timings


def run_remote(iterations: int = 200, model: str | None = None) -> dict[str, Any]:
    """`vla_bench remote` results: in-process vs remote infer() of the same model, added latency, bytes."""
    from vla_ros.model.process_policy import create_process_policy
    from vla_ros.ros.model_path import resolve_model_path  # the checkout's or the installed share's models/

    local_dir = resolve_model_path(model or "sim_act").resolve()
    local = load_model_package(local_dir)
    observations = _observations(16, local.state_dim)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vla_bench_remote_") as tmp:
        remote_dir = droid_layout_package(local_dir, Path(tmp) / "remote", f"ws://127.0.0.1:{port}")
        server = start_server(local_dir, remote_dir, port)
        try:
            in_process, _ = create_process_policy(local_dir, "onnxruntime", RuntimeOptions(intra_op_threads=1))
            try:
                local_ms, _ = _time(in_process, observations, iterations)
            finally:
                in_process.close()
            remote, _ = create_process_policy(remote_dir, "remote", RuntimeOptions())
            try:
                remote_ms, remote_timings = _time(remote, observations, iterations)
            finally:
                remote.close()
        finally:
            server.terminate()
            server.wait(10)
    local_stats, remote_stats = timing_stats(local_ms, 3), timing_stats(remote_ms, 3)
    return {
        "model": local.name, "iterations": iterations,
        "request": "DROID layout: 2 x 224x224x3 uint8 (resize_with_pad), joint state, prompt; loopback",
        "in_process": local_stats, "remote": remote_stats,
        "added_p50_ms": round(remote_stats["p50_ms"] - local_stats["p50_ms"], 3),
        "added_p99_ms": round(remote_stats["p99_ms"] - local_stats["p99_ms"], 3),
        "round_trip": timing_stats([t["round_trip"] for t in remote_timings], 3),
        "server_infer": timing_stats([t.get("server_infer", 0.0) for t in remote_timings], 3),
        "bytes_sent_per_request": int(np.median([t["bytes_sent"] for t in remote_timings])),
        "bytes_received_per_request": int(np.median([t["bytes_received"] for t in remote_timings])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vla_ros.bench.remote",
                                     description="serve a local model package through openpi's policy server")
    parser.add_argument("--local", type=Path, required=True, help="the local model package to run")
    parser.add_argument("--remote", type=Path, required=True, help="the remote package giving the request layout")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fault", choices=FAULTS, default="none", help="misbehave (tests)")
    parser.add_argument("--fault-after", type=int, default=0, help="good replies before the fault")
    parser.add_argument("--slow-s", type=float, default=2.0, help="delay of the 'slow' fault, s")
    args = parser.parse_args(argv)
    serve(args.local, args.remote, args.host, args.port, args.fault, args.fault_after, args.slow_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
