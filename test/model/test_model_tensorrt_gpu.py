"""TensorRT on a real GPU: engine build, cache hit on the second start, parity with torch (skipped without one)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from vla_ros.model import RuntimeOptions, create_policy, load_model_package
from vla_ros.training.export import cosine_similarity, random_observations


def _gpu_with_tensorrt() -> bool:
    if importlib.util.find_spec("tensorrt") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


pytestmark = pytest.mark.skipif(not _gpu_with_tensorrt(), reason="needs TensorRT and a CUDA GPU")


@pytest.mark.parametrize("fp16", [False, True])
def test_when_tensorrt_starts_twice_expect_cache_hit_and_parity(act_package_dir: Path, tmp_path: Path,
                                                                fp16: bool) -> None:
    pkg_dir = tmp_path / "pkg"
    shutil.copytree(act_package_dir, pkg_dir)
    pkg = load_model_package(pkg_dir)
    options = RuntimeOptions(trt_fp16=fp16)
    first, selection = create_policy(pkg, "tensorrt", options)
    assert selection.name == "tensorrt" and first.session.cache_hit is False  # type: ignore[attr-defined]
    second, _ = create_policy(pkg, "tensorrt", options)
    assert second.session.cache_hit is True  # type: ignore[attr-defined]
    assert len(list((pkg_dir / "engine_cache").glob("*.engine"))) == 1

    reference, _ = create_policy(pkg, "torch")
    observations = random_observations(pkg.manifest, 8, seed=5)
    ref = np.stack([reference.infer(o) for o in observations])
    got = np.stack([second.infer(o) for o in observations])
    assert cosine_similarity(ref, got) >= 0.999
    assert np.max(np.abs(ref - got)) <= (1e-2 if fp16 else 1e-3)


def test_when_auto_on_gpu_machine_expect_tensorrt_selected(act_package_dir: Path, tmp_path: Path) -> None:
    pkg_dir = tmp_path / "pkg"
    shutil.copytree(act_package_dir, pkg_dir)
    _, selection = create_policy(load_model_package(pkg_dir), "auto")
    assert selection.name == "tensorrt" and selection.skipped == []


def test_when_engine_built_for_batches_expect_rows_equal_to_single_calls_and_its_own_cache_entry(
        tmp_path: Path) -> None:
    pkg_dir = tmp_path / "pkg"
    shutil.copytree(Path(__file__).resolve().parents[2] / "models" / "sim_act", pkg_dir)  # dynamic batch axis
    pkg = load_model_package(pkg_dir)
    batched, _ = create_policy(pkg, "tensorrt", RuntimeOptions(trt_max_batch=4))
    single, _ = create_policy(pkg, "tensorrt")
    assert batched.session.max_batch == 4 and single.session.max_batch == 1  # type: ignore[attr-defined]
    assert len(list((pkg_dir / "engine_cache").glob("*.engine"))) == 2
    feeds = [batched.preprocess(o) for o in random_observations(pkg.manifest, 3, seed=9)]
    stacked = {name: np.concatenate([f[name] for f in feeds]) for name in feeds[0]}
    rows = batched.session.run(stacked)  # type: ignore[attr-defined]
    alone = np.concatenate([single.session.run(f) for f in feeds])  # type: ignore[attr-defined]
    assert rows.shape[0] == 3
    assert np.max(np.abs(rows - alone)) <= 1e-3
