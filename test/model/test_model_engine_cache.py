"""TensorRT engine cache keys and hit/miss logic (no GPU needed: the cache never imports TensorRT)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vla_ros.model.backends.engine_cache import EngineCache, EngineKey


def key(**overrides: object) -> EngineKey:
    fields: dict[str, object] = {"gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": (9, 0),
                                 "tensorrt_version": "10.3.0", "onnx_sha256": "a" * 64,
                                 "input_shapes": {"image_front": (1, 3, 96, 96), "state": (1, 6)},
                                 "precision": "fp16"}
    fields.update(overrides)
    return EngineKey.create(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("change", [
    {"gpu_name": "NVIDIA L4"},
    {"compute_capability": (8, 9)},
    {"tensorrt_version": "10.4.0"},
    {"onnx_sha256": "b" * 64},
    {"input_shapes": {"image_front": (1, 3, 128, 128), "state": (1, 6)}},
    {"precision": "fp32"},
])
def test_when_any_key_field_changes_expect_different_engine_file(change: dict[str, object]) -> None:
    assert key(**change).file_stem() != key().file_stem()
    assert key(**change).digest() != key().digest()


def test_when_input_order_differs_expect_same_key() -> None:
    reordered = key(input_shapes={"state": (1, 6), "image_front": (1, 3, 96, 96)})
    assert reordered == key() and reordered.file_stem() == key().file_stem()


def test_when_file_stem_is_built_expect_readable_gpu_cc_version_precision() -> None:
    stem = key().file_stem()
    assert stem.startswith("nvidia-h100-80gb-hbm3_sm90_trt10.3.0_fp16_")


def test_when_precision_is_unknown_expect_error() -> None:
    with pytest.raises(ValueError, match="precision='int4'"):
        key(precision="int4")


def test_when_key_matches_expect_engine_loaded_without_rebuild(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path / "engine_cache")
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return b"engine-bytes"

    first, hit_first = cache.get_or_build(key(), build)
    second, hit_second = EngineCache(tmp_path / "engine_cache").get_or_build(key(), build)  # a "second start"
    assert (first, hit_first) == (b"engine-bytes", False)
    assert (second, hit_second) == (b"engine-bytes", True)
    assert len(builds) == 1


def test_when_precision_changes_expect_new_build_next_to_old_engine(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.get_or_build(key(), lambda: b"fp16")
    engine, hit = cache.get_or_build(key(precision="fp32"), lambda: b"fp32")
    assert (engine, hit) == (b"fp32", False)
    assert len(list(tmp_path.glob("*.engine"))) == 2


def test_when_sidecar_key_does_not_match_expect_rebuild(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.get_or_build(key(), lambda: b"old")
    other = dataclasses.replace(key(), tensorrt_version="9.9")
    cache.key_path(key()).write_text(other.as_json())  # an engine copied in by hand under the wrong name
    engine, hit = cache.get_or_build(key(), lambda: b"new")
    assert (engine, hit) == (b"new", False)
    assert cache.load(key()) == b"new"


def test_when_engine_file_is_missing_expect_rebuild(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.get_or_build(key(), lambda: b"first")
    cache.engine_path(key()).unlink()
    assert cache.get_or_build(key(), lambda: b"second") == (b"second", False)



def test_when_cache_cannot_be_written_expect_engine_used_uncached(tmp_path, monkeypatch) -> None:
    from vla_ros.model.backends.engine_cache import EngineCache

    cache = EngineCache(tmp_path)

    def read_only(*_args: object) -> None:
        raise PermissionError("read-only install prefix")

    monkeypatch.setattr(cache, "store", read_only)
    engine, hit = cache.get_or_build(key(), lambda: b"engine")
    assert engine == b"engine" and not hit
