"""S10 deadline accounting."""

from __future__ import annotations

import pytest

from vla_ros.safety import DeadlineMonitor


def test_when_publishes_on_time_expect_no_late_counts():
    monitor = DeadlineMonitor(0.01)
    for k in range(100):
        monitor.tick(k * 0.01 + (0.001 if k % 2 else 0.0))  # 1 ms jitter is within 20%
    assert monitor.late == 0 and monitor.too_late == 0
    assert len(monitor.period_errors_ms) == 99


def test_when_publish_late_expect_late_and_too_late_counted():
    monitor = DeadlineMonitor(0.01)
    for now in (0.0, 0.01, 0.0235, 0.0335, 0.0555):  # intervals 10, 13.5, 10, 22 ms
        monitor.tick(now)
    assert monitor.late == 2  # 13.5 ms (35% late) and 22 ms
    assert monitor.too_late == 1  # 22 ms: more than a whole period late
    snapshot = monitor.snapshot()
    assert snapshot["late"] == 2 and snapshot["too_late"] == 1 and snapshot["ticks"] == 5
    assert snapshot["period_error"]["max_ms"] == pytest.approx(12.0)
    assert snapshot["period_error"]["n"] == 4


def test_when_clock_jumps_back_expect_no_late_count():
    monitor = DeadlineMonitor(0.01)
    for now in (5.0, 5.01, 1.0, 1.01):
        monitor.tick(now)
    assert monitor.late == 0 and monitor.clock_jumps == 1


def test_when_period_invalid_expect_error_naming_it():
    with pytest.raises(ValueError, match="period"):
        DeadlineMonitor(0.0)


def test_when_clock_reading_is_nan_expect_ignored():
    monitor = DeadlineMonitor(0.01)
    for now in (0.0, 0.01, float("nan"), 0.02, 0.03):
        monitor.tick(now)
    assert monitor.late == 0
    assert monitor.snapshot()["period_error"]["max_ms"] == pytest.approx(0.0, abs=1e-9)
