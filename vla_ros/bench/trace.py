"""A command trace across chunk boundaries, simulated on a virtual clock (no ROS, no threads, no sleeping).

A synthetic model follows a smooth reference trajectory but, like a real policy, each chunk is a little
wrong in its own way (an offset plus an error growing along the chunk), so consecutive chunks disagree where
they overlap. The control loop samples the scheduler every control period; the trace shows how a blending
configuration turns those disagreeing chunks into the published command. Used for the docs plot.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vla_ros.core.config import Blending, ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics
from vla_ros.execution.scheduler import ChunkScheduler


def _reference(t: np.ndarray, action_dim: int) -> np.ndarray:
    """A smooth joint-space motion: one slow sine per dimension, phase-shifted."""
    phases = np.arange(action_dim) * 0.7
    return 0.5 * np.sin(2.0 * np.pi * 0.4 * t[:, None] + phases[None, :])


def simulate_trace(config: ExecutionConfig, *, duration_s: float = 2.5, model_period: float = 0.1,
                   horizon: int = 10, inference_interval_s: float = 0.3, inference_latency_s: float = 0.12,
                   prediction_error: float = 0.04, action_dim: int = 1, seed: int = 0) -> dict:
    """Run the scheduler over `duration_s` of virtual time and return the trace.

    Observations are taken every `inference_interval_s`; each chunk arrives `inference_latency_s` later
    (with ±20 % jitter). Returns a dict of numpy arrays and scalars:
    t [N], command [N, D] (NaN where the scheduler had nothing), reference [N, D], max_tick_jump (largest
    per-tick change over the covered ticks), chunks (list of dicts: obs_stamp, arrival, accepted,
    skipped_steps, due_times [T], actions [T, D]) and the configuration used.
    """
    if duration_s <= 0 or model_period <= 0 or horizon < 1 or inference_interval_s <= 0:
        raise ValueError("duration_s, model_period, inference_interval_s must be > 0 and horizon >= 1")
    rng = np.random.default_rng(seed)
    scheduler = ChunkScheduler(config, action_dim)
    steps = np.arange(horizon)

    chunks: list[dict] = []
    obs_stamp = 0.0
    while obs_stamp < duration_s:
        due = obs_stamp + steps * model_period
        offset = rng.normal(0.0, prediction_error, action_dim)
        drift = rng.normal(0.0, prediction_error / horizon, action_dim)
        actions = _reference(due, action_dim) + offset + steps[:, None] * drift
        latency = inference_latency_s * (1.0 + rng.uniform(-0.2, 0.2))
        chunks.append({"obs_stamp": obs_stamp, "arrival": obs_stamp + latency, "due_times": due,
                       "actions": actions})
        obs_stamp += inference_interval_s

    period = config.control_period
    ticks = np.arange(0.0, duration_s, period)
    command = np.full((ticks.size, action_dim), np.nan)
    pending = iter(chunks)
    upcoming = next(pending, None)
    for i, now in enumerate(ticks):
        while upcoming is not None and upcoming["arrival"] <= now:
            result = scheduler.add(ActionChunk(upcoming["actions"], upcoming["obs_stamp"], model_period,
                                               ActionSemantics.JOINT_POSITION, 0), upcoming["arrival"])
            upcoming["accepted"], upcoming["skipped_steps"] = result.accepted, result.skipped_steps
            upcoming = next(pending, None)
        value = scheduler.sample(float(now))
        if value is not None:
            command[i] = value
    chunks = [c for c in chunks if "accepted" in c]  # those arriving after the last tick never played a part

    jumps = np.abs(np.diff(command, axis=0))
    jumps = jumps[np.all(np.isfinite(jumps), axis=1)]
    return {
        "blending": config.blending.value,
        "control_rate_hz": config.control_rate_hz,
        "crossfade_s": config.crossfade_s,
        "ensemble_decay": config.ensemble_decay,
        "model_period": model_period,
        "t": ticks,
        "command": command,
        "reference": _reference(ticks, action_dim),
        "max_tick_jump": float(jumps.max()) if jumps.size else 0.0,
        "chunks": chunks,
        "stats": scheduler.stats,
    }


def render_trace_png(traces: dict | Sequence[dict], path: str | Path, *, dim: int = 0,
                     title: str = "Command across chunk boundaries") -> Path:
    """Draw one or more traces (same chunks, different blending) to a PNG; needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless: no display on robots or CI
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("render_trace_png needs matplotlib: pip install matplotlib") from exc

    traces = [traces] if isinstance(traces, dict) else list(traces)
    if not traces:
        raise ValueError("no trace to render")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=120)
    first = traces[0]
    ax.plot(first["t"], first["reference"][:, dim], color="0.6", linestyle="--", linewidth=1, label="reference")
    colors = plt.get_cmap("tab10")
    for n, chunk in enumerate(first["chunks"]):
        kept = slice(chunk["skipped_steps"], None)
        ax.plot(chunk["due_times"], chunk["actions"][:, dim], color=colors(n % 10), alpha=0.25, linewidth=1)
        ax.plot(chunk["due_times"][kept], chunk["actions"][kept, dim], ".", color=colors(n % 10), alpha=0.6,
                markersize=4)
        ax.axvline(chunk["arrival"], color=colors(n % 10), alpha=0.3, linewidth=0.8)
    for trace, style in zip(traces, ("-", "-.", ":", "--")):
        label = f"command ({trace['blending']}"
        label += f", crossfade {trace['crossfade_s']:g} s)" if trace["blending"] == "latest" else \
            f", decay {trace['ensemble_decay']:g})"
        ax.plot(trace["t"], trace["command"][:, dim], style, linewidth=1.6,
                label=f"{label}, max step {trace['max_tick_jump']:.4f}")
    ax.set_xlim(first["t"][0], first["t"][-1])
    ax.set_xlabel("time (s); vertical lines: chunk arrivals; dots: steps executed, faint: skipped")
    ax.set_ylabel(f"action dim {dim}")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m vla_ros.bench.trace out/trace.png`: the docs plot, hard switch vs crossfade vs ensemble."""
    parser = argparse.ArgumentParser(prog="python -m vla_ros.bench.trace", description=main.__doc__)
    parser.add_argument("png", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    configs = (ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.0),
               ExecutionConfig(blending=Blending.LATEST, crossfade_s=0.1),
               ExecutionConfig(blending=Blending.ENSEMBLE, ensemble_decay=0.5))
    traces = [simulate_trace(config, seed=args.seed) for config in configs]
    print(render_trace_png(traces, args.png))


if __name__ == "__main__":
    main()
