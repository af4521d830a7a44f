"""Short versions of the fuzz benchmark and of the bench JSON contract (timing values are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ros_harness import REPO_ROOT

pytestmark = pytest.mark.ros


def test_when_fuzzed_on_every_topic_expect_no_crash_no_unsafe_command_and_recovery(joint_model) -> None:
    from vla_ros.tools.fuzz import run_fuzz

    results = run_fuzz(messages=150, model_path=str(joint_model))
    for topic in ("image", "compressed", "instruction", "joint_states", "estop"):
        assert results["topics"][topic]["published"] >= 100, (topic, results["topics"][topic])
        assert results["topics"][topic]["node_alive"], topic
    assert results["commands_checked"] > 0
    assert results["unsafe_commands"] == 0
    assert results["responsive_after"]
    assert results["node_exit_code"] == 0
    assert results["passed"]


def test_bench_overhead_prints_one_json_object_with_timing_fields(joint_model) -> None:
    run = subprocess.run([sys.executable, "-m", "vla_ros.tools.bench", "overhead", "--json", "--iterations", "30",
                          "--model", str(joint_model)], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["suite"] == "overhead" and "cpu_count" in document["machine"]
    for key in ("pipeline_excluding_model", "image_decode", "control_tick", "model_only"):
        assert set(document["results"][key]) == {"p50_ms", "p99_ms", "max_ms", "n"}
        assert document["results"][key]["n"] == 30
