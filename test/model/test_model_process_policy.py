"""ProcessPolicy: the model in a real child process gives the same actions and the same errors as in process."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from vla_ros.bench.rig_process import wait_until
from vla_ros.core.types import Observation
from vla_ros.model import InputError, ModelPackageError, RuntimeOptions, create_policy, load_model_package
from vla_ros.model.process_policy import InferenceWorkerError, ProcessPolicy, create_process_policy
from vla_ros.training.export import random_observations
from vla_ros.training.package_builder import build_torch_package

TEST_SUPPORT = Path(__file__).resolve().parents[1] / "support"


@pytest.fixture
def test_modules_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child process imports the deliberately broken test models by module path, as vla_node's does."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TEST_SUPPORT), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture
def process_policy(act_package_dir: Path):
    policy, _ = create_process_policy(act_package_dir, "onnxruntime", RuntimeOptions())
    yield policy
    policy.close()


def _process_exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited; only its parent's wait() is missing
        return stat.read().split()[2] == "Z"


def test_when_observations_run_in_the_child_process_expect_the_in_process_actions(act_package_dir: Path,
                                                                                  process_policy) -> None:
    package = load_model_package(act_package_dir)
    local, _ = create_policy(package, "onnxruntime")
    assert process_policy.selection.name == "onnxruntime"
    assert process_policy.pid != os.getpid()
    for obs in random_observations(package.manifest, 4, seed=11):
        np.testing.assert_array_equal(process_policy.infer(obs), local.infer(obs))
    timings = process_policy.timings_ms
    assert {"preprocess", "inference", "postprocess", "total", "ipc"} <= set(timings)
    assert timings["total"] > 0 and timings["ipc"] >= 0


def test_when_a_camera_image_is_missing_expect_input_error_and_the_process_still_serving(act_package_dir: Path,
                                                                                        process_policy) -> None:
    package = load_model_package(act_package_dir)
    [obs] = random_observations(package.manifest, 1, seed=1)
    broken = type(obs)({}, obs.stamp, obs.instruction, obs.state)
    with pytest.raises(InputError, match="missing image from camera 'front'"):
        process_policy.infer(broken)
    assert process_policy.infer(obs).shape == (package.horizon, package.action_dim)


def test_when_the_model_raises_in_the_child_expect_worker_error_naming_it(tmp_path: Path,
                                                                         test_modules_importable) -> None:
    root = build_torch_package(tmp_path / "raising", "vla_model_test_modules:RaisingActPolicy")
    policy = ProcessPolicy(root, "torch", RuntimeOptions())
    try:
        [obs] = random_observations(load_model_package(root).manifest, 1, seed=2)
        with pytest.raises(InferenceWorkerError, match="RuntimeError: deliberate model fault"):
            policy.infer(obs)
    finally:
        policy.close()


def test_when_the_package_is_broken_expect_model_package_error_at_construction(tmp_path: Path) -> None:
    (tmp_path / "vla.yaml").write_text("name: broken\n")
    with pytest.raises(ModelPackageError):
        ProcessPolicy(tmp_path, "onnxruntime", RuntimeOptions())


def test_when_the_child_is_killed_expect_one_error_then_a_new_process(act_package_dir: Path, process_policy) -> None:
    [obs] = random_observations(load_model_package(act_package_dir).manifest, 1, seed=3)
    expected = process_policy.infer(obs)
    old_pid = process_policy.pid
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: process_policy._process.poll() is not None, 10, "child exit")
    with pytest.raises(InferenceWorkerError, match="exited"):
        process_policy.infer(obs)
    np.testing.assert_array_equal(process_policy.infer(obs), expected)
    assert process_policy.pid not in (None, old_pid)


def test_when_closed_expect_the_child_process_gone(act_package_dir: Path) -> None:
    policy, _ = create_process_policy(act_package_dir, "onnxruntime")
    pid = policy.pid
    assert pid is not None and not _process_exited(pid)
    policy.close()
    assert _process_exited(pid)


def test_when_image_sizes_change_between_frames_expect_each_frame_seen_whole(act_package_dir: Path,
                                                                             process_policy) -> None:
    """The shared slot grows for a larger frame; a smaller one after it must not read the larger one's tail."""
    package = load_model_package(act_package_dir)
    local, _ = create_policy(package, "onnxruntime")
    rng = np.random.default_rng(5)
    for height, width in ((120, 160), (480, 640), (120, 160), (240, 320)):
        image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        obs = Observation({"front": image}, 1.0, "push the block", np.zeros(6))
        np.testing.assert_array_equal(process_policy.infer(obs), local.infer(obs))


def test_when_started_from_a_real_time_thread_expect_the_model_process_at_normal_scheduling(
        act_package_dir: Path) -> None:
    """vla_node starts the child from SCHED_FIFO threads; the model's work must not inherit real-time priority."""
    import threading

    from vla_ros.execution.realtime import set_fifo_priority

    started: dict[str, object] = {}

    def start_at_fifo() -> None:
        started["fifo"] = set_fifo_priority(10) is None
        started["policy"] = ProcessPolicy(act_package_dir, "onnxruntime", RuntimeOptions())

    thread = threading.Thread(target=start_at_fifo)
    thread.start()
    thread.join()
    policy = started["policy"]
    try:
        if not started["fifo"]:
            pytest.skip("no rtprio rights here: nothing to inherit")
        threads = [int(t.name) for t in Path(f"/proc/{policy.pid}/task").iterdir()]
        assert len(threads) > 1  # numpy's and the backend's thread pools, created while importing and loading
        assert all(os.sched_getscheduler(tid) == os.SCHED_OTHER for tid in threads), \
            {tid: os.sched_getscheduler(tid) for tid in threads}
    finally:
        policy.close()
