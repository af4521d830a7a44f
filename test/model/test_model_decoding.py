"""Bin decoding (RT-2 and OpenVLA schemes) against hand-computed tables, unnormalization and gripper mapping."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.core.types import ActionSemantics
from vla_ros.model import InvalidModelOutput
from vla_ros.model.decoding import ActionDecoder, apply_gripper, bin_centers, decode_bins, unnormalize
from vla_ros.model.manifest_types import (
    ActionSpec,
    BinEncoding,
    BinScheme,
    BinsSpec,
    GripperSpec,
    Normalization,
    NormalizationKind,
    OutputKind,
    OutputSpec,
)

RT2 = BinsSpec(BinScheme.RT2, 256, BinEncoding.TOKEN_IDS, None, 1000)
OPENVLA = BinsSpec(BinScheme.OPENVLA, 256, BinEncoding.TOKEN_IDS, 32000, None)


def test_when_rt2_bins_expect_256_centers_of_equal_bins() -> None:
    centers = bin_centers(RT2)
    assert centers.shape == (256,)
    # bin i spans [-1 + i/128, -1 + (i+1)/128]: center -1 + (2i+1)/256
    assert centers[0] == -0.99609375
    assert centers[127] == -0.00390625
    assert centers[128] == 0.00390625
    assert centers[255] == 0.99609375


@pytest.mark.parametrize(("token_id", "value"), [
    (1000, -0.99609375), (1127, -0.00390625), (1128, 0.00390625), (1255, 0.99609375), (1064, -0.49609375),
])
def test_when_rt2_token_ids_decoded_expect_table_values(token_id: int, value: float) -> None:
    assert decode_bins(np.array([token_id]), RT2)[0] == pytest.approx(value, abs=1e-12)


def test_when_rt2_token_id_is_outside_bins_expect_invalid_output() -> None:
    with pytest.raises(InvalidModelOutput, match=r"token id\(s\) \[999\] outside the action bins \[1000, 1255\]"):
        decode_bins(np.array([999]), RT2)


def test_when_rt2_logits_decoded_expect_argmax_bin_center() -> None:
    spec = BinsSpec(BinScheme.RT2, 4, BinEncoding.LOGITS, None, None)  # centers -0.75 -0.25 0.25 0.75
    logits = np.array([[0.1, 3.0, 0.2, 0.0], [0.0, 0.0, 0.0, 9.0]])
    np.testing.assert_array_equal(decode_bins(logits, spec), [-0.25, 0.75])


def test_when_openvla_scheme_expect_255_centers_between_256_edges() -> None:
    centers = bin_centers(OPENVLA)
    assert centers.shape == (255,)
    assert centers[0] == pytest.approx(-1 + 1 / 255)
    assert centers[127] == pytest.approx(0.0, abs=1e-15)
    assert centers[254] == pytest.approx(1 - 1 / 255)


@pytest.mark.parametrize(("token_id", "value"), [
    (31999, -1 + 1 / 255),  # vocab - id = 1 -> bin 0
    (31872, 0.0),  # vocab - id = 128 -> bin 127, the middle center
    (31745, 1 - 1 / 255),  # vocab - id = 255 -> bin 254, the last center
    (31744, 1 - 1 / 255),  # 256 -> clipped to the last center
    (32000, -1 + 1 / 255),  # beyond the action tokens -> clipped to the first center
    (100, 1 - 1 / 255),  # an ordinary text token -> clipped to the last center
])
def test_when_openvla_token_ids_decoded_expect_table_values(token_id: int, value: float) -> None:
    assert decode_bins(np.array([token_id]), OPENVLA)[0] == pytest.approx(value, abs=1e-12)


def test_when_openvla_actions_round_trip_through_its_encoding_expect_nearest_center() -> None:
    edges = np.linspace(-1, 1, 256)
    actions = np.array([-0.9, -0.3, 0.0, 0.01, 0.5, 0.99])
    token_ids = 32000 - np.digitize(actions, edges)  # OpenVLA's ActionTokenizer encoding
    decoded = decode_bins(token_ids, OPENVLA)
    assert np.all(np.abs(decoded - actions) <= 1 / 255 + 1e-12)


def test_when_openvla_logits_over_vocabulary_expect_argmax_token_decoded() -> None:
    spec = BinsSpec(BinScheme.OPENVLA, 5, BinEncoding.LOGITS, 10, None)  # edges -1 -.5 0 .5 1; tokens 9..6
    logits = np.zeros((2, 10))
    logits[0, 9] = 1.0  # token 9: 10 - 9 = 1 -> bin 0 -> -0.75
    logits[1, 6] = 1.0  # token 6: 4 -> bin 3 -> 0.75
    np.testing.assert_array_equal(decode_bins(logits, spec), [-0.75, 0.75])


def test_when_bounds_unnormalized_with_mask_expect_only_masked_dims_scaled() -> None:
    norm = Normalization(NormalizationKind.BOUNDS, low=np.array([0.0, -2.0]), high=np.array([10.0, 2.0]),
                         mask=np.array([True, False]))
    values = np.array([[-1.0, 0.5], [1.0, 1.0], [0.0, -1.0]])
    np.testing.assert_allclose(unnormalize(values, norm), [[0.0, 0.5], [10.0, 1.0], [5.0, -1.0]])


def test_when_mean_std_unnormalized_expect_x_std_plus_mean() -> None:
    norm = Normalization(NormalizationKind.MEAN_STD, mean=np.array([1.0, 0.0]), std=np.array([2.0, 0.5]),
                         mask=np.array([True, True]))
    np.testing.assert_allclose(unnormalize(np.array([[0.5, -2.0]]), norm), [[2.0, -1.0]])


def test_when_normalization_is_none_expect_values_unchanged() -> None:
    values = np.array([[0.3, -7.0]])
    np.testing.assert_array_equal(unnormalize(values, Normalization(NormalizationKind.NONE)), values)


def test_when_gripper_mapped_expect_linear_fraction_clipped_to_robot_range() -> None:
    gripper = GripperSpec(index=1, model_open=1.0, model_closed=0.0, robot_open=0.04, robot_closed=0.0,
                          binarize=False)
    actions = np.array([[9.0, 0.25], [9.0, 2.0], [9.0, -1.0]])
    out = apply_gripper(actions, gripper)
    np.testing.assert_allclose(out, [[9.0, 0.01], [9.0, 0.04], [9.0, 0.0]])


def test_when_gripper_convention_is_inverted_and_binarized_expect_snapped_robot_values() -> None:
    # model: -1 = open, +1 = closed (inverted); robot: 1 = open, 0 = closed
    gripper = GripperSpec(index=0, model_open=-1.0, model_closed=1.0, robot_open=1.0, robot_closed=0.0,
                          binarize=True)
    out = apply_gripper(np.array([[-0.9], [0.2], [-0.1]]), gripper)
    np.testing.assert_array_equal(out[:, 0], [1.0, 0.0, 1.0])


def test_when_decoder_gets_openvla_chunk_expect_unnormalized_actions_with_raw_gripper() -> None:
    outputs = OutputSpec(OutputKind.BINS, "tokens", 1, 2, OPENVLA)
    norm = Normalization(NormalizationKind.BOUNDS, low=np.array([-0.1, 0.0]), high=np.array([0.1, 1.0]),
                         mask=np.array([True, False]))
    gripper = GripperSpec(1, model_open=1.0, model_closed=-1.0, robot_open=0.08, robot_closed=0.0, binarize=True)
    decoder = ActionDecoder(outputs, ActionSpec(ActionSemantics.EE_DELTA, norm, gripper))
    actions = decoder(np.array([[[31872, 31999]]]))  # [1, T=1, D=2]
    assert actions.dtype == np.float64
    np.testing.assert_allclose(actions, [[0.0, 0.0]], atol=1e-12)  # middle bin -> 0.0; gripper -0.996 -> closed


def test_when_output_shape_differs_from_manifest_expect_invalid_output() -> None:
    outputs = OutputSpec(OutputKind.CONTINUOUS, "actions", 10, 6, None)
    decoder = ActionDecoder(outputs, ActionSpec(ActionSemantics.JOINT_POSITION, Normalization(NormalizationKind.NONE),
                                                None))
    with pytest.raises(InvalidModelOutput, match=r"expected shape \(1, 10, 6\), got \(1, 10, 7\)"):
        decoder(np.zeros((1, 10, 7), dtype=np.float32))
