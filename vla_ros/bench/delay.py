"""`vla_bench delay`: blending modes side by side under inference delay, on the embedded sim's clock.

For each blending mode (rtc, latest with its crossfade, ensemble) and each injected delay (0, 100, 200, 300 ms by
default) the same seeded episodes run through the node's own Pipeline, hand-driven on sim time: camera frames
at the sim's camera rate, joint states and control ticks at the node's rate, the safety-filtered command of
every tick sent to the sim as the node would send it. `execution.injected_delay_s` makes each chunk arrive
exactly `delay` after its observation, so the bundled sub-millisecond models behave like 100-300 ms VLAs
whatever this machine's speed (in process, no ROS: the ROS path is the competence suite's).

Reported per mode and delay: success rate, and at chunk boundaries (the ticks from a chunk's hand-over to
BOUNDARY_WINDOW_S after it, which covers a crossfade) the largest per-tick step of any joint and the largest
jerk (third difference of positions / dt^3), max and p99 over boundaries; the same figures over the ticks away
from boundaries are the within-chunk baseline. Both for the `planned` stream (what the blending mode makes of
the chunks) and the `commanded` one (after the safety layer's velocity and acceleration limits, which bound
steps and jerk whatever the blending does: a large planned jump shows there as a limit intervention).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.core.config import Blending

DEFAULT_DELAYS_S = (0.0, 0.1, 0.2, 0.3)
DEFAULT_MODES = ("rtc", "latest", "ensemble")
BOUNDARY_WINDOW_S = 0.1


@dataclass
class _EpisodeTrace:
    success: bool
    commands: list[np.ndarray] = field(default_factory=list)  # safety-filtered position command per tick
    planned: list[np.ndarray] = field(default_factory=list)  # the blended chunks' value per tick, before safety
    boundaries: list[int] = field(default_factory=list)  # tick indices where a new chunk took over


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def boundary_metrics(streams: list[tuple[list[np.ndarray], list[int]]], dt: float) -> dict[str, Any]:
    """Largest step (rad per tick) and jerk (rad/s^3) at chunk boundaries and elsewhere, over all episodes'
    (positions per tick, boundary tick indices)."""
    window = max(1, round(BOUNDARY_WINDOW_S / dt))
    at_boundary_step: list[float] = []
    at_boundary_jerk: list[float] = []
    elsewhere_step: list[float] = []
    elsewhere_jerk: list[float] = []
    for positions, boundaries in streams:
        if len(positions) < 4:
            continue
        q = np.asarray(positions)
        step = np.max(np.abs(np.diff(q, axis=0)), axis=1)  # step[i]: tick i -> i + 1
        jerk = np.max(np.abs(np.diff(q, n=3, axis=0)), axis=1) / dt ** 3  # jerk[i]: ticks i .. i + 3
        near_step = np.zeros(len(step), dtype=bool)
        near_jerk = np.zeros(len(jerk), dtype=bool)
        for tick in boundaries:
            # The step into the boundary tick counts, and every jerk window that contains that step.
            steps = slice(max(0, tick - 1), tick + window)
            jerks = slice(max(0, tick - 3), tick + window)
            near_step[steps] = True
            near_jerk[jerks] = True
            at_boundary_step.append(float(step[steps].max(initial=0.0)))
            at_boundary_jerk.append(float(jerk[jerks].max(initial=0.0)))
        elsewhere_step += step[~near_step].tolist()
        elsewhere_jerk += jerk[~near_jerk].tolist()
    return {
        "boundaries": len(at_boundary_step),
        "boundary_step_max_rad": _percentile(at_boundary_step, 100), "boundary_step_p99_rad":
            _percentile(at_boundary_step, 99),
        "boundary_jerk_max": _percentile(at_boundary_jerk, 100), "boundary_jerk_p99": _percentile(at_boundary_jerk, 99),
        "within_chunk_step_max_rad": _percentile(elsewhere_step, 100),
        "within_chunk_jerk_p99": _percentile(elsewhere_jerk, 99),
    }


def _run_episode(sim: Any, make_pipeline: Callable[[Callable[[], float]], Any], seed: int, camera_period: float,
                 control_period: float) -> _EpisodeTrace:
    from vla_ros.sim.commands import JointTrajectoryCommand, TrajectoryPoint
    from vla_ros.sim.model import ARM_JOINTS

    episode = sim.reset(seed)
    pipeline = make_pipeline(lambda: sim.time)
    pipeline.activate(sim.time, hand_driven=True)
    pipeline.on_instruction(episode.instruction)
    trace = _EpisodeTrace(success=False)
    next_frame = sim.time
    chunks = pipeline.inference_count
    status = sim.episode_status()
    while not status.done:
        now = sim.time
        q = sim.joint_positions()[: len(ARM_JOINTS)]
        pipeline.on_joint_state(list(ARM_JOINTS), q.tolist(), now)
        if now >= next_frame - 1e-9:
            pipeline.on_image("front", sim.render(), now, now)
            next_frame += camera_period
        pipeline.run_inference_once(now)
        output = pipeline.control_tick(now)
        if pipeline.inference_count != chunks:
            chunks = pipeline.inference_count
            trace.boundaries.append(len(trace.commands))
        planned = pipeline.scheduler.sample(now)
        if output.decision.publish and planned is not None:
            trace.planned.append(planned)
            trace.commands.append(np.asarray(output.decision.command, dtype=float).copy())
            points = tuple(TrajectoryPoint(max(t, 0.0) + 1e-4, np.asarray(p, dtype=float))
                           for t, p in output.trajectory)
            sim.command_trajectory(JointTrajectoryCommand(ARM_JOINTS, points, None))
        sim.step(control_period)
        status = sim.episode_status()
    pipeline.deactivate()
    trace.success = bool(status.success)
    return trace


def run_delay(model: Path | str, episodes: int = 20, first_seed: int = 1,
              delays_s: tuple[float, ...] = DEFAULT_DELAYS_S, modes: tuple[str, ...] = DEFAULT_MODES,
              backend: str = "onnxruntime", log: Callable[[str], None] | None = None,
              plot_dir: Path | None = None, node_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The suite's results: {mode: {delay_ms: {...}}}, plus the set-up. Modes the package cannot run
    (rtc without a real-time-chunking package) are reported as skipped with the reason. `node_overrides` are
    vla_node parameters for every mode and delay (execution.inference_interval_s, for one)."""
    from vla_ros.core.parameters import build_node_config
    from vla_ros.model import RuntimeOptions, create_policy, load_model_package
    from vla_ros.pipeline import Pipeline
    from vla_ros.pipeline.pacing import pacing_advice
    from vla_ros.sim.demo import node_parameters
    from vla_ros.sim.world import ArmSim, SimConfig

    say = log or (lambda _line: None)
    package = load_model_package(model)
    policy, selection = create_policy(package, backend, RuntimeOptions(intra_op_threads=1))
    height, width = package.expected_image_size("front") or (96, 96)
    sim_params = node_parameters("vla_sim", {})
    camera_period = 1.0 / float(sim_params.get("camera_rate_hz", 15.0))
    base = {**node_parameters("vla_node", {"model_path": str(model), "backend": backend}), **(node_overrides or {})}
    base.pop("use_sim_time", None)
    sim = ArmSim(SimConfig(image_width=int(width), image_height=int(height)))
    results: dict[str, Any] = {}
    # One pipeline per episode: its configure-time warnings would repeat for every episode, so they are said once
    # per mode and delay below instead.
    quiet = logging.getLogger("vla_ros.bench.delay")
    quiet.setLevel(logging.ERROR)
    try:
        for mode in modes:
            if mode not in {b.value for b in Blending}:
                results[mode] = {"skipped": f"execution.blending has no mode {mode!r} in this build"}
                continue
            results[mode] = {}
            for delay in delays_s:
                config = build_node_config({**base, "execution.blending": mode, "execution.injected_delay_s": delay})
                control_period = config.execution.control_period
                if advice := pacing_advice(config):
                    say(f"delay {mode}: {advice}")

                def make_pipeline(clock: Callable[[], float], config=config) -> Any:
                    return Pipeline(config, package, policy, selection.name, clock, quiet)

                traces = [_run_episode(sim, make_pipeline, seed, camera_period, control_period)
                          for seed in range(first_seed, first_seed + episodes)]
                row = {"success_rate": round(sum(t.success for t in traces) / len(traces), 4),
                       "planned": boundary_metrics([(t.planned, t.boundaries) for t in traces], control_period),
                       "commanded": boundary_metrics([(t.commands, t.boundaries) for t in traces], control_period)}
                results[mode][f"{round(delay * 1e3)}"] = row
                say(f"delay {mode:<9} {delay * 1e3:5.0f} ms: success {row['success_rate']:.0%}, planned boundary "
                    f"step max {row['planned']['boundary_step_max_rad']} rad, jerk p99 "
                    f"{row['planned']['boundary_jerk_p99']}")
    finally:
        sim.close()
    document = {"model": package.name, "backend": selection.name, "episodes": episodes, "first_seed": first_seed,
                "node_overrides": dict(node_overrides or {}),
                "delays_ms": [round(d * 1e3) for d in delays_s], "boundary_window_s": BOUNDARY_WINDOW_S,
                "modes": results}
    if plot_dir is not None:
        document["plot"] = str(plot_delay(document, Path(plot_dir) / "delay.png"))
    return document


def plot_delay(document: dict[str, Any], path: Path) -> Path:
    """Success, boundary step and boundary jerk against delay, one line per blending mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("success_rate", "success rate"), ("boundary_step_max_rad", "largest planned step at a boundary, rad"),
              ("boundary_jerk_p99", "planned boundary jerk p99, rad/s³"))
    figure, axes = plt.subplots(1, len(panels), figsize=(13, 3.8))
    styles = ("-", "--", ":")  # modes at the same value (100 % success) stay visible on top of each other
    for index, (mode, rows) in enumerate(document["modes"].items()):
        if "skipped" in rows:
            continue
        delays = [int(d) for d in rows]
        for axis, (key, _label) in zip(axes, panels):
            values = [rows[str(d)][key] if key == "success_rate" else rows[str(d)]["planned"][key] for d in delays]
            axis.plot(delays, values, marker="o", linestyle=styles[index % len(styles)], label=mode)
    for axis, (_key, label) in zip(axes, panels):
        axis.set_xlabel("inference delay, ms")
        axis.set_title(label, fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].set_ylim(0.0, 1.05)
    axes[0].legend()
    overrides = ", ".join(f"{k}={v}" for k, v in document.get("node_overrides", {}).items())
    figure.suptitle(f"{document['model']}: blending under inference delay ({document['episodes']} episodes each"
                    f"{'; ' + overrides if overrides else ''})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
