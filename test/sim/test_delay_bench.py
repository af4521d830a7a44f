"""vla_bench delay: the blending comparison under injected inference delay, on the embedded sim in process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla_ros.bench.delay import boundary_metrics, run_delay

ROOT = Path(__file__).resolve().parents[2]


def test_when_a_stream_jumps_at_a_boundary_expect_the_jump_as_boundary_step_and_not_within_chunk() -> None:
    ramp = [np.full(2, 0.01 * i) for i in range(40)]
    jumped = ramp[:20] + [q + 0.3 for q in ramp[20:]]
    metrics = boundary_metrics([(jumped, [20])], dt=0.02)
    assert metrics["boundaries"] == 1
    assert metrics["boundary_step_max_rad"] == pytest.approx(0.31)
    assert metrics["within_chunk_step_max_rad"] == pytest.approx(0.01)
    assert metrics["boundary_jerk_max"] > 100 * metrics["within_chunk_jerk_p99"] + 1.0


def test_when_inference_is_delayed_expect_fewer_chunks_and_the_mode_without_support_skipped() -> None:
    result = run_delay(ROOT / "models" / "sim_act", episodes=1, delays_s=(0.0, 0.3), modes=("latest", "no_such"))
    rows = result["modes"]["latest"]
    assert set(rows) == {"0", "300"}
    # A model that takes 300 ms can hand over at most one chunk per 300 ms of sim time; at 0 ms one per frame.
    assert rows["300"]["planned"]["boundaries"] < rows["0"]["planned"]["boundaries"]
    assert 0.0 <= rows["0"]["success_rate"] <= 1.0
    assert "skipped" in result["modes"]["no_such"]


def test_when_an_inference_interval_is_set_expect_fewer_boundaries_and_the_override_reported() -> None:
    every_frame = run_delay(ROOT / "models" / "sim_act", episodes=1, delays_s=(0.0,), modes=("latest",))
    paced = run_delay(ROOT / "models" / "sim_act", episodes=1, delays_s=(0.0,), modes=("latest",),
                      node_overrides={"execution.inference_interval_s": 0.5})
    assert paced["node_overrides"] == {"execution.inference_interval_s": 0.5}
    # Frames come at 15 Hz: every frame gives a chunk every 67 ms, the interval one every 0.5 s of sim time.
    paced_boundaries = paced["modes"]["latest"]["0"]["planned"]["boundaries"]
    assert paced_boundaries * 4 < every_frame["modes"]["latest"]["0"]["planned"]["boundaries"]
