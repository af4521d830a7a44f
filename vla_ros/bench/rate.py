"""`vla_bench rate`: the command period error of vla_node, inference running, against a bare rclpy timer.

Per control rate: a bare timer process alone (the target's reference) and again at the control thread's
SCHED_FIFO priority (like for like), then vla_node for each inference / camera placement asked for, each with
a bare timer at the same priority running through the same window, so a stall of the whole machine shows in
both and a stall of the node's alone does not. The rig's 640x480 camera keeps publishing throughout.
"""

from __future__ import annotations

import os
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.bench.node_runs import INSTRUCTION, JOINTS, model_for_bench, node_params, period_errors, stamp_of

# --inference / --camera: where vla_node runs preprocessing and the model (parameter inference_process) and
# where it receives its cameras (camera_process): a child process, a thread of the node, or both in one run.
PLACEMENTS = {"process": [True], "thread": [False], "both": [True, False]}
BARE_TIMER_MODULE = "vla_ros.bench.bare_timer"


def _where(in_process: bool) -> str:
    return "process" if in_process else "thread"


def _signed_errors_ms(stamps: list[float], period: float) -> np.ndarray:
    return (np.diff(np.asarray(sorted(stamps))) - period) * 1e3


def _plot_period_errors(path: Path, rate: float, series: dict[str, np.ndarray]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.5))
    bins = np.linspace(-3, 3, 121)
    for label, errors in series.items():
        axis.hist(np.clip(errors, bins[0], bins[-1]), bins=bins, histtype="step", linewidth=1.5, label=label,
                  density=True)
    axis.set_yscale("log")
    axis.set_xlabel("publish interval - period [ms] (clipped to +-3)")
    axis.set_ylabel("density")
    axis.set_title(f"command period error at {rate:g} Hz")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _measure_bare_timer(stamps: list[float], subscription: Any, rate: float, priority: int,
                        duration_s: float) -> tuple[dict[str, Any], list[float]]:
    from vla_ros.bench.rig import NodeProcess, wait_until

    stamps.clear()
    timer = NodeProcess({"rate_hz": rate, "priority": priority}, module=BARE_TIMER_MODULE)
    try:
        wait_until(lambda: subscription.get_publisher_count() > 0, 60, "bare timer")
        wait_until(lambda: len(stamps) > 5, 30, "baseline messages")
        start = len(stamps)
        time.sleep(duration_s)  # the measurement window
        window = stamps[start:]
        return period_errors(window, 1.0 / rate), window
    finally:
        timer.stop()


def _measure_node(rig: Any, params: dict[str, Any], duration_s: float, period: float,
                  alongside: tuple[list[float], Any] | None = None) -> dict[str, Any]:
    """vla_node's commands in one window. `alongside` (the baseline stamps and their subscription): a bare timer
    at the control thread's priority runs through the same window, so a stall of the whole machine shows in
    both and a stall of the node's alone does not."""
    from vla_ros.bench.rig import NodeProcess, wait_until

    started = rig.now()
    node = NodeProcess(params)
    timer = None
    if alongside is not None:
        alongside[0].clear()
        timer = NodeProcess({"rate_hz": 1.0 / period, "priority": params["control_thread_priority"]},
                            module=BARE_TIMER_MODULE)
    try:
        if alongside is not None:
            wait_until(lambda: alongside[1].get_publisher_count() > 0, 60, "bare timer alongside")
        rig.wait_for_node()
        rig.instruct(INSTRUCTION)
        # The rig keeps the previous node's last status: only a status stamped after this start is this node's.
        first = rig.wait_for_status(lambda s: s.get("state") == "RUNNING" and s.get("stamp", 0.0) >= started, 60,
                                    "RUNNING")
        begin = rig.now()
        time.sleep(duration_s)  # the measurement window
        end = rig.now()
        stamps = [stamp_of(m) for _, m in rig.commands_between(begin, end)]
        status = rig.wait_for_status(lambda s: s.get("stamp", 0.0) >= end, 10, "status after the window")
    finally:
        node.stop()
        if timer is not None:
            timer.stop()
    measured = {**period_errors(stamps, period),
                "inferences_per_s": status.get("inferences", 0) / max(1e-9, end - begin),
                "inference_ms": status.get("timings_ms", {}), **_events_between(first, status)}
    if alongside is not None:
        reference = sorted(t for t in alongside[0] if begin <= t <= end)
        measured["bare_timer_alongside"] = alongside_errors = period_errors(reference, period)
        # The same window: this VM's quiet and busy minutes move both alike (see docs/benchmarks.md).
        measured["ratio_to_bare_timer_alongside"] = (measured["p99_ms"] / alongside_errors["p99_ms"]
                                                     if alongside_errors["p99_ms"] > 0 else None)
        measured["too_late_while_the_bare_timer_also_stalled"] = _coincident_stalls(stamps, reference, period)
    return {**measured, "stamps": stamps}


def _gaps(times: list[float], longer_than: float) -> list[tuple[float, float]]:
    return [(a, b) for a, b in pairwise(sorted(times)) if b - a > longer_than]


def _coincident_stalls(stamps: list[float], reference: list[float], period: float) -> int:
    """How many of the node's too-late intervals (> 2 periods) overlap a late interval (> 1.5 periods) of the
    reference timer: those the machine caused, since a process that shares nothing with the node stalled too."""
    reference_gaps = _gaps(reference, 1.5 * period)
    return sum(any(a < rb and ra < b for ra, rb in reference_gaps) for a, b in _gaps(stamps, 2.0 * period))


def _events_between(first: dict[str, Any], last: dict[str, Any]) -> dict[str, Any]:
    """What the node's status counted during the window: safety holds entered (a stalled camera or joint-state
    stream shows here even though commands kept flowing) and control deadlines skipped after a stall."""
    before, after = first.get("safety", {}), last.get("safety", {})
    holds = {name: after[name] - before.get(name, 0) for name in after
             if name.startswith("hold_") and after[name] > before.get(name, 0)}
    skipped = last.get("deadlines", {}).get("skipped", 0) - first.get("deadlines", {}).get("skipped", 0)
    return {"holds_entered": holds, "deadlines_skipped": skipped}


def _measure_rate(rig: Any, baseline_stamps: list[float], baseline_sub: Any, model: Path, rate: float,
                  duration_s: float, threads: int, priority: int, placement: str, camera: str,
                  plot_dir: Path | None) -> dict[str, Any]:
    """One control rate: the bare timer baselines, then vla_node once per placement variant."""
    period = 1.0 / rate
    # Baselines: a bare rclpy timer process alone (the target's reference), and the same with the control
    # thread's SCHED_FIFO priority (like for like). The rig's camera keeps publishing.
    baseline, bare_stamps = _measure_bare_timer(baseline_stamps, baseline_sub, rate, 0, duration_s)
    baseline_rt, bare_rt_stamps = (
        _measure_bare_timer(baseline_stamps, baseline_sub, rate, priority, duration_s)
        if priority > 0 else (None, []))
    entry: dict[str, Any] = {"bare_timer": baseline, "bare_timer_same_priority": baseline_rt,
                             "control_thread_priority": priority,
                             "fastdds_profile": os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE")}
    series = {"bare rclpy timer": _signed_errors_ms(bare_stamps, period)}
    if bare_rt_stamps:
        series[f"bare timer, prio {priority}"] = _signed_errors_ms(bare_rt_stamps, period)
    variants = [(i, c) for i in PLACEMENTS[placement] for c in PLACEMENTS[camera]]
    for number, (in_process, camera_process) in enumerate(variants):
        params = {**node_params(model, rate, threads, priority), "inference_process": in_process,
                  "camera_process": camera_process}
        measured = _measure_node(rig, params, duration_s, period,
                                 alongside=(baseline_stamps, baseline_sub) if priority > 0 else None)
        label = f"inference in a {_where(in_process)}, camera in a {_where(camera_process)}"
        series[f"vla_node, {label} (prio {priority})"] = _signed_errors_ms(measured.pop("stamps"), period)
        ratio = measured["p99_ms"] / baseline["p99_ms"] if baseline["p99_ms"] > 0 else None
        # The first variant (the defaults unless narrowed) is the headline the targets refer to.
        key = "vla_node_with_inference" if number == 0 else \
            f"vla_node_inference_{_where(in_process)}_camera_{_where(camera_process)}"
        entry[key] = {**measured, "inference_process": in_process, "camera_process": camera_process,
                      "ratio": ratio}
        if number == 0:
            entry["ratio"] = ratio
    if plot_dir is not None:
        _plot_period_errors(plot_dir / f"rate_period_error_{rate:g}hz.png", rate, series)
    return entry


def run_rate(rates: list[float], duration_s: float, model_path: str | None, threads: int,
             priority: int, plot_dir: Path | None = None, placement: str = "process",
             camera: str = "process") -> dict[str, Any]:
    from trajectory_msgs.msg import JointTrajectory

    from vla_ros.bench.rig import Rig
    from vla_ros.core.types import CommandInterface

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = model_for_bench(Path(tmp), (224, 224), model_path)
        rig = Rig(CommandInterface.JOINT_TRAJECTORY, JOINTS, image_size=(480, 640))
        baseline_stamps: list[float] = []
        baseline_sub = rig.node.create_subscription(
            JointTrajectory, "/bench/baseline", lambda m: baseline_stamps.append(stamp_of(m)), 1000)
        try:
            for rate in rates:
                results[f"{rate:g}hz"] = _measure_rate(rig, baseline_stamps, baseline_sub, model, rate, duration_s,
                                                       threads, priority, placement, camera, plot_dir)
        finally:
            rig.close()
    return results
