"""Measure the embedded sim: render time per frame, physics real-time factor, expert success.

`python -m vla_ros.bench.sim_speed [--episodes N]` prints one JSON object (timings as p50/p99/max/n,
like vla_bench) so the numbers in reports come from a run, not from a timed unit test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter

import numpy as np

import vla_ros.sim  # noqa: F401  (selects the GL backend first)
from vla_ros.core.timing import timing_stats
from vla_ros.sim.expert import run_expert_episode
from vla_ros.sim.world import ArmSim, SimConfig


def render_timing(width: int, height: int, frames: int = 200) -> dict[str, float | int]:
    sim = ArmSim(SimConfig(image_width=width, image_height=height))
    sim.command_positions([0.5, 0.4, 1.4, 0.0, 1.0, 0.5, 0.02])
    samples = []
    for _ in range(frames):
        sim.step(0.01)
        started = time.perf_counter()
        sim.render()
        samples.append((time.perf_counter() - started) * 1e3)
    sim.close()
    return timing_stats(samples, digits=3)


def real_time_factor(seconds: float, camera_rate_hz: float | None, width: int = 224, height: int = 224) -> float:
    """Sim seconds per wall second, unthrottled, moving the arm; with rendering at camera_rate_hz if given."""
    sim = ArmSim(SimConfig(image_width=width, image_height=height), render=camera_rate_hz is not None)
    sim.command_positions([0.8, 0.4, 1.4, 0.5, 1.0, 0.5, 0.02])
    tick = 0.01
    frame_every = 1 if camera_rate_hz is None else max(1, round(1.0 / (camera_rate_hz * tick)))
    started = time.perf_counter()
    for i in range(round(seconds / tick)):
        sim.step(tick)
        if camera_rate_hz is not None and i % frame_every == 0:
            sim.render()
    wall = time.perf_counter() - started
    sim.close()
    return round(seconds / wall, 2)


def expert_success(episodes: int) -> dict[str, object]:
    sim = ArmSim(render=False)
    per_task: Counter[str] = Counter()
    solved: Counter[str] = Counter()
    elapsed = []
    for seed in range(episodes):
        status = run_expert_episode(sim, seed)
        per_task[status.task] += 1
        solved[status.task] += int(status.success)
        elapsed.append(status.elapsed)
    return {"episodes": episodes, "success_rate": round(sum(solved.values()) / episodes, 4),
            "per_task": {t: f"{solved[t]}/{n}" for t, n in sorted(per_task.items())},
            "episode_sim_seconds_mean": round(float(np.mean(elapsed)), 3),
            "episode_sim_seconds_max": round(float(np.max(elapsed)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m vla_ros.bench.sim_speed", description=__doc__)
    parser.add_argument("--episodes", type=int, default=200, help="expert episodes (seeds 0..N-1)")
    args = parser.parse_args()
    results = {
        "render_224x224": render_timing(224, 224),
        "render_160x120": render_timing(160, 120),
        "real_time_factor_physics_only": real_time_factor(20.0, None),
        "real_time_factor_with_camera_15hz_224": real_time_factor(20.0, 15.0),
        "real_time_factor_with_camera_30hz_224": real_time_factor(20.0, 30.0),
        "expert": expert_success(args.episodes),
    }
    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
               "cpus": os.cpu_count(), "gl_backend": os.environ.get("MUJOCO_GL")}
    print(json.dumps({"suite": "sim", "machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
