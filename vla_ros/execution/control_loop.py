"""The fixed-rate control loop: a clock, a stop event and a tick function, on a thread of its own (ROS-free).

An executor timer would share its dispatch with image callbacks and the rebuild of the wait set; a thread that
sleeps to absolute deadlines only waits for the GIL. The deadlines keep their phase through a stall
(TickSchedule): the next one is chosen as each tick starts, as rcl_timer_call does, so a late start skips the
deadlines already past and a slow tick is followed at once by the one then due. On sim time the clock advances
in /clock steps, so the loop polls it; on wall time it sleeps the whole remainder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from vla_ros.execution.tick_schedule import TickSchedule

Clock = Callable[[], float]

# How often a sim-time loop looks at the clock: /clock arrives in steps the loop cannot sleep through.
SIM_TIME_POLL_S = 0.001


@dataclass(frozen=True)
class ControlLoopHooks:
    """What the loop calls besides the tick. Each is optional; the loop itself never raises out of a tick."""

    # Deadlines that passed during a stall, reported as they are skipped (counted in /vla/status).
    on_skipped: Callable[[int], None] | None = None
    # A tick raised. Returns True to stop the loop (the process is shutting down), False to go on.
    on_tick_error: Callable[[Exception], bool] | None = None


def run_control_loop(period: float, clock: Clock, tick: Callable[[], None], stop: threading.Event,
                     polls_clock: bool, hooks: ControlLoopHooks | None = None) -> TickSchedule:
    """Call `tick` once per `period` of `clock` until `stop` is set; returns the schedule with its counts.

    `polls_clock` is for clocks that move in steps the loop cannot sleep through (sim time): the loop then
    waits in short polls instead of sleeping to the deadline. A tick that raises never ends the command
    stream by itself: the error goes to `hooks.on_tick_error`, which decides.
    """
    hooks = hooks or ControlLoopHooks()
    schedule = TickSchedule(period, clock())
    while not stop.is_set():
        while True:
            remaining = schedule.remaining(clock())
            if remaining <= 0 or stop.is_set():
                break
            stop.wait(min(remaining, SIM_TIME_POLL_S) if polls_clock else remaining)
        if stop.is_set():
            break
        skipped = schedule.advance(clock())
        if skipped and hooks.on_skipped is not None:
            hooks.on_skipped(skipped)
        try:
            tick()
        except Exception as error:  # a bug in one tick must not silently stop the command stream
            if hooks.on_tick_error is None or hooks.on_tick_error(error):
                break
    return schedule


class ControlLoopThread:
    """run_control_loop on a named daemon thread; `start()` and `stop()` may each be called more than once."""

    def __init__(self, name: str = "vla_control") -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, body: Callable[[threading.Event], object]) -> None:
        """Run `body(stop_event)` on the thread; `body` is normally a closure over run_control_loop."""
        self.stop()
        self._stop.clear()
        self._thread = threading.Thread(target=body, args=(self._stop,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)
