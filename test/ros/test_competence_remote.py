"""`vla_bench competence --remote local`: the same episodes through openpi's server, compared with onnx."""

from __future__ import annotations

from vla_ros.bench.competence import run_competence_benchmark


def test_when_competence_runs_with_a_local_remote_server_expect_a_remote_pass_and_its_gap() -> None:
    report = run_competence_benchmark(1, include_torch=False, include_ablated=False, remote_url="local")
    results = report["results"]
    assert set(results["passes"]) == {"onnx", "remote"}
    assert results["passes"]["remote"]["backend"] == "remote"
    assert results["passes"]["remote"]["chunk_latency"]["n"] > 0  # chunks really came through the server
    assert results["onnx_vs_remote_gap_points"] == round(abs(results["success_rate"]
                                                               - results["remote_success_rate"]) * 100, 2)
    assert "onnx_vs_remote" in results["meets"] and "ablated" not in results["meets"]
