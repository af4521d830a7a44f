"""The control loop's deadline grid: phase kept through late ticks and stalls, restarted only by a clock reset."""

from __future__ import annotations

import math

import pytest

from vla_ros.execution.tick_schedule import TickSchedule

PERIOD = 0.02


def _run(schedule: TickSchedule, tick_times: list[float]) -> list[float]:
    """Ticks at the given clock readings; returns the deadline the schedule set after each one."""
    deadlines = []
    for now in tick_times:
        schedule.advance(now)
        deadlines.append(schedule.deadline)
    return deadlines


def _phase(t: float) -> float:
    """Offset of `t` from the grid 10.0 + k * PERIOD, wrapped to [-PERIOD/2, PERIOD/2)."""
    return (t - 10.0 + PERIOD / 2) % PERIOD - PERIOD / 2


def test_when_ticks_are_on_time_expect_one_deadline_a_period_apart() -> None:
    schedule = TickSchedule(PERIOD, 10.0)
    assert schedule.deadline == pytest.approx(10.02)
    assert _run(schedule, [10.0201, 10.0401, 10.0602]) == pytest.approx([10.04, 10.06, 10.08])
    assert schedule.skipped == 0 and schedule.restarts == 0


def test_when_a_tick_is_late_by_less_than_a_period_expect_the_next_deadline_kept() -> None:
    schedule = TickSchedule(PERIOD, 10.0)
    assert _run(schedule, [10.035]) == pytest.approx([10.04])  # 15 ms late: the next tick comes 5 ms later
    assert schedule.skipped == 0


def test_when_the_clock_stalls_for_many_periods_expect_the_grid_phase_kept_and_misses_counted() -> None:
    # A /clock delivery stall of 0.3 s resumes 7 ms past a grid point; the next deadline stays on the grid.
    schedule = TickSchedule(PERIOD, 10.0)
    _run(schedule, [10.0203, 10.0401])
    resumed = 10.347
    assert schedule.remaining(resumed) < 0  # the late tick is due at once
    missed = schedule.advance(resumed)
    assert schedule.deadline == pytest.approx(10.36)
    assert abs(_phase(schedule.deadline)) < 1e-9
    assert missed == 14 and schedule.skipped == 14  # the late tick served 10.06; 10.08 ... 10.34 passed


def test_when_a_tick_is_late_by_more_than_a_period_expect_passed_deadlines_skipped_not_burst() -> None:
    schedule = TickSchedule(PERIOD, 10.0)
    schedule.advance(10.02)
    assert schedule.advance(10.085) == 2  # ticked at 10.085 for 10.04: 10.06 and 10.08 passed, next 10.10
    assert schedule.deadline == pytest.approx(10.10)


def test_when_ticks_run_for_an_hour_of_stalls_expect_no_phase_drift() -> None:
    schedule = TickSchedule(PERIOD, 10.0)
    now = 10.0
    for k in range(1, 180_001):
        now = schedule.deadline + (0.0007 if k % 97 else 0.2137)  # every 97th tick a long stall
        schedule.advance(now)
    assert abs(_phase(schedule.deadline)) < 1e-6
    assert schedule.skipped > 0 and schedule.restarts == 0


def test_when_the_clock_goes_backwards_expect_a_new_grid_from_the_new_time() -> None:
    schedule = TickSchedule(PERIOD, 500.0)
    schedule.advance(500.02)
    assert schedule.remaining(3.005) == pytest.approx(PERIOD)  # sim reset to 3.005
    assert schedule.deadline == pytest.approx(3.025) and schedule.restarts == 1
    assert schedule.skipped == 0


def test_when_the_clock_goes_backwards_during_a_tick_expect_a_new_grid_not_a_long_wait() -> None:
    schedule = TickSchedule(PERIOD, 500.0)
    assert schedule.advance(1.0) == 0
    assert schedule.deadline == pytest.approx(1.02) and schedule.restarts == 1


@pytest.mark.parametrize("period", [0.0, -0.01, math.nan, math.inf])
def test_when_period_is_not_positive_and_finite_expect_error_naming_it(period: float) -> None:
    with pytest.raises(ValueError, match="period="):
        TickSchedule(period, 0.0)


def test_when_first_clock_reading_is_not_finite_expect_error_naming_it() -> None:
    with pytest.raises(ValueError, match="now=nan"):
        TickSchedule(PERIOD, math.nan)
