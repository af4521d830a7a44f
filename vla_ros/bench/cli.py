"""vla_bench SUITE --json: benchmarks printing one JSON object {"suite", "machine", "results"}.

Suites (one module each under vla_ros/bench/):
  rate       command period error of vla_node (inference running) vs a bare rclpy timer, same run
  latency    camera publish (another process) -> first command computed from that frame, with a breakdown
  overhead   the node pipeline excluding model time, 640x480 input, in process
  backends   torch vs onnxruntime (vs TensorRT / onnxruntime-GPU where present), with parity
  soak       ROS-free safety soak with random fault injection
  fuzz       hostile messages into a running vla_node (see vla_ros/bench/fuzz.py)
  competence task success through the full ROS stack on the embedded sim
  recording  the rate suite's measurement with and without vla_record running
  remote     a remote policy (openpi's websocket server, loopback) vs the same model in the inference process
  fleet      1-8 robots against vla_serve (1 and 2 replicas, batching off and on): chunks/s, round trip, batches
  delay      blending modes (rtc, latest, ensemble) under injected inference delays on the sim's clock: success,
             step and jerk at chunk boundaries
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from vla_ros.bench.machine import machine_info
from vla_ros.bench.node_runs import large_frames_profile
from vla_ros.bench.rate import PLACEMENTS

SUITES = ("rate", "latency", "overhead", "backends", "soak", "fuzz", "competence", "recording", "remote",
          "fleet", "delay")


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
    parser.add_argument("--remote", default=None, metavar="URL",
                        help="competence: also run the episodes through a policy server at URL (openpi protocol; "
                        "`local` starts openpi's server here serving the model)")
    parser.add_argument("--real-time-factor", type=float, default=1.0,
                        help="competence: sim speed against wall time (below 1 leaves CPU for other robots)")
    parser.add_argument("--node-param", action="append", default=[], metavar="NAME=VALUE",
                        help="competence, delay: a vla_node parameter for every pass (YAML value), e.g. "
                             "control_thread_priority=0 where several robots share a small machine, or "
                             "execution.inference_interval_s=1.0; repeatable")
    parser.add_argument("--passes", default="onnx,ablated,torch",
                        help="competence passes besides the remote one (onnx always runs)")
    parser.add_argument("--delays", default="0,0.1,0.2,0.3", help="delay: injected inference delays, s")
    parser.add_argument("--modes", default="rtc,latest,ensemble", help="delay: execution.blending modes to compare")
    parser.add_argument("--plot-dir", type=Path, default=None, help="write plots (rate, latency) into this folder")
    return parser


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """The suite's "results"; each suite's module is imported only when that suite runs."""
    if args.suite == "rate":
        from vla_ros.bench.rate import run_rate

        return run_rate([float(r) for r in args.rates.split(",")], args.duration, args.model, args.threads,
                        args.priority, args.plot_dir, args.inference, args.camera)
    if args.suite == "latency":
        if "both" in (args.inference, args.camera):
            raise SystemExit("vla_bench latency: 'both' is for the rate suite; run latency once per placement")
        from vla_ros.bench.latency import run_latency

        return run_latency(args.duration, args.model, args.rate, args.threads, args.priority, args.plot_dir,
                           inference_process=args.inference == "process", camera_process=args.camera == "process")
    if args.suite == "overhead":
        from vla_ros.bench.overhead import run_overhead

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
    if args.suite == "remote":
        from vla_ros.bench.remote import run_remote

        return run_remote(args.iterations, args.model)
    if args.suite == "fleet":
        from vla_ros.bench.fleet import run_fleet

        return run_fleet(args.model, duration_s=args.duration, rate_hz=args.rate)
    if args.suite == "fuzz":
        from vla_ros.bench.fuzz import run_fuzz

        return run_fuzz(args.messages, args.model)
    from vla_ros.sim.demo import DEFAULT_MODEL as DEFAULT_COMPETENCE_MODEL

    if args.suite == "delay":
        from vla_ros.bench.delay import run_delay

        return run_delay(args.model or DEFAULT_COMPETENCE_MODEL, args.episodes,
                         delays_s=tuple(float(d) for d in args.delays.split(",")),
                         modes=tuple(args.modes.split(",")), plot_dir=args.plot_dir,
                         node_overrides=_node_params(args.node_param),
                         log=None if args.json else lambda line: print(line, file=sys.stderr, flush=True))
    from vla_ros.bench.competence import run_competence_benchmark

    passes = set(args.passes.split(","))
    return run_competence_benchmark(args.episodes, args.model or DEFAULT_COMPETENCE_MODEL,
                                    include_torch="torch" in passes, include_ablated="ablated" in passes,
                                    remote_url=args.remote, real_time_factor=args.real_time_factor,
                                    node_overrides=_node_params(args.node_param))["results"]


def _node_params(items: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs, each value read as YAML (0 -> int, [1, 2] -> list, text -> str)."""
    import yaml

    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"vla_bench: --node-param {item!r}: expected NAME=VALUE")
        params[name] = yaml.safe_load(value)
    return params


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
