"""`vla_bench backends`: the same model and the same inputs on every backend available here.

Per backend: end-to-end infer() (preprocess + model + decode) and the model call alone, as p50/p99/max ms.
Ratios are torch eager p50 / backend p50 (> 1 = faster than torch), measured in the same run; parity is the
max abs difference and cosine of the decoded actions against torch.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.bench.machine import machine_info
from vla_ros.core.timing import timing_stats
from vla_ros.model.backends.onnxruntime_backend import CPU_PROVIDER, available_gpu_providers
from vla_ros.model.errors import BackendUnavailable, ModelPackageError
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage, load_model_package
from vla_ros.model.policy import ModelPolicy
from vla_ros.model.runtime import create_policy
from vla_ros.training.export import cosine_similarity, random_observations

WARMUP = 10


def _candidates(options: RuntimeOptions) -> list[tuple[str, str, RuntimeOptions]]:
    """(result key, backend, options) for everything worth timing."""
    found = [("torch", "torch", options),
             ("onnxruntime_cpu", "onnxruntime", RuntimeOptions(**{**options.__dict__, "providers": (CPU_PROVIDER,)}))]
    gpu = available_gpu_providers()
    if "CUDAExecutionProvider" in gpu:
        found.append(("onnxruntime_cuda", "onnxruntime",
                      RuntimeOptions(**{**options.__dict__, "providers": ("CUDAExecutionProvider", CPU_PROVIDER)})))
    found.append(("tensorrt", "tensorrt", options))
    found.append(("tensorrt_fp16", "tensorrt", RuntimeOptions(**{**options.__dict__, "trt_fp16": True})))
    return found


# Per-stage times the multi-graph sessions report (vla_ros/model/{autoregressive,flow}).
STAGES = ("prefill_ms", "decode_token_ms", "prefix_ms", "denoise_step_ms")


def _time_policy(policy: ModelPolicy, observations: list, iterations: int
                 ) -> tuple[list[float], list[float], dict[str, list[float]]]:
    end_to_end, model_only = [], []
    stages: dict[str, list[float]] = {}
    for i in range(min(WARMUP, iterations) + iterations):
        obs = observations[i % len(observations)]
        t0 = time.perf_counter()
        policy.infer(obs)
        elapsed = (time.perf_counter() - t0) * 1e3
        if i >= min(WARMUP, iterations):
            end_to_end.append(elapsed)
            model_only.append(policy.timings_ms["inference"])
            for stage in STAGES:
                if stage in policy.timings_ms:
                    stages.setdefault(stage, []).append(policy.timings_ms[stage])
    return end_to_end, model_only, stages


def _rss_mib() -> float:
    """This process's resident memory (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _weights_mib(package: ModelPackage) -> float:
    files = [*package.graph_paths.values()]
    files += [p for p in (package.onnx_path, package.torch_state_dict_path) if p is not None]
    return sum(f.stat().st_size for f in files) / 2**20


def run_backends_benchmark(package_dir: Path | None, iterations: int, *,
                           options: RuntimeOptions | None = None) -> dict[str, Any]:
    """docs/interface.md `vla_bench` shape: {"suite": "backends", "machine": {...}, "results": {...}}."""
    if iterations < 1:
        raise ValueError(f"iterations={iterations}: expected >= 1")
    options = options or RuntimeOptions()
    with tempfile.TemporaryDirectory(prefix="vla_bench_") as tmp:
        if package_dir is None:
            from vla_ros.training.package_builder import build_example_package

            package_dir = build_example_package(Path(tmp) / "act_example", "act")
        package = load_model_package(package_dir)
        return _benchmark(package, iterations, options)


def _benchmark(package: ModelPackage, iterations: int, options: RuntimeOptions) -> dict[str, Any]:
    observations = random_observations(package.manifest, 8, seed=1)
    results: dict[str, Any] = {"model": package.name, "kind": package.manifest.outputs.kind.value,
                               "horizon": package.horizon, "action_dim": package.action_dim,
                               "weights_mib": round(_weights_mib(package), 1),
                               "backends": {}, "ratio": {}, "parity": {}, "skipped": {}}
    reference: list[np.ndarray] | None = None
    p50: dict[str, float] = {}
    for key, backend, opts in _candidates(options):
        rss_before = _rss_mib()
        try:
            policy, selection = create_policy(package, backend, opts)
        except (BackendUnavailable, ModelPackageError) as exc:
            results["skipped"][key] = str(exc)
            continue
        actions = [policy.infer(obs) for obs in observations]
        # Resident memory the loaded model and one inference's buffers added to this process.
        model_memory_mib = round(_rss_mib() - rss_before, 1)
        end_to_end, model_only, stages = _time_policy(policy, observations, iterations)
        results["backends"][key] = {"providers": selection.providers, "end_to_end": timing_stats(end_to_end),
                                    "inference": timing_stats(model_only), "model_memory_mib": model_memory_mib,
                                    "stages": {name: timing_stats(values) for name, values in stages.items()}}
        del policy  # the next backend's memory is measured from here
        p50[key] = results["backends"][key]["inference"]["p50_ms"]
        if key == "torch":
            reference = actions
        elif reference is not None:
            ref, got = np.stack(reference), np.stack(actions)
            results["parity"][key] = {"max_abs": float(np.max(np.abs(ref - got))),
                                      "cosine": cosine_similarity(ref, got), "n": len(observations)}
    if "torch" in p50:
        for key, value in p50.items():
            if key != "torch" and value > 0:
                results["ratio"][f"{key}_vs_torch"] = p50["torch"] / value
    return {"suite": "backends", "machine": machine_info(), "results": results}
