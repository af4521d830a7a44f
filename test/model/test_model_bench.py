"""The backends benchmark returns the docs/interface.md vla_bench shape (timings are not asserted here)."""

from __future__ import annotations

from pathlib import Path

from vla_ros.bench.backends import run_backends_benchmark


def test_when_backends_benchmarked_expect_suite_shape_with_ratios_and_parity(act_package_dir: Path) -> None:
    report = run_backends_benchmark(act_package_dir, iterations=3)
    assert report["suite"] == "backends" and "cpu_count" in report["machine"]
    results = report["results"]
    for backend in ("torch", "onnxruntime_cpu"):
        for section in ("end_to_end", "inference"):
            stats = results["backends"][backend][section]
            assert set(stats) == {"p50_ms", "p99_ms", "max_ms", "n"} and stats["n"] == 3
            assert 0 < stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert results["ratio"]["onnxruntime_cpu_vs_torch"] > 0
    assert results["parity"]["onnxruntime_cpu"]["max_abs"] <= 1e-4
    assert results["parity"]["onnxruntime_cpu"]["cosine"] >= 0.999
