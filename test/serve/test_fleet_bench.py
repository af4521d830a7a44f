"""`vla_bench fleet` with tiny settings: one replica with batching, 1 and 2 robots, one second each."""

from __future__ import annotations

import pytest

from vla_ros.bench.fleet import run_fleet

pytest.importorskip("ray.serve", reason="pip install .[serve]")


def test_when_fleet_bench_runs_tiny_expect_every_figure_for_each_configuration() -> None:
    results = run_fleet("sim_act", robot_counts=(1, 2), replica_counts=(1,), batching=(True,), duration_s=1.0,
                        rate_hz=20.0, max_batch_size=4)
    assert results["single_process"]["chunks_per_s"] > 0 and not results["single_process"]["errors"]
    assert [(c["replicas"], c["batching"], c["robots"]) for c in results["configurations"]] == \
        [(1, True, 1), (1, True, 2)]
    for configuration in results["configurations"]:
        assert not configuration["errors"], configuration["errors"]
        assert configuration["chunks_per_s"] > 0 and configuration["round_trip"]["p99_ms"] > 0
        assert configuration["batch_sizes"] and configuration["bytes_per_request"] > 2 * 224 * 224 * 3
    assert "ray_overhead_p50_ms" in results and "ray_overhead_p99_ms" in results
