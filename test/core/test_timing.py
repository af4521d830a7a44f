"""The shared p50/p99/max/n summary: numpy's default (linear) percentiles, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.core.timing import TimingStats, timing_stats


@pytest.mark.parametrize("size", [1, 2, 3, 99, 100, 101, 1000])
def test_when_samples_given_expect_numpy_linear_percentiles_and_max(size: int) -> None:
    samples = np.random.default_rng(size).exponential(2.0, size).tolist()
    stats = TimingStats.of_ms(samples)
    assert stats.p50_ms == float(np.percentile(samples, 50, method="linear"))
    assert stats.p99_ms == float(np.percentile(samples, 99, method="linear"))
    assert stats.max_ms == max(samples)
    assert stats.n == size


def test_when_samples_given_as_list_or_array_expect_identical_stats() -> None:
    samples = np.random.default_rng(7).normal(5.0, 1.0, 257)
    assert TimingStats.of_ms(samples) == TimingStats.of_ms(samples.tolist())


def test_when_no_samples_expect_zeros_and_n_zero() -> None:
    assert timing_stats([]) == {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "n": 0}
    assert timing_stats(np.array([])) == {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "n": 0}


def test_when_converted_to_dict_expect_the_bench_json_keys_in_order_with_python_types() -> None:
    summary = timing_stats([1.0, 2.0, 4.0])
    assert list(summary) == ["p50_ms", "p99_ms", "max_ms", "n"]
    assert all(type(summary[key]) is float for key in ("p50_ms", "p99_ms", "max_ms"))
    assert type(summary["n"]) is int


def test_when_digits_given_expect_each_millisecond_value_rounded_and_n_kept() -> None:
    samples = [1.23456, 2.34567, 9.87654]
    exact = TimingStats.of_ms(samples)
    assert timing_stats(samples, digits=3) == {"p50_ms": round(exact.p50_ms, 3), "p99_ms": round(exact.p99_ms, 3),
                                               "max_ms": 9.877, "n": 3}
