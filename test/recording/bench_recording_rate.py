"""Control-rate impact of recording (issue 7): `vla_bench rate`'s measurement with and without recorder_node.

Not a test (timing claims belong to benchmarks). Runs the rate suite's set-up (Rig: 640x480 camera at 30 Hz,
joint states at 100 Hz; vla_node with a generated ACT model, joint_trajectory at RATE Hz) and alternates runs
without and with a recorder_node process recording every topic, so drift on a shared machine hits both alike.

    python test/recording/bench_recording_rate.py [--rate 100] [--duration 15] [--pairs 2]
Prints one JSON object: per-condition command period error (p50/p99/max ms), ratio with/without.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from vla_ros.core.types import CommandInterface
from vla_ros.recording.bag import directory_bytes
from vla_ros.tools.bench import _model_for_bench, _node_params, _period_errors, _stamp_of
from vla_ros.tools.bench_backends import machine_info
from vla_ros.tools.rig import NodeProcess, Rig, wait_until


def measure(rig: Rig, model: Path, rate: float, duration: float, record_dir: Path | None) -> dict:
    node = NodeProcess(_node_params(model, rate, 1, 0))
    recorder = None
    try:
        rig.wait_for_node()
        if record_dir is not None:
            recorder = NodeProcess({"output_dir": str(record_dir), "command_interface": "joint_trajectory",
                                    "model_path": str(model)}, module="vla_ros.ros.recorder_node")
            wait_until(lambda: rig.node.count_subscribers("/vla/action_chunk") > 0, 60, "recorder")
        rig.instruct(f"touch the red cube {time.monotonic():.0f}")  # a new episode per run
        rig.wait_for_status(lambda s: s.get("state") == "RUNNING", 60, "RUNNING")
        begin = rig.now()
        time.sleep(duration)  # the measurement window
        end = rig.now()
        stamps = [_stamp_of(m) for _, m in rig.commands_between(begin, end)]
        rig.instruct("")
    finally:
        if recorder is not None:
            recorder.stop()
        node.stop()
    result = _period_errors(stamps, 1.0 / rate)
    if record_dir is not None:
        result["recorded_bytes"] = directory_bytes(record_dir)
        result["recorder_log_tail"] = recorder.log()[-300:] if recorder else ""
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"without_recording": [], "with_recording": []}
    with tempfile.TemporaryDirectory() as tmp:
        model = _model_for_bench(Path(tmp), (224, 224), None)
        rig = Rig(CommandInterface.JOINT_TRAJECTORY, [f"joint_{i}" for i in range(1, 7)], image_size=(480, 640))
        try:
            for pair in range(args.pairs):
                runs["without_recording"].append(measure(rig, model, args.rate, args.duration, None))
                record_dir = Path(tmp) / f"recordings_{pair}"
                runs["with_recording"].append(measure(rig, model, args.rate, args.duration, record_dir))
                shutil.rmtree(record_dir, ignore_errors=True)
        finally:
            rig.close()
    p99 = {k: max(r["p99_ms"] for r in v) for k, v in runs.items()}
    print(json.dumps({"suite": "rate_recording", "machine": machine_info(), "rate_hz": args.rate,
                      "results": runs, "ratio": p99["with_recording"] / p99["without_recording"]
                      if p99["without_recording"] > 0 else None}, indent=1))


if __name__ == "__main__":
    main()
