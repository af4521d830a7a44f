"""The fixed-rate control loop on a scripted clock: ticks on the grid, skips counted, errors contained."""

from __future__ import annotations

import itertools
import threading

import pytest

from vla_ros.execution.control_loop import ControlLoopHooks, ControlLoopThread, run_control_loop


class SteppedClock:
    """A sim-like clock: each read advances by `step` (and by `leap` once, at read `leap_at`)."""

    def __init__(self, step: float, leap_at: int = -1, leap: float = 0.0) -> None:
        self.now, self.step, self.reads, self.leap_at, self.leap = 0.0, step, 0, leap_at, leap

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step + (self.leap if self.reads == self.leap_at else 0.0)
        return self.now


def _loop_until(ticks: int, clock: SteppedClock, hooks: ControlLoopHooks | None = None,
                tick_body=None) -> tuple[list[float], object]:
    stop = threading.Event()
    stamps: list[float] = []

    def tick() -> None:
        stamps.append(clock.now)
        if tick_body is not None:
            tick_body(len(stamps))
        if len(stamps) >= ticks:
            stop.set()

    schedule = run_control_loop(0.01, clock, tick, stop, polls_clock=True, hooks=hooks)
    return stamps, schedule


def test_when_clock_steps_expect_one_tick_per_period_on_the_grid() -> None:
    stamps, schedule = _loop_until(20, SteppedClock(0.001))
    assert len(stamps) == 20
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(gap == pytest.approx(0.01, abs=0.0015) for gap in gaps)
    assert schedule.skipped == 0


def test_when_clock_leaps_expect_skipped_deadlines_reported_and_no_burst() -> None:
    skipped: list[int] = []
    stamps, schedule = _loop_until(10, SteppedClock(0.001, leap_at=50, leap=0.055),
                                   ControlLoopHooks(on_skipped=skipped.append))
    assert sum(skipped) == schedule.skipped == 5
    assert min(b - a for a, b in itertools.pairwise(stamps)) > 0.005


def test_when_tick_raises_expect_hook_decides_and_loop_goes_on() -> None:
    errors: list[Exception] = []

    def body(count: int) -> None:
        if count == 3:
            raise RuntimeError("publisher gone")

    stamps, _ = _loop_until(6, SteppedClock(0.001), ControlLoopHooks(on_tick_error=lambda e: errors.append(e)
                                                                     or False), body)
    assert len(stamps) == 6 and [str(e) for e in errors] == ["publisher gone"]


def test_when_tick_raises_and_hook_says_stop_expect_loop_ends() -> None:
    def body(count: int) -> None:
        raise RuntimeError("shutting down")

    stamps, _ = _loop_until(6, SteppedClock(0.001), ControlLoopHooks(on_tick_error=lambda e: True), body)
    assert len(stamps) == 1


def test_when_thread_stopped_expect_joined_and_restartable() -> None:
    loop = ControlLoopThread("test_control")
    started = threading.Event()
    loop.start(lambda stop: (started.set(), stop.wait(5.0)))
    assert started.wait(5.0) and loop.running
    loop.stop()
    assert not loop.running
    started.clear()
    loop.start(lambda stop: (started.set(), stop.wait(5.0)))
    assert started.wait(5.0)
    loop.stop()
