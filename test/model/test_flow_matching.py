"""flow_matching packages: Euler integration, the frozen real-time-chunking prefix, and the same chunk on
onnxruntime and torch from the same seeded noise."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.types import Observation
from vla_ros.model import RuntimeOptions, create_policy, load_model_package
from vla_ros.model.flow.integrate import initial_noise, integrate
from vla_ros.model.manifest_types import FlowSpec, RtcSpec
from vla_ros.training.export import ParityThresholds, export_package
from vla_ros.training.flow_package import build_flow_example, flow_draft

SPEC = FlowSpec(steps=10, noise_seed=3, context=("context",), noisy_actions="noisy_actions", time="time",
                rtc=RtcSpec(4))
TARGET = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(1, 4, 3)


class PointMassField:
    """The exact flow field towards one point `a`: v(x, tau) = (a - x) / (1 - tau); Euler lands on `a`."""

    def __init__(self, target: np.ndarray) -> None:
        self.target = target
        self.calls: list[np.ndarray] = []

    def prefix(self, feeds: dict[str, np.ndarray]) -> None:
        pass

    def velocity(self, noisy_actions: np.ndarray, time: np.ndarray) -> np.ndarray:
        self.calls.append(time.copy())
        remaining = np.maximum(1.0 - time, 1e-6)[..., None]
        return (self.target - noisy_actions) / remaining


class ConstantField:
    def prefix(self, feeds: dict[str, np.ndarray]) -> None:
        pass

    def velocity(self, noisy_actions: np.ndarray, time: np.ndarray) -> np.ndarray:
        return np.full_like(noisy_actions, 0.5)


def test_when_field_is_the_exact_point_mass_flow_expect_euler_to_land_on_the_point() -> None:
    field = PointMassField(TARGET)
    out = integrate(field, SPEC, horizon=4, action_dim=3)
    np.testing.assert_allclose(out, TARGET, atol=1e-5)
    assert [float(t[0, 0]) for t in field.calls] == pytest.approx([k / 10 for k in range(10)])


def test_when_field_is_constant_expect_seeded_noise_plus_velocity_and_same_noise_every_call() -> None:
    out = integrate(ConstantField(), SPEC, horizon=4, action_dim=3)
    np.testing.assert_allclose(out, initial_noise(SPEC, 4, 3) + 0.5, atol=1e-6)
    np.testing.assert_array_equal(out, integrate(ConstantField(), SPEC, horizon=4, action_dim=3))


def test_when_prefix_is_frozen_expect_it_kept_exactly_at_flow_time_one_and_the_rest_integrated() -> None:
    field = PointMassField(TARGET)
    frozen = np.full((2, 3), 7.0, dtype=np.float32)
    out = integrate(field, SPEC, horizon=4, action_dim=3, frozen=frozen)
    np.testing.assert_array_equal(out[0, :2], frozen)
    np.testing.assert_allclose(out[0, 2:], TARGET[0, 2:], atol=1e-5)
    assert all(np.all(t[0, :2] == 1.0) for t in field.calls)


@pytest.fixture(scope="module")
def flow_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_flow_example(tmp_path_factory.mktemp("flow") / "flow_example", seed=1, action_scale=0.2)


def _observation(seed: int) -> Observation:
    rng = np.random.default_rng(seed)
    return Observation({"front": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}, 0.0, "touch the red cube",
                       rng.normal(0.0, 0.3, 6))


def test_when_same_observation_on_onnxruntime_and_torch_expect_same_chunk_and_staged_timings(
        flow_package: Path) -> None:
    package = load_model_package(flow_package)
    onnx, _ = create_policy(package, "onnxruntime", RuntimeOptions())
    torch_policy, _ = create_policy(package, "torch", RuntimeOptions())
    for seed in range(3):
        np.testing.assert_allclose(onnx.infer(_observation(seed)), torch_policy.infer(_observation(seed)), atol=1e-4)
    assert onnx.timings_ms["denoise_steps"] == 10 and onnx.timings_ms["prefix_ms"] > 0.0


def test_when_observation_carries_frozen_actions_expect_chunk_starting_with_them_in_robot_units(
        flow_package: Path) -> None:
    policy, _ = create_policy(load_model_package(flow_package), "onnxruntime", RuntimeOptions())
    plain = policy.infer(_observation(0))
    frozen = plain[3:6] + 0.05  # robot units, not what the model would have said there
    chunk = policy.infer(dataclasses.replace(_observation(0), frozen_actions=frozen))
    np.testing.assert_allclose(chunk[:3], frozen, atol=1e-5)
    assert not np.allclose(chunk[3:], plain[3:])  # the rest continues from the frozen actions
    too_long = policy.infer(dataclasses.replace(_observation(0), frozen_actions=np.tile(frozen, (3, 1))))
    np.testing.assert_allclose(too_long[:5], np.tile(frozen, (3, 1))[:5], atol=1e-5)  # capped at max_delay_steps


def test_when_parity_fails_expect_no_manifest_written(tmp_path: Path) -> None:
    from vla_ros.training.families.flow_matching import FlowMatchingPolicy

    kwargs = {"image_size": [96, 96], "horizon": 10, "action_dim": 6, "state_dim": 6}
    draft = flow_draft("refused", "parity gate test", kwargs, max_instruction_bytes=32, control_period_s=0.1,
                       state_mean=[0.0] * 6, state_std=[1.0] * 6, action_mean=[0.0] * 6, action_std=[1.0] * 6)
    impossible = ParityThresholds(min_cosine=1.1, max_abs=0.0)
    result = export_package(draft, tmp_path / "refused", module=FlowMatchingPolicy(**kwargs), samples=2,
                            tensorrt="off", thresholds=impossible)
    assert not result.manifest_written and not (tmp_path / "refused" / "vla.yaml").exists()
    assert (tmp_path / "refused" / "prefix.onnx").is_file()
