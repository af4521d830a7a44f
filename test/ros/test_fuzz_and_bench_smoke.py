"""Short versions of the fuzz benchmark and of the bench JSON contract (timing values are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from ros_harness import REPO_ROOT


def test_when_fuzzed_on_every_topic_expect_no_crash_no_unsafe_command_and_recovery(joint_model) -> None:
    from vla_ros.bench.fuzz import run_fuzz

    results = run_fuzz(messages=150, model_path=str(joint_model))
    for topic in ("image", "compressed", "instruction", "joint_states", "estop"):
        assert results["topics"][topic]["published"] >= 100, (topic, results["topics"][topic])
        assert results["topics"][topic]["node_alive"], topic
    assert results["commands_checked"] > 0
    assert results["unsafe_commands"] == 0
    assert results["responsive_after"]
    assert results["node_exit_code"] == 0, results.get("node_log_tail")
    assert results["passed"]


def test_bench_overhead_prints_one_json_object_with_timing_fields(joint_model) -> None:
    run = subprocess.run([sys.executable, "-m", "vla_ros.bench.cli", "overhead", "--json", "--iterations", "30",
                          "--model", str(joint_model)], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["suite"] == "overhead" and "cpu_count" in document["machine"]
    for key in ("pipeline_excluding_model", "image_decode", "control_tick", "model_only"):
        assert set(document["results"][key]) == {"p50_ms", "p99_ms", "max_ms", "n"}
        assert document["results"][key]["n"] == 30


# The rate and latency suites build their own model for 640x480 frames (the session models expect 96x96).
def test_bench_rate_measures_bare_timer_and_each_camera_placement_in_one_run() -> None:
    run = subprocess.run([sys.executable, "-m", "vla_ros.bench.cli", "rate", "--json", "--rates", "100",
                          "--duration", "2", "--camera", "both"],
                         capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    entry = json.loads(run.stdout)["results"]["100hz"]
    headline, in_node = entry["vla_node_with_inference"], entry["vla_node_inference_process_camera_thread"]
    assert headline["camera_process"] is True and in_node["camera_process"] is False
    for measured in (entry["bare_timer"], headline, in_node):
        assert {"p50_ms", "p99_ms", "max_ms", "n", "late", "too_late", "publishes"} <= set(measured)
        assert measured["publishes"] > 100  # about 200 in 2 s: the node published at its rate, not a trickle
    assert headline["inferences_per_s"] > 0  # the model ran while the rate was measured
    assert entry["ratio"] == headline["ratio"]
    for measured in (headline, in_node):  # what the node's status counted in the window
        assert isinstance(measured["holds_entered"], dict) and isinstance(measured["deadlines_skipped"], int)
        assert all(name.startswith("hold_") for name in measured["holds_entered"])
        # Counted from this node's own statuses: a negative count would mean the previous node's was used.
        assert measured["deadlines_skipped"] >= 0 and all(n > 0 for n in measured["holds_entered"].values())
        alongside = measured["bare_timer_alongside"]  # a bare timer through the same window
        assert alongside["publishes"] > 100
        assert 0 <= measured["too_late_while_the_bare_timer_also_stalled"] <= measured["too_late"]
        assert measured["ratio_to_bare_timer_alongside"] == measured["p99_ms"] / alongside["p99_ms"]


def test_bench_latency_reports_each_stage_from_camera_stamp_to_command() -> None:
    run = subprocess.run([sys.executable, "-m", "vla_ros.bench.cli", "latency", "--json", "--duration", "3"],
                         capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout)["results"]
    assert results["camera_process"] is True
    assert results["camera_fastdds_profile"].endswith("fastdds_large_frames.xml")
    assert results["chunks_reported"] == results["end_to_end"]["n"] > 0
    for key in ("end_to_end", "end_to_end_minus_model"):
        assert results[key]["n"] > 0, key
    for key in ("transport", "inference", "wait_for_control_tick", "safety_and_publish"):
        assert results["breakdown"][key]["n"] > 0, key


def test_bench_window_counts_only_holds_entered_and_deadlines_skipped_inside_it() -> None:
    from vla_ros.bench.rate import _events_between

    first = {"safety": {"hold_stale_state": 2, "hold_stale_image": 0, "ticks": 5}, "deadlines": {"skipped": 1}}
    last = {"safety": {"hold_stale_state": 3, "hold_stale_image": 0, "hold_fault": 1, "ticks": 900},
            "deadlines": {"skipped": 4}}
    assert _events_between(first, last) == {"holds_entered": {"hold_stale_state": 1, "hold_fault": 1},
                                            "deadlines_skipped": 3}


def test_bench_attributes_a_too_late_publish_to_the_machine_only_where_the_bare_timer_stalled_too() -> None:
    from vla_ros.bench.rate import _coincident_stalls

    period = 0.01
    node = [0.00, 0.01, 0.02, 0.05, 0.06, 0.07, 0.10, 0.11]  # too late after 0.02 and after 0.07
    reference = [0.000, 0.010, 0.020, 0.030, 0.041, 0.070, 0.080, 0.090, 0.100, 0.110]  # stalled 0.041-0.070
    assert _coincident_stalls(node, reference, period) == 1
    assert _coincident_stalls(node, [i * period for i in range(12)], period) == 0
