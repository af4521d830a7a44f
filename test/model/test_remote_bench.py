"""`vla_bench remote`, short: in-process vs openpi-server round trips of the same model, in the suite's JSON."""

from __future__ import annotations

import pytest

from vla_ros.bench.cli import SUITES

pytest.importorskip("openpi_server", reason="pip install --no-deps -r requirements-openpi.txt")


def test_when_remote_suite_runs_briefly_expect_added_latency_and_bytes_per_request() -> None:
    from vla_ros.bench.remote import run_remote

    assert "remote" in SUITES
    results = run_remote(iterations=5)
    for key in ("in_process", "remote", "round_trip", "server_infer"):
        assert set(results[key]) == {"p50_ms", "p99_ms", "max_ms", "n"} and results[key]["n"] == 5, key
    assert results["added_p50_ms"] == pytest.approx(results["remote"]["p50_ms"] - results["in_process"]["p50_ms"],
                                                    abs=1e-3)
    # two 224x224x3 uint8 images dominate the request; the reply is a [10, 6] float64 chunk plus timing
    assert 2 * 224 * 224 * 3 < results["bytes_sent_per_request"] < 2 * 224 * 224 * 3 + 4096
    assert 10 * 6 * 8 < results["bytes_received_per_request"] < 4096
