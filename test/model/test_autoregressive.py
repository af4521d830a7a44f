"""autoregressive_tokens packages: greedy decoding over prefill + step graphs with the KV cache kept between
tokens, against torch's own step-by-step generation; the action-token restriction; both token maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vla_ros.core.types import ActionSemantics, Observation
from vla_ros.model import RuntimeOptions, create_policy, load_model_package
from vla_ros.model.autoregressive import action_token_range
from vla_ros.model.autoregressive.decode import greedy_decode
from vla_ros.model.backends.torch_backend import build_torch_module
from vla_ros.model.decoding import ActionDecoder
from vla_ros.model.manifest_types import (
    ActionSpec,
    AutoregressiveSpec,
    BinEncoding,
    BinScheme,
    BinsSpec,
    Normalization,
    NormalizationKind,
    OutputKind,
    OutputSpec,
)
from vla_ros.training.ar_package import ar_draft, build_ar_example
from vla_ros.training.export import ParityThresholds, export_package


@pytest.fixture(scope="module")
def ar_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ar_example(tmp_path_factory.mktemp("ar") / "ar_example", seed=3, horizon=4)


def _observation(seed: int) -> Observation:
    rng = np.random.default_rng(seed)
    return Observation({"front": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}, 0.0,
                       ["touch the red cube", "push the green sphere left", ""][seed % 3], rng.normal(0.0, 0.3, 6))


def test_when_decoded_on_onnxruntime_expect_torch_generate_tokens_and_one_prefill_per_chunk(ar_package: Path) -> None:
    package = load_model_package(ar_package)
    policy, _ = create_policy(package, "onnxruntime", RuntimeOptions())
    module = build_torch_module(package.manifest.torch, package.torch_state_dict_path)
    stepper = policy.session.stepper
    for seed in range(3):
        feeds = policy.preprocess(_observation(seed))
        tokens = policy.session.run(feeds).reshape(-1)
        expected = module.generate(*(torch.from_numpy(np.array(feeds[n]))
                                     for n in ("image_front", "instruction_tokens", "state")))
        np.testing.assert_array_equal(tokens, expected.numpy().reshape(-1))
        assert stepper.prefill_runs == seed + 1  # the prefix is computed once per chunk, never per token
    assert policy.session.timings_ms["decoded_tokens"] == 4 * 6
    assert policy.session.timings_ms["prefill_ms"] > 0 and policy.session.timings_ms["decode_token_ms"] > 0


def test_when_generated_tokens_teacher_forced_expect_cached_steps_equal_a_full_causal_pass(ar_package: Path) -> None:
    package = load_model_package(ar_package)
    module = build_torch_module(package.manifest.torch, package.torch_state_dict_path)
    policy, _ = create_policy(package, "torch", RuntimeOptions())
    feeds = {n: torch.from_numpy(np.array(v)) for n, v in policy.preprocess(_observation(1)).items()}
    generated = module.generate(feeds["image_front"], feeds["instruction_tokens"], feeds["state"])
    with torch.no_grad():
        logits = module(feeds["image_front"], feeds["instruction_tokens"], feeds["state"], generated)
    restricted = logits[..., module.token_offset:].argmax(dim=-1) + module.token_offset
    np.testing.assert_array_equal(restricted.numpy(), generated.numpy())


class ScriptedStepper:
    """Logits that favour byte token 7 and, among the action tokens, token 256 + 3 + position."""

    def __init__(self, vocab: int) -> None:
        self.vocab, self.position = vocab, 0
        self.fed: list[int] = []

    def _logits(self) -> np.ndarray:
        logits = np.zeros((1, self.vocab), dtype=np.float32)
        logits[0, 7] = 10.0
        logits[0, 256 + 3 + self.position] = 5.0
        return logits

    def prefill(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        self.position = 0
        return self._logits()

    def step(self, token: int) -> np.ndarray:
        self.fed.append(token)
        self.position += 1
        return self._logits()


def test_when_argmax_restricted_to_action_tokens_expect_best_action_token_else_the_byte_token() -> None:
    stepper = ScriptedStepper(512)
    restricted = greedy_decode(stepper, {}, 4, allowed=(256, 512))
    np.testing.assert_array_equal(restricted, [259, 260, 261, 262])
    assert stepper.fed == [259, 260, 261]  # each token goes back in, the last one needs no step
    np.testing.assert_array_equal(greedy_decode(ScriptedStepper(512), {}, 3, allowed=None), [7, 7, 7])


def _ar_outputs(bins: BinsSpec) -> OutputSpec:
    spec = AutoregressiveSpec(512, "token", "past_kv", "present_kv", True)
    return OutputSpec(OutputKind.AUTOREGRESSIVE_TOKENS, "logits", 1, 2, bins, spec)


def test_when_openvla_token_map_expect_ids_counted_down_from_the_vocabulary_end_to_bin_centers() -> None:
    bins = BinsSpec(BinScheme.OPENVLA, 256, BinEncoding.TOKEN_IDS, 512, None)
    outputs = _ar_outputs(bins)
    assert action_token_range(outputs) == (257, 512)
    decoder = ActionDecoder(outputs, ActionSpec(ActionSemantics.JOINT_POSITION, Normalization(NormalizationKind.NONE),
                                                None))
    actions = decoder(np.array([[[511, 257]]]))  # bin 0 and bin 254: the first and last centers
    centers = (np.linspace(-1, 1, 256)[:-1] + np.linspace(-1, 1, 256)[1:]) / 2
    np.testing.assert_allclose(actions[0], [centers[0], centers[254]])


def test_when_rt2_token_map_expect_offset_range() -> None:
    bins = BinsSpec(BinScheme.RT2, 256, BinEncoding.TOKEN_IDS, None, 256)
    assert action_token_range(_ar_outputs(bins)) == (256, 512)


def test_when_token_parity_fails_expect_no_manifest_written(tmp_path: Path) -> None:
    from vla_ros.training.families.ar_tokens import ArTokensPolicy

    kwargs = {"image_size": [96, 96], "horizon": 2, "action_dim": 6, "state_dim": 6}
    draft = ar_draft("refused", "parity gate test", kwargs, max_instruction_bytes=32, control_period_s=0.1,
                     state_mean=[0.0] * 6, state_std=[1.0] * 6, action_low=[-1.0] * 6, action_high=[1.0] * 6)
    result = export_package(draft, tmp_path / "refused", module=ArTokensPolicy(**kwargs), samples=2,
                            tensorrt="off", thresholds=ParityThresholds(min_cosine=1.1, max_abs=0.0))
    assert not result.manifest_written and not (tmp_path / "refused" / "vla.yaml").exists()
