"""`vla_bench latency`: camera publish (another process) -> first command computed from that frame.

A 640x480 camera at 15 Hz and a bare transport probe each run in a process of their own; vla_node reports
each chunk's timings on /vla/action_chunk. The result breaks the end-to-end time into transport, model,
waiting and publishing, and compares the node's transport with the probe's.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.bench.node_runs import INSTRUCTION, JOINTS, large_frames_profile, model_for_bench, node_params, stamp_of
from vla_ros.core.timing import timing_stats

CAMERA_MODULE = "vla_ros.bench.camera"


def _plot_command_trace(path: Path, commands: list[tuple[float, Any]], chunk_ticks: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = np.array([stamp_of(m) for _, m in commands])
    values = np.array([m.points[0].positions[0] for _, m in commands])
    t0 = times[0]
    figure, axis = plt.subplots(figsize=(8, 3.2))
    axis.plot((times - t0), values, ".-", markersize=2, linewidth=0.8, label="joint_1 command (first JTC point)")
    for tick in chunk_ticks:
        if times[0] <= tick <= times[-1]:
            axis.axvline(tick - t0, color="tab:red", alpha=0.25, linewidth=0.8)
    axis.set_xlabel("time [s]  (red: first command from a new chunk)")
    axis.set_ylabel("rad")
    axis.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _record_chunk_timings(duration_s: float, model: Path, rate_hz: float, threads: int, priority: int,
                          plot_dir: Path | None, inference_process: bool, camera_process: bool,
                          probe_file: Path, profile: Path | None) -> list[dict]:
    """Run the camera, the probe and vla_node; the node's chunk timings from one measurement window."""
    from std_msgs.msg import String

    from vla_ros.bench.rig import NodeProcess, Rig, wait_until
    from vla_ros.core.types import CommandInterface

    # The camera and a bare subscriber each get a process of their own, so neither the rig's work nor the
    # node's is in the reference transport.
    rig = Rig(CommandInterface.JOINT_TRAJECTORY, JOINTS, camera_rate_hz=None)
    probe = NodeProcess({"role": "probe", "output": str(probe_file), "priority": max(0, priority - 10)},
                        module=CAMERA_MODULE)
    # The camera runs as README's "Camera transport" tells a driver to: with the large-frame Fast DDS profile.
    camera = NodeProcess({"role": "camera", "rate_hz": 15.0}, module=CAMERA_MODULE,
                         env={"FASTRTPS_DEFAULT_PROFILES_FILE": str(profile)} if profile else None)
    timings: list[dict] = []
    sub = rig.node.create_subscription(String, "/vla/action_chunk", lambda m: timings.append(json.loads(m.data)),
                                       100)
    node = NodeProcess({**node_params(model, rate_hz, threads, priority),
                        "inference_process": inference_process, "camera_process": camera_process})
    try:
        rig.wait_for_node()
        wait_until(lambda: sub.get_publisher_count() > 0, 30, "chunk timing publisher")
        wait_until(lambda: probe_file.exists() and probe_file.stat().st_size > 0, 30, "probe receiving frames")
        rig.instruct(INSTRUCTION)
        rig.wait_for_status(lambda s: s.get("state") == "RUNNING", 60, "RUNNING")
        timings.clear()
        begin = rig.now()
        time.sleep(duration_s)  # the measurement window
        samples = list(timings)
        if plot_dir is not None:
            window = rig.commands_between(begin, begin + min(3.0, duration_s))
            _plot_command_trace(plot_dir / "command_trace.png", window, [s["tick"] for s in samples])
    finally:
        node.stop()
        camera.stop()
        probe.stop()
        rig.close()
    return samples


def run_latency(duration_s: float, model_path: str | None, rate_hz: float, threads: int,
                priority: int, plot_dir: Path | None = None, inference_process: bool = True,
                camera_process: bool = True) -> dict[str, Any]:
    profile = large_frames_profile()
    with tempfile.TemporaryDirectory() as tmp:
        model = model_for_bench(Path(tmp), (96, 96), model_path)
        probe_file = Path(tmp) / "probe.jsonl"
        samples = _record_chunk_timings(duration_s, model, rate_hz, threads, priority, plot_dir, inference_process,
                                        camera_process, probe_file, profile)
        probe_rows = [json.loads(line) for line in probe_file.read_text().splitlines()]
        # Keyed to 0.1 ms: the stamps went through different float conversions; frames are 67 ms apart.
        probe_arrivals = {round(r["stamp"] * 1e4): r["received"] for r in probe_rows}
    if not samples:
        raise RuntimeError("no chunk timings received")
    reference = [(probe_arrivals[round(s["obs_stamp"] * 1e4)] - s["obs_stamp"]) * 1e3 for s in samples
                 if round(s["obs_stamp"] * 1e4) in probe_arrivals]

    def series(fn: Callable[[dict], float]) -> dict[str, Any]:
        return timing_stats([fn(s) for s in samples])

    end_to_end = [(s["published"] - s["obs_stamp"]) * 1e3 for s in samples]
    minus_model = [e - s["inference"] for e, s in zip(end_to_end, samples)]
    tick_wait = [(s["tick"] - s["chunk_ready"]) * 1e3 for s in samples]
    return {
        "camera": "640x480 rgb8 at 15 Hz from another process",
        "camera_fastdds_profile": str(profile) if profile else None,
        # Frames that reached the bare subscriber and chunks the node reported: a frame lost in transport shows here.
        "frames_received_by_reference": len(probe_rows),
        "chunks_reported": len(samples),
        "inference_process": inference_process,
        "camera_process": camera_process,
        "control_rate_hz": rate_hz,
        "end_to_end": timing_stats(end_to_end),
        "end_to_end_minus_model": timing_stats(minus_model),
        # What the node adds besides the model and the wait for the next fixed-rate tick (uniform in one period).
        "end_to_end_minus_model_and_tick_wait": timing_stats([m - w for m, w in zip(minus_model, tick_wait)]),
        "breakdown": {
            "transport": series(lambda s: (s["received"] - s["obs_stamp"]) * 1e3),
            "transport_to_a_bare_subscriber_same_priority": timing_stats(reference),
            "ipc_to_inference_process": series(lambda s: s.get("ipc", 0.0)),
            "preprocess": series(lambda s: s["preprocess"]),
            "inference": series(lambda s: s["inference"]),
            "postprocess": series(lambda s: s["postprocess"]),
            "wait_for_inference_thread": series(lambda s: max(0.0, (s["chunk_ready"] - s["received"]) * 1e3
                                                              - s["inference_total"])),
            "wait_for_control_tick": timing_stats(tick_wait),
            "safety_and_publish": series(lambda s: (s["published"] - s["tick"]) * 1e3),
        },
        # The claim to check: a frame is reflected in a command within model time + one control period of arrival.
        "within_model_time_plus_one_period": float(np.mean([
            (s["published"] - s["received"]) * 1e3 <= s["inference_total"] + 1e3 / rate_hz for s in samples])),
    }
