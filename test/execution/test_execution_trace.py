"""The simulated command trace used for the docs plot."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.bench.trace import render_trace_png, simulate_trace
from vla_ros.core.config import Blending, ExecutionConfig


def test_when_crossfading_expect_smaller_boundary_steps_than_a_hard_switch_on_the_same_chunks() -> None:
    hard = simulate_trace(ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.0), seed=3)
    soft = simulate_trace(ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.1), seed=3)
    assert len(hard["chunks"]) >= 5 and all(c["accepted"] for c in hard["chunks"])
    assert soft["max_tick_jump"] < hard["max_tick_jump"]
    # Inference latency was compensated: every chunk skipped the steps that were due while it was computed.
    assert all(c["skipped_steps"] >= 1 for c in soft["chunks"])


def test_when_simulated_expect_command_follows_reference_within_prediction_error() -> None:
    trace = simulate_trace(ExecutionConfig(blending=Blending.ENSEMBLE, ensemble_decay=0.1), action_dim=3,
                           prediction_error=0.01, seed=1)
    covered = np.all(np.isfinite(trace["command"]), axis=1)
    assert covered[-1] and covered.mean() > 0.9  # nothing to command before the first chunk arrives
    error = np.abs(trace["command"][covered] - trace["reference"][covered])
    assert error.max() < 0.1


def test_when_rendered_expect_a_png_file(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    traces = [simulate_trace(ExecutionConfig(blending=b)) for b in Blending]
    out = render_trace_png(traces, tmp_path / "plots" / "trace.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
