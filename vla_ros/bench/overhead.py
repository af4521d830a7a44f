"""`vla_bench overhead`: what vla_node's pipeline costs besides the model, in process, on 640x480 input.

ROS message payload -> decode -> pipeline -> model -> scheduler -> safety, driven by hand on a virtual clock
(no ROS, no background thread), with the model's own time subtracted per iteration.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.bench.node_runs import INSTRUCTION, model_for_bench
from vla_ros.core.timing import timing_stats

WARMUP = 20
HEIGHT, WIDTH = 480, 640


def run_overhead(iterations: int, model_path: str | None) -> dict[str, Any]:
    """In-process: ROS message payload -> decode -> pipeline -> model -> scheduler -> safety, minus model time."""
    from vla_ros.core.parameters import build_node_config
    from vla_ros.inputs.images import decode_raw_image
    from vla_ros.model import create_policy, load_model_package
    from vla_ros.model.options import RuntimeOptions
    from vla_ros.pipeline.pipeline import Pipeline

    with tempfile.TemporaryDirectory() as tmp:
        model = model_for_bench(Path(tmp), (96, 96), model_path)
        config = build_node_config({"model_path": str(model), "command_interface": "joint_trajectory"})
        package = load_model_package(model)
        policy, selection = create_policy(package, "onnxruntime", RuntimeOptions(intra_op_threads=1))
        clock = {"now": 1000.0}
        pipeline = Pipeline(config, package, policy, selection.name, lambda: clock["now"], logging.getLogger("bench"))
        rgb = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        payload = rgb.tobytes()
        pipeline.activate(clock["now"], hand_driven=True)  # this benchmark steps inference and ticks itself
        pipeline.on_instruction(INSTRUCTION)
        decode_ms, overhead_ms, tick_ms, model_ms = [], [], [], []
        for i in range(iterations + WARMUP):
            clock["now"] += 0.01
            pipeline.on_joint_state(list(config.joint_names), [0.0] * 6, clock["now"])
            t0 = time.perf_counter()
            image = decode_raw_image("rgb8", HEIGHT, WIDTH, WIDTH * 3, payload)
            t1 = time.perf_counter()
            pipeline.on_image("front", image, clock["now"], clock["now"])
            pipeline.run_inference_once(clock["now"])
            t2 = time.perf_counter()
            pipeline.control_tick(clock["now"] + 0.001)
            t3 = time.perf_counter()
            if i >= WARMUP:
                inference = policy.timings_ms.get("inference", 0.0)
                decode_ms.append((t1 - t0) * 1e3)
                tick_ms.append((t3 - t2) * 1e3)
                model_ms.append(inference)
                overhead_ms.append((t3 - t0) * 1e3 - inference)
    return {
        "input": f"{WIDTH}x{HEIGHT} rgb8",
        "backend": selection.name,
        "pipeline_excluding_model": timing_stats(overhead_ms),
        "image_decode": timing_stats(decode_ms),
        "control_tick": timing_stats(tick_ms),
        "model_only": timing_stats(model_ms),
    }
