"""What the suites that run vla_node as a process share: its parameters, its model, and how its commands'
period error is measured (rate, latency, recording)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.core.timing import timing_stats

JOINTS = [f"joint_{i}" for i in range(1, 7)]
INSTRUCTION = "touch the red cube"


def stamp_of(msg: Any) -> float:
    """A command's header stamp in seconds: the node stamps each command with its publish time."""
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def period_errors(stamps: list[float], period: float) -> dict[str, Any]:
    """|publish interval - period| as p50/p99/max ms, plus late (> 1.2 periods) and too-late (> 2) counts."""
    intervals = np.diff(np.asarray(sorted(stamps)))
    errors_ms = np.abs(intervals - period) * 1e3
    late = int(np.sum(intervals > 1.2 * period))
    too_late = int(np.sum(intervals > 2.0 * period))  # a whole period missed
    return {**timing_stats(errors_ms), "late": late, "too_late": too_late, "publishes": len(stamps),
            "achieved_rate_hz": float(len(stamps) / (stamps[-1] - stamps[0])) if len(stamps) > 1 else 0.0}


def large_frames_profile() -> Path | None:
    """config/fastdds_large_frames.xml of this checkout, else of the installed package; None if neither."""
    candidates = [Path(__file__).resolve().parents[2] / "config" / "fastdds_large_frames.xml"]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("vla_ros")) / "config" / "fastdds_large_frames.xml")
    except Exception:  # not installed through ament: the checkout's copy or nothing
        pass
    return next((c for c in candidates if c.exists()), None)


def model_for_bench(work: Path, image_size: tuple[int, int], model_path: str | None) -> Path:
    """The caller's model package, else a generated ACT example for `image_size` frames built under `work`."""
    if model_path:
        return Path(model_path)
    from vla_ros.training.package_builder import build_example_package

    return build_example_package(work / "bench_model", family="act", image_size=image_size)


def node_params(model: Path, rate_hz: float, threads: int, priority: int) -> dict[str, Any]:
    # The shipped robot profiles' pairing: I/O threads 10 below the control thread.
    return {"model_path": str(model), "command_interface": "joint_trajectory", "control_rate_hz": rate_hz,
            "inference_threads": threads, "control_thread_priority": priority,
            "io_thread_priority": max(0, priority - 10), "safety.image_timeout": 1.0,
            "safety.state_timeout": 0.5, "safety.inference_timeout": 5.0}
