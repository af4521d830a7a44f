"""vla_bench SUITE --json: benchmarks printing one JSON object {"suite", "machine", "results"}.

Suites:
  rate       command period error of vla_node (inference running) vs a bare rclpy timer, same run
  latency    camera publish (another process) -> first command computed from that frame, with a breakdown
  overhead   the node pipeline excluding model time, 640x480 input, in process
  backends   torch vs onnxruntime (vs TensorRT / onnxruntime-GPU where present), with parity
  soak       ROS-free safety soak with random fault injection
  fuzz       hostile messages into a running vla_node (see vla_ros/bench/fuzz.py)
  competence task success through the full ROS stack on the embedded sim
  recording  the rate suite's measurement with and without vla_record running
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.bench.backends import machine_info, timing_stats

SUITES = ("rate", "latency", "overhead", "backends", "soak", "fuzz", "competence", "recording")


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


def _period_errors(stamps: list[float], period: float) -> dict[str, Any]:
    intervals = np.diff(np.asarray(sorted(stamps)))
    errors_ms = np.abs(intervals - period) * 1e3
    late = int(np.sum(intervals > 1.2 * period))
    too_late = int(np.sum(intervals > 2.0 * period))  # a whole period missed
    stats = timing_stats(errors_ms.tolist()) if errors_ms.size else {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0,
                                                                     "n": 0}
    return {**stats, "late": late, "too_late": too_late, "publishes": len(stamps),
            "achieved_rate_hz": float(len(stamps) / (stamps[-1] - stamps[0])) if len(stamps) > 1 else 0.0}


def _stamp_of(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def large_frames_profile() -> Path | None:
    """config/fastdds_large_frames.xml of this checkout, else of the installed package; None if neither."""
    candidates = [Path(__file__).resolve().parents[2] / "config" / "fastdds_large_frames.xml"]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("vla_ros")) / "config" / "fastdds_large_frames.xml")
    except Exception:  # not installed through ament: the checkout's copy or nothing
        pass
    return next((c for c in candidates if c.exists()), None)


def _model_for_bench(work: Path, image_size: tuple[int, int], model_path: str | None) -> Path:
    if model_path:
        return Path(model_path)
    from vla_ros.training.package_builder import build_example_package

    return build_example_package(work / "bench_model", family="act", image_size=image_size)


def _node_params(model: Path, rate_hz: float, threads: int, priority: int) -> dict[str, Any]:
    # The shipped robot profiles' pairing: I/O threads 10 below the control thread.
    return {"model_path": str(model), "command_interface": "joint_trajectory", "control_rate_hz": rate_hz,
            "inference_threads": threads, "control_thread_priority": priority,
            "io_thread_priority": max(0, priority - 10), "safety.image_timeout": 1.0,
            "safety.state_timeout": 0.5, "safety.inference_timeout": 5.0}


def _measure_bare_timer(rig, stamps: list[float], subscription, rate: float, priority: int,
                        duration_s: float) -> tuple[dict[str, Any], list[float]]:
    from vla_ros.bench.rig import NodeProcess, wait_until

    stamps.clear()
    timer = NodeProcess({"rate_hz": rate, "priority": priority}, module="vla_ros.bench.bare_timer")
    try:
        wait_until(lambda: subscription.get_publisher_count() > 0, 60, "bare timer")
        wait_until(lambda: len(stamps) > 5, 30, "baseline messages")
        start = len(stamps)
        time.sleep(duration_s)  # the measurement window
        window = stamps[start:]
        return _period_errors(window, 1.0 / rate), window
    finally:
        timer.stop()


def _measure_node(rig, params: dict[str, Any], duration_s: float, period: float,
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
                            module="vla_ros.bench.bare_timer")
    try:
        if alongside is not None:
            wait_until(lambda: alongside[1].get_publisher_count() > 0, 60, "bare timer alongside")
        rig.wait_for_node()
        rig.instruct("touch the red cube")
        # The rig keeps the previous node's last status: only a status stamped after this start is this node's.
        first = rig.wait_for_status(lambda s: s.get("state") == "RUNNING" and s.get("stamp", 0.0) >= started, 60,
                                    "RUNNING")
        begin = rig.now()
        time.sleep(duration_s)  # the measurement window
        end = rig.now()
        stamps = [_stamp_of(m) for _, m in rig.commands_between(begin, end)]
        status = rig.wait_for_status(lambda s: s.get("stamp", 0.0) >= end, 10, "status after the window")
    finally:
        node.stop()
        if timer is not None:
            timer.stop()
    measured = {**_period_errors(stamps, period),
                "inferences_per_s": status.get("inferences", 0) / max(1e-9, end - begin),
                "inference_ms": status.get("timings_ms", {}), **_events_between(first, status)}
    if alongside is not None:
        reference = sorted(t for t in alongside[0] if begin <= t <= end)
        measured["bare_timer_alongside"] = alongside_errors = _period_errors(reference, period)
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


# --inference / --camera: where vla_node runs preprocessing and the model (parameter inference_process) and
# where it receives its cameras (camera_process): a child process, a thread of the node, or both in one run.
PLACEMENTS = {"process": [True], "thread": [False], "both": [True, False]}


def _where(in_process: bool) -> str:
    return "process" if in_process else "thread"


def run_rate(rates: list[float], duration_s: float, model_path: str | None, threads: int,
             priority: int, plot_dir: Path | None = None, placement: str = "process",
             camera: str = "process") -> dict[str, Any]:
    from vla_ros.bench.rig import Rig
    from vla_ros.core.types import CommandInterface

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = _model_for_bench(Path(tmp), (224, 224), model_path)
        rig = Rig(CommandInterface.JOINT_TRAJECTORY, [f"joint_{i}" for i in range(1, 7)], image_size=(480, 640))
        baseline_stamps: list[float] = []
        baseline_sub = rig.node.create_subscription(
            __import__("trajectory_msgs.msg", fromlist=["JointTrajectory"]).JointTrajectory, "/bench/baseline",
            lambda m: baseline_stamps.append(_stamp_of(m)), 1000)
        try:
            for rate in rates:
                period = 1.0 / rate
                # Baselines: a bare rclpy timer process alone (the target's reference), and the same with the
                # control thread's SCHED_FIFO priority (like for like). The rig's camera keeps publishing.
                baseline, bare_stamps = _measure_bare_timer(rig, baseline_stamps, baseline_sub, rate, 0, duration_s)
                baseline_rt, bare_rt_stamps = (
                    _measure_bare_timer(rig, baseline_stamps, baseline_sub, rate, priority, duration_s)
                    if priority > 0 else (None, []))
                entry: dict[str, Any] = {"bare_timer": baseline, "bare_timer_same_priority": baseline_rt,
                                         "control_thread_priority": priority,
                                         "fastdds_profile": os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE")}
                series = {"bare rclpy timer": _signed_errors_ms(bare_stamps, period)}
                if bare_rt_stamps:
                    series[f"bare timer, prio {priority}"] = _signed_errors_ms(bare_rt_stamps, period)
                variants = [(i, c) for i in PLACEMENTS[placement] for c in PLACEMENTS[camera]]
                for number, (in_process, camera_process) in enumerate(variants):
                    params = {**_node_params(model, rate, threads, priority), "inference_process": in_process,
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
                results[f"{rate:g}hz"] = entry
        finally:
            rig.close()
    return results


def _plot_command_trace(path: Path, commands: list[tuple[float, object]], chunk_ticks: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = np.array([_stamp_of(m) for _, m in commands])
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


def run_latency(duration_s: float, model_path: str | None, rate_hz: float, threads: int,
                priority: int, plot_dir: Path | None = None, inference_process: bool = True,
                camera_process: bool = True) -> dict[str, Any]:
    from std_msgs.msg import String

    from vla_ros.bench.rig import NodeProcess, Rig, wait_until
    from vla_ros.core.types import CommandInterface

    with tempfile.TemporaryDirectory() as tmp:
        model = _model_for_bench(Path(tmp), (96, 96), model_path)
        # The camera and a bare subscriber each get a process of their own, so neither the rig's work nor the
        # node's is in the reference transport.
        rig = Rig(CommandInterface.JOINT_TRAJECTORY, [f"joint_{i}" for i in range(1, 7)], camera_rate_hz=None)
        probe_file = Path(tmp) / "probe.jsonl"
        probe = NodeProcess({"role": "probe", "output": str(probe_file), "priority": max(0, priority - 10)},
                            module="vla_ros.bench.camera")
        # The camera runs as README's "Camera transport" tells a driver to: with the large-frame Fast DDS profile.
        profile = large_frames_profile()
        camera = NodeProcess({"role": "camera", "rate_hz": 15.0}, module="vla_ros.bench.camera",
                             env={"FASTRTPS_DEFAULT_PROFILES_FILE": str(profile)} if profile else None)
        timings: list[dict] = []
        sub = rig.node.create_subscription(String, "/vla/action_chunk", lambda m: timings.append(json.loads(m.data)),
                                           100)
        node = NodeProcess({**_node_params(model, rate_hz, threads, priority),
                            "inference_process": inference_process, "camera_process": camera_process})
        try:
            rig.wait_for_node()
            wait_until(lambda: sub.get_publisher_count() > 0, 30, "chunk timing publisher")
            wait_until(lambda: probe_file.exists() and probe_file.stat().st_size > 0, 30, "probe receiving frames")
            rig.instruct("touch the red cube")
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
        probe_rows = [json.loads(line) for line in probe_file.read_text().splitlines()]
        # Keyed to 0.1 ms: the stamps went through different float conversions; frames are 67 ms apart.
        probe_arrivals = {round(r["stamp"] * 1e4): r["received"] for r in probe_rows}
    if not samples:
        raise RuntimeError("no chunk timings received")
    reference = [(probe_arrivals[round(s["obs_stamp"] * 1e4)] - s["obs_stamp"]) * 1e3 for s in samples
                 if round(s["obs_stamp"] * 1e4) in probe_arrivals]

    def series(fn) -> dict[str, Any]:
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
            "wait_for_control_tick": series(lambda s: (s["tick"] - s["chunk_ready"]) * 1e3),
            "safety_and_publish": series(lambda s: (s["published"] - s["tick"]) * 1e3),
        },
        # The claim to check: a frame is reflected in a command within model time + one control period of arrival.
        "within_model_time_plus_one_period": float(np.mean([
            (s["published"] - s["received"]) * 1e3 <= s["inference_total"] + 1e3 / rate_hz for s in samples])),
    }


def run_overhead(iterations: int, model_path: str | None) -> dict[str, Any]:
    """In-process: ROS message payload -> decode -> pipeline -> model -> scheduler -> safety, minus model time."""
    import logging

    from vla_ros.core.parameters import build_node_config
    from vla_ros.inputs.images import decode_raw_image
    from vla_ros.model import create_policy, load_model_package
    from vla_ros.model.options import RuntimeOptions
    from vla_ros.pipeline.pipeline import Pipeline

    with tempfile.TemporaryDirectory() as tmp:
        model = _model_for_bench(Path(tmp), (96, 96), model_path)
        config = build_node_config({"model_path": str(model), "command_interface": "joint_trajectory"})
        package = load_model_package(model)
        policy, selection = create_policy(package, "onnxruntime", RuntimeOptions(intra_op_threads=1))
        clock = {"now": 1000.0}
        pipeline = Pipeline(config, package, policy, selection.name, lambda: clock["now"], logging.getLogger("bench"))
        rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
        payload = rgb.tobytes()
        pipeline.activate(clock["now"])
        pipeline.deactivate()  # no background thread: this benchmark drives inference itself
        with pipeline._lock:
            pipeline._active = True
        pipeline.on_instruction("touch the red cube")
        decode_ms, overhead_ms, tick_ms, model_ms = [], [], [], []
        for i in range(iterations + 20):
            clock["now"] += 0.01
            pipeline.on_joint_state(list(config.joint_names), [0.0] * 6, clock["now"])
            t0 = time.perf_counter()
            image = decode_raw_image("rgb8", 480, 640, 640 * 3, payload)
            t1 = time.perf_counter()
            pipeline.on_image("front", image, clock["now"], clock["now"])
            pipeline.run_inference_once(clock["now"])
            t2 = time.perf_counter()
            pipeline.control_tick(clock["now"] + 0.001)
            t3 = time.perf_counter()
            if i >= 20:
                inference = policy.last_timings_ms.get("inference", 0.0)
                decode_ms.append((t1 - t0) * 1e3)
                tick_ms.append((t3 - t2) * 1e3)
                model_ms.append(inference)
                overhead_ms.append((t3 - t0) * 1e3 - inference)
    return {
        "input": "640x480 rgb8",
        "backend": selection.name,
        "pipeline_excluding_model": timing_stats(overhead_ms),
        "image_decode": timing_stats(decode_ms),
        "control_tick": timing_stats(tick_ms),
        "model_only": timing_stats(model_ms),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vla_bench", description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=SUITES)
    parser.add_argument("--json", action="store_true", help="print only the JSON object on stdout")
    parser.add_argument("--model", default=None, help="model package (default: a generated example model)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per measurement (rate, latency)")
    parser.add_argument("--rates", default="50,100,250", help="control rates for the rate suite, Hz")
    parser.add_argument("--rate", type=float, default=100.0, help="control rate for latency, Hz")
    parser.add_argument("--threads", type=int, default=1, help="inference threads of the node")
    parser.add_argument("--priority", type=int, default=50,
                        help="control_thread_priority (SCHED_FIFO) of the node; 0 = normal scheduling")
    parser.add_argument("--inference", choices=tuple(PLACEMENTS), default="process",
                        help="vla_node's inference_process: process, thread, or both in one run (rate)")
    parser.add_argument("--camera", choices=tuple(PLACEMENTS), default="process",
                        help="vla_node's camera_process: process, thread, or both in one run (rate)")
    parser.add_argument("--iterations", type=int, default=300, help="iterations (overhead, backends)")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak duration (simulated minutes)")
    parser.add_argument("--messages", type=int, default=10000, help="fuzz messages per topic")
    parser.add_argument("--episodes", type=int, default=50, help="competence episodes")
    parser.add_argument("--plot-dir", type=Path, default=None, help="write plots (rate, latency) into this folder")
    return parser


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    if args.suite == "rate":
        return run_rate([float(r) for r in args.rates.split(",")], args.duration, args.model, args.threads,
                        args.priority, args.plot_dir, args.inference, args.camera)
    if args.suite == "latency":
        if "both" in (args.inference, args.camera):
            raise SystemExit("vla_bench latency: 'both' is for the rate suite; run latency once per placement")
        return run_latency(args.duration, args.model, args.rate, args.threads, args.priority, args.plot_dir,
                           inference_process=args.inference == "process", camera_process=args.camera == "process")
    if args.suite == "overhead":
        return run_overhead(args.iterations, args.model)
    if args.suite == "backends":
        from vla_ros.bench.backends import run_backends_benchmark

        return run_backends_benchmark(Path(args.model) if args.model else None, args.iterations)["results"]
    if args.suite == "soak":
        from vla_ros.bench.soak import run_soak

        return run_soak(args.minutes * 60.0, 100.0, seed=0)
    if args.suite == "recording":
        from vla_ros.bench.recording import run_recording_rate

        return run_recording_rate(args.rate, args.duration, pairs=2, priority=args.priority)
    if args.suite == "fuzz":
        from vla_ros.bench.fuzz import run_fuzz

        return run_fuzz(args.messages, args.model)
    from vla_ros.bench.competence import run_competence_benchmark

    return run_competence_benchmark(args.episodes)["results"]


def _use_large_frames_profile() -> None:
    """The bench's cameras (the rig in this process, bench_camera) publish 640x480 frames as README's "Camera
    transport" tells a driver to: with config/fastdds_large_frames.xml, unless the caller chose a profile. Set
    before rclpy starts here; the processes the bench starts inherit it."""
    profile = large_frames_profile()
    if profile is not None:
        os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(profile))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    _use_large_frames_profile()
    if args.plot_dir is not None:
        args.plot_dir.mkdir(parents=True, exist_ok=True)
    results = run_suite(args)
    document = {"suite": args.suite, "machine": machine_info(), "results": results}
    text = json.dumps(document, indent=None if args.json else 2, default=float)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
