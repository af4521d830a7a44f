"""`vla_bench recording`: the control rate with and without a recorder running.

The rate suite's set-up (Rig: 640x480 camera at 30 Hz, joint states at 100 Hz; vla_node with a generated ACT
model, joint_trajectory at RATE Hz), alternating runs without and with a recorder_node process recording every
topic, so drift on a shared machine hits both alike. Reports per-run period error and the p99 ratio.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from vla_ros.bench.node_runs import INSTRUCTION, JOINTS, model_for_bench, node_params, period_errors, stamp_of
from vla_ros.bench.rig import NodeProcess, Rig, wait_until
from vla_ros.core.types import CommandInterface
from vla_ros.recording.bag import directory_bytes


def measure(rig: Rig, model: Path, rate: float, duration: float, record_dir: Path | None, priority: int) -> dict:
    node = NodeProcess(node_params(model, rate, 1, priority))
    recorder = None
    try:
        rig.wait_for_node()
        if record_dir is not None:
            recorder = NodeProcess({"output_dir": str(record_dir), "command_interface": "joint_trajectory",
                                    "model_path": str(model)}, module="vla_ros.recording.node")
            wait_until(lambda: rig.node.count_subscribers("/vla/action_chunk") > 0, 60, "recorder")
        rig.instruct(f"{INSTRUCTION} {time.monotonic():.0f}")  # a new episode per run
        rig.wait_for_status(lambda s: s.get("state") == "RUNNING", 60, "RUNNING")
        begin = rig.now()
        time.sleep(duration)  # the measurement window
        end = rig.now()
        stamps = [stamp_of(m) for _, m in rig.commands_between(begin, end)]
        rig.instruct("")
    finally:
        if recorder is not None:
            recorder.stop()
        node.stop()
    result = period_errors(stamps, 1.0 / rate)
    if record_dir is not None:
        result["recorded_bytes"] = directory_bytes(record_dir)
        result["recorder_log_tail"] = recorder.log()[-300:] if recorder else ""
    return result


def run_recording_rate(rate: float, duration: float, pairs: int, priority: int) -> dict:
    runs: dict[str, list[dict]] = {"without_recording": [], "with_recording": []}
    with tempfile.TemporaryDirectory() as tmp:
        model = model_for_bench(Path(tmp), (224, 224), None)
        rig = Rig(CommandInterface.JOINT_TRAJECTORY, JOINTS, image_size=(480, 640))
        try:
            for pair in range(pairs):
                runs["without_recording"].append(measure(rig, model, rate, duration, None, priority))
                record_dir = Path(tmp) / f"recordings_{pair}"
                runs["with_recording"].append(measure(rig, model, rate, duration, record_dir, priority))
                shutil.rmtree(record_dir, ignore_errors=True)
        finally:
            rig.close()
    p99 = {k: max(r["p99_ms"] for r in v) for k, v in runs.items()}
    return {"rate_hz": rate, "control_thread_priority": priority, "runs": runs,
            "ratio": p99["with_recording"] / p99["without_recording"] if p99["without_recording"] > 0 else None}
