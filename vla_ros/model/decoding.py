"""Raw model output -> actions [T, D] float64 in robot units.

continuous: the output already is [T, D] (normalized as declared).
bins: logits [T, D, L] (argmax) or token ids [T, D] -> bin index -> bin center in [-1, 1], with
  rt2:     n_bins equal bins over [-1, 1]; center_i = -1 + (2 i + 1) / n_bins; bin = token_id - token_offset
           (for logits the last axis is the bins themselves).
  openvla: edges = linspace(-1, 1, n_bins); centers = midpoints (n_bins - 1 of them);
           bin = clip(vocab_size - token_id - 1, 0, n_bins - 2) (OpenVLA's ActionTokenizer.decode_token_ids_to_actions);
           for logits the last axis is the whole vocabulary and token_id = argmax.
Then unnormalize (bounds: low + (x + 1) / 2 (high - low); mean_std: x std + mean) on the masked dimensions,
and finally map the gripper dimension onto the robot's open/closed convention.
"""

from __future__ import annotations

import numpy as np

from vla_ros.model.errors import InvalidModelOutput
from vla_ros.model.manifest_types import (
    ActionSpec,
    BinEncoding,
    BinScheme,
    BinsSpec,
    GripperSpec,
    Normalization,
    NormalizationKind,
    OutputSpec,
)


def bin_centers(bins: BinsSpec) -> np.ndarray:
    if bins.scheme is BinScheme.RT2:
        edges = np.linspace(-1.0, 1.0, bins.n_bins + 1)
    else:
        edges = np.linspace(-1.0, 1.0, bins.n_bins)
    return (edges[:-1] + edges[1:]) / 2.0


def token_ids_to_bins(token_ids: np.ndarray, bins: BinsSpec) -> np.ndarray:
    ids = np.asarray(token_ids).astype(np.int64)
    if bins.scheme is BinScheme.OPENVLA:
        assert bins.vocab_size is not None
        return np.clip(bins.vocab_size - ids - 1, 0, bins.n_bins - 2)
    offset = bins.token_offset or 0
    index = ids - offset
    if np.any(index < 0) or np.any(index >= bins.n_bins):
        bad = ids[(index < 0) | (index >= bins.n_bins)]
        raise InvalidModelOutput(f"token id(s) {bad[:5].tolist()} outside the action bins "
                                 f"[{offset}, {offset + bins.n_bins - 1}]")
    return index


def decode_bins(raw: np.ndarray, bins: BinsSpec) -> np.ndarray:
    """Normalized actions in [-1, 1] from logits [..., L] or token ids [...]."""
    if bins.encoding is BinEncoding.LOGITS:
        winners = np.argmax(raw, axis=-1)
        index = winners if bins.scheme is BinScheme.RT2 else token_ids_to_bins(winners, bins)
    else:
        index = token_ids_to_bins(raw, bins)
    return bin_centers(bins)[index]


def unnormalize(values: np.ndarray, norm: Normalization) -> np.ndarray:
    if norm.kind is NormalizationKind.NONE:
        return values
    assert norm.mask is not None
    if norm.kind is NormalizationKind.MEAN_STD:
        assert norm.mean is not None and norm.std is not None
        robot = values * norm.std + norm.mean
    else:
        assert norm.low is not None and norm.high is not None
        robot = norm.low + 0.5 * (values + 1.0) * (norm.high - norm.low)
    return np.where(norm.mask, robot, values)


def apply_gripper(actions: np.ndarray, gripper: GripperSpec) -> np.ndarray:
    """Map the model's gripper value to the robot's: fraction open = (v - closed) / (open - closed), clipped."""
    out = actions.copy()
    fraction = (out[:, gripper.index] - gripper.model_closed) / (gripper.model_open - gripper.model_closed)
    fraction = np.where(fraction >= 0.5, 1.0, 0.0) if gripper.binarize else np.clip(fraction, 0.0, 1.0)
    out[:, gripper.index] = gripper.robot_closed + fraction * (gripper.robot_open - gripper.robot_closed)
    return out


class ActionDecoder:
    def __init__(self, outputs: OutputSpec, action: ActionSpec) -> None:
        self.outputs = outputs
        self.action = action
        if outputs.kind.returns_actions or (
                outputs.bins is not None and outputs.bins.encoding is BinEncoding.TOKEN_IDS):
            self.expected_shape: tuple[int, ...] = (1, outputs.horizon, outputs.action_dim)
        else:
            assert outputs.bins is not None
            self.expected_shape = (1, outputs.horizon, outputs.action_dim, outputs.bins.logits_size)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw)
        if raw.shape != self.expected_shape:
            raise InvalidModelOutput(f"output '{self.outputs.tensor}': expected shape {self.expected_shape}, "
                                     f"got {raw.shape}")
        if self.outputs.kind.returns_actions:
            normalized = raw[0].astype(np.float64)
        else:
            assert self.outputs.bins is not None
            normalized = decode_bins(raw[0], self.outputs.bins)
        actions = unnormalize(normalized, self.action.normalization)
        if self.action.gripper is not None:
            actions = apply_gripper(actions, self.action.gripper)
        return np.ascontiguousarray(actions, dtype=np.float64)


def normalize(values: np.ndarray, norm: Normalization) -> np.ndarray:
    """unnormalize's inverse."""
    if norm.kind is NormalizationKind.NONE:
        return values
    assert norm.mask is not None
    if norm.kind is NormalizationKind.MEAN_STD:
        assert norm.mean is not None and norm.std is not None
        model = (values - norm.mean) / norm.std
    else:
        assert norm.low is not None and norm.high is not None
        model = 2.0 * (values - norm.low) / (norm.high - norm.low) - 1.0
    return np.where(norm.mask, model, values)


def encode_actions(actions: np.ndarray, action: ActionSpec) -> np.ndarray:
    """Robot-unit actions [d, D] back into the model's space (apply_gripper's and unnormalize's inverses), for
    policies that take actions as input (a real-time-chunking prefix). A binarized gripper comes back at the
    model's open or closed value."""
    out = np.asarray(actions, dtype=np.float64).copy()
    gripper = action.gripper
    if gripper is not None:
        fraction = (out[:, gripper.index] - gripper.robot_closed) / (gripper.robot_open - gripper.robot_closed)
        out[:, gripper.index] = gripper.model_closed + np.clip(fraction, 0.0, 1.0) * (
            gripper.model_open - gripper.model_closed)
    return normalize(out, action.normalization)
