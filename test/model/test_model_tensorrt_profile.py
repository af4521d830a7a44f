"""TensorRT optimization profiles and batch options, checked without a GPU (the engines are built on one)."""

from __future__ import annotations

import pytest

from vla_ros.model import RuntimeOptions
from vla_ros.model.backends.tensorrt_backend import profile_shapes
from vla_ros.serve.options import ServeOptions


def test_when_the_batch_axis_is_dynamic_and_batches_asked_for_expect_it_spanning_one_to_max() -> None:
    low, opt, high = profile_shapes((-1, 3, 96, 96), (1, 3, 96, 96), max_batch=8)
    assert low == (1, 3, 96, 96)
    assert opt == high == (8, 3, 96, 96)


@pytest.mark.parametrize(("onnx_shape", "max_batch"), [((-1, 3, 96, 96), 1), ((1, 3, -1, -1), 8)])
def test_when_no_batches_or_a_fixed_batch_axis_expect_the_manifest_shape_pinned(onnx_shape: tuple[int, ...],
                                                                               max_batch: int) -> None:
    assert profile_shapes(onnx_shape, (1, 3, 96, 96), max_batch) == ((1, 3, 96, 96),) * 3


@pytest.mark.parametrize("value", [0, 257, True])
def test_when_trt_max_batch_is_out_of_range_expect_error_naming_it(value: object) -> None:
    with pytest.raises(ValueError, match="trt_max_batch"):
        RuntimeOptions(trt_max_batch=value)  # type: ignore[arg-type]


def test_when_serve_batch_exceeds_what_an_engine_takes_expect_error_naming_max_batch_size() -> None:
    with pytest.raises(ValueError, match="max_batch_size=257"):
        ServeOptions(model_path="models/sim_act", max_batch_size=257)
