"""`vla_bench competence`: task success of models/sim_act through the full ROS stack on the embedded sim.

Three passes over the same seeded episodes, each with vla_sim and vla_node as separate processes:
  onnx      the episodes' own instructions, onnxruntime backend
  ablated   the same episodes, instructions rotated by one episode (the language-ablated control: a policy
            that ignores the instruction keeps its success, one that follows it mostly fails)
  torch     the episodes' own instructions, torch backend (ONNX must match torch within +-4 points)
  remote    with --remote URL: the episodes' own instructions, the same model behind a policy server speaking
            openpi's protocol (`local` starts openpi's WebsocketPolicyServer on 127.0.0.1 serving the model),
            reached by the node's remote backend (must match onnx within +-4 points)
Targets: success >= 90 %, ablated <= 40 %, |onnx - torch| <= 4 points, |onnx - remote| <= 4 points.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vla_ros.bench.machine import machine_info
from vla_ros.core.timing import timing_stats
from vla_ros.sim.demo import DEFAULT_MODEL, DemoRun, run_episodes

TARGET_SUCCESS = 0.90
TARGET_ABLATED_MAX = 0.40
TARGET_BACKEND_GAP_POINTS = 4.0


def _pass_summary(run: DemoRun) -> dict[str, Any]:
    per_task: dict[str, list[bool]] = {}
    for result in run.results:
        per_task.setdefault(result.task, []).append(result.success)
    return {"backend": run.backend, "episodes": len(run.results),
            "successes": sum(r.success for r in run.results), "success_rate": round(run.success_rate, 4),
            "per_task": {task: round(sum(v) / len(v), 4) for task, v in sorted(per_task.items())},
            "chunk_latency": timing_stats(run.latencies_ms) if run.latencies_ms else None,
            "mean_episode_sim_s": round(sum(r.elapsed for r in run.results) / max(len(run.results), 1), 3),
            "seeds_failed": [r.seed for r in run.results if not r.success]}


def _remote_pass(model: Path, remote_url: str, episodes: int, first_seed: int, real_time_factor: float,
                 log: Callable[[str], None], node_overrides: dict[str, Any]) -> DemoRun:
    """The episodes through a policy server: `remote_url`, or `local` for openpi's server started here."""
    from vla_ros.bench.remote import free_port, mirror_package, start_server

    with tempfile.TemporaryDirectory(prefix="vla_competence_remote_") as tmp:
        server = None
        if remote_url == "local":
            port = free_port()
            remote_url = f"ws://127.0.0.1:{port}"
            server = start_server(model, mirror_package(model, Path(tmp) / "served", remote_url), port)
        remote_dir = mirror_package(model, Path(tmp) / "remote", remote_url)
        try:
            return run_episodes(remote_dir, episodes, first_seed, "remote", False, real_time_factor,
                                capture_frames=False, log=log, node_overrides=node_overrides)
        finally:
            if server is not None:
                server.kill()
                server.wait(10)


def run_competence_benchmark(episodes: int = 50, model: Path | str = DEFAULT_MODEL, first_seed: int = 1,
                             real_time_factor: float = 1.0, include_torch: bool = True,
                             log: Callable[[str], None] | None = None, remote_url: str | None = None,
                             include_ablated: bool = True,
                             node_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"suite": "competence", "machine": {...}, "results": {...}} (docs/interface.md bench JSON shape).

    log: progress lines (default: none, so `--json` output stays one object on stdout). node_overrides: vla_node
    parameters for every pass (e.g. normal scheduling where several robots share one small machine).
    """
    if episodes < 1:
        raise ValueError(f"episodes={episodes}: expected >= 1")
    quiet: Callable[[str], None] = log or (lambda _line: None)
    passes = {"onnx": run_episodes(Path(model), episodes, first_seed, "onnxruntime", False, real_time_factor,
                                   capture_frames=False, log=quiet, node_overrides=node_overrides)}
    if include_ablated:
        passes["ablated"] = run_episodes(Path(model), episodes, first_seed, "onnxruntime", True,
                                         real_time_factor, capture_frames=False, log=quiet,
                                         node_overrides=node_overrides)
    if include_torch:
        passes["torch"] = run_episodes(Path(model), episodes, first_seed, "torch", False, real_time_factor,
                                       capture_frames=False, log=quiet, node_overrides=node_overrides)
    if remote_url:
        passes["remote"] = _remote_pass(Path(model), remote_url, episodes, first_seed, real_time_factor, quiet,
                                        node_overrides or {})
    summaries = {name: _pass_summary(run) for name, run in passes.items()}
    success = summaries["onnx"]["success_rate"]
    ablated = summaries["ablated"]["success_rate"] if include_ablated else None
    results: dict[str, Any] = {
        "model": passes["onnx"].model, "episodes": episodes, "first_seed": first_seed,
        "real_time_factor": real_time_factor, "node_overrides": node_overrides or {}, "passes": summaries,
        "success_rate": success, "ablated_success_rate": ablated,
        "targets": {"success_min": TARGET_SUCCESS, "ablated_max": TARGET_ABLATED_MAX,
                    "onnx_vs_torch_max_gap_points": TARGET_BACKEND_GAP_POINTS},
        "meets": {"success": success >= TARGET_SUCCESS},
    }
    if ablated is not None:
        results["meets"]["ablated"] = ablated <= TARGET_ABLATED_MAX
    if include_torch:
        gap = abs(success - summaries["torch"]["success_rate"]) * 100.0
        results["torch_success_rate"] = summaries["torch"]["success_rate"]
        results["onnx_vs_torch_gap_points"] = round(gap, 2)
        results["meets"]["onnx_vs_torch"] = gap <= TARGET_BACKEND_GAP_POINTS
    if remote_url:
        gap = abs(success - summaries["remote"]["success_rate"]) * 100.0
        results["remote_success_rate"] = summaries["remote"]["success_rate"]
        results["onnx_vs_remote_gap_points"] = round(gap, 2)
        results["targets"]["onnx_vs_remote_max_gap_points"] = TARGET_BACKEND_GAP_POINTS
        results["meets"]["onnx_vs_remote"] = gap <= TARGET_BACKEND_GAP_POINTS
    return {"suite": "competence", "machine": machine_info(), "results": results}


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(json.dumps(run_competence_benchmark(count, log=lambda line: print(line, file=sys.stderr, flush=True)),
                      indent=2))
