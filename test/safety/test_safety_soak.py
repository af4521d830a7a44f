"""The simulated soak: a short run passes, and its checks catch a supervisor that lets commands through."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vla_ros.bench.soak import FAULT_KINDS, run_soak
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety import SafetySupervisor


def test_when_soaking_with_random_faults_expect_no_violations_and_every_hold_in_time():
    result = run_soak(duration_s=100.0, rate_hz=100.0, seed=7)
    assert result["passed"], result["problem_examples"]
    assert result["limit_violations"] == 0 and result["late_detections"] == 0
    assert result["max_detection_delay_ms"] <= result["detection_delay_bound_ms"] + 1e-6
    assert result["ticks"] == 10_000
    in_progress_at_segment_end = len(result["interfaces"])  # one fault may still run when a segment ends
    for kind in FAULT_KINDS:
        assert result["faults"][kind] > 0, kind
        assert result["faults"][kind] - result["recovered"][kind] <= in_progress_at_segment_end, kind
        if kind != "huge_proposal":  # huge proposals are limited, not held
            assert result["faults"][kind] - result["holds_detected"][kind] <= in_progress_at_segment_end, kind
    assert result["holds_detected"]["huge_proposal"] == 0
    assert result["supervisor_counters"]["velocity_scaled"] > 0


def test_when_same_seed_expect_same_fault_counts():
    first = run_soak(duration_s=10.0, rate_hz=100.0, seed=3)
    second = run_soak(duration_s=10.0, rate_hz=100.0, seed=3)
    assert first["faults"] == second["faults"]
    assert first["supervisor_counters"] == second["supervisor_counters"]


class _PassThroughWhileRunning(SafetySupervisor):
    """A broken supervisor: decides holds correctly but publishes the proposal unfiltered while running."""

    def step(self, inputs):
        decision = super().step(inputs)
        if decision.state is NodeState.RUNNING and inputs.proposed is not None and np.all(
                np.isfinite(inputs.proposed)):
            return dataclasses.replace(decision, command=np.asarray(inputs.proposed, dtype=float))
        return decision


@pytest.mark.parametrize("interface", list(CommandInterface))
def test_when_supervisor_does_not_limit_expect_soak_reports_violations(interface):
    result = run_soak(duration_s=5.0, rate_hz=100.0, seed=1, interfaces=(interface,),
                      supervisor_factory=_PassThroughWhileRunning)
    assert not result["passed"]
    assert result["limit_violations"] > 0


def test_when_duration_invalid_expect_error_naming_it():
    with pytest.raises(ValueError, match="duration_s"):
        run_soak(duration_s=0.0, rate_hz=100.0, seed=0)
