"""What `vla_demo` writes after its episodes: a summary line, plots, a frame strip and results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vla_ros.sim.demo import DemoRun

STRIP_FRAMES = 8


def summary_line(run: DemoRun) -> str:
    ok = sum(r.success for r in run.results)
    total = len(run.results)
    latency = f"p50 chunk latency {np.median(run.latencies_ms):.1f} ms" if run.latencies_ms else "no latency data"
    rtf = f", sim real-time factor {np.median(run.real_time_factors):.2f}" if run.real_time_factors else ""
    return (f"summary: {ok}/{total} success ({100.0 * ok / max(total, 1):.0f}%) model {run.model} on {run.backend}, "
            f"{latency}{rtf}")


def write_outputs(run: DemoRun, out_dir: Path) -> list[Path]:
    """Plots (success per task, latency histogram, command-rate trace), a frame strip and results.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    tasks = sorted({r.task for r in run.results})
    rates = [np.mean([r.success for r in run.results if r.task == t]) * 100 for t in tasks]
    counts = [sum(r.task == t for r in run.results) for t in tasks]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(range(len(tasks)), rates, color="tab:green")
    ax.set_xticks(range(len(tasks)), [f"{t}\n(n={n})" for t, n in zip(tasks, counts)], rotation=30, ha="right",
                  fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success %")
    ax.set_title(f"{run.model} on {run.backend}: {run.success_rate:.0%} overall")
    fig.tight_layout()
    written.append(out_dir / "success_per_task.png")
    fig.savefig(written[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    if run.latencies_ms:
        ax.hist(run.latencies_ms, bins=30, color="tab:blue")
        ax.axvline(float(np.median(run.latencies_ms)), color="k", linestyle="--", label="p50")
        ax.legend()
    ax.set_xlabel("chunk latency (preprocess + inference + postprocess), ms")
    ax.set_ylabel("chunks")
    ax.set_title("vla_node model latency (/vla/status timings)")
    fig.tight_layout()
    written.append(out_dir / "latency_histogram.png")
    fig.savefig(written[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3))
    if len(run.command_times) > 1:
        times = np.asarray(run.command_times) - run.command_times[0]
        edges = np.arange(0.0, times[-1] + 1.0, 1.0)
        per_second, _ = np.histogram(times, edges)
        ax.step(edges[:-1], per_second, where="post")
    ax.set_xlabel("wall time, s")
    ax.set_ylabel("commands / s")
    ax.set_title("joint_trajectory commands received from vla_node")
    fig.tight_layout()
    written.append(out_dir / "command_rate.png")
    fig.savefig(written[-1])
    plt.close(fig)

    if run.frames:
        picks = np.linspace(0, len(run.frames) - 1, min(STRIP_FRAMES, len(run.frames))).round().astype(int)
        strip = np.concatenate([run.frames[i] for i in picks], axis=1)
        scale = max(1, 192 // strip.shape[0])
        strip = np.repeat(np.repeat(strip, scale, axis=0), scale, axis=1)
        written.append(out_dir / "episode_strip.png")
        plt.imsave(written[-1], strip)

    results = {"model": run.model, "backend": run.backend, "success_rate": run.success_rate,
               "episodes": [r.__dict__ for r in run.results],
               "latency_ms_p50": float(np.median(run.latencies_ms)) if run.latencies_ms else None}
    written.append(out_dir / "results.json")
    written[-1].write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return written
