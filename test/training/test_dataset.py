"""Demonstration generation from the real ArmSim + scripted expert."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.training.dataset import (
    DatasetConfigError,
    DemoConfig,
    chunk_targets,
    encode_instruction,
    generate_demonstrations,
)


@pytest.fixture(scope="module")
def small_dataset():
    return generate_demonstrations(DemoConfig(episodes=2, seed=7, image_size=(48, 64), noise_max=0.0))


def test_when_generating_demonstrations_expect_aligned_arrays(small_dataset) -> None:
    data = small_dataset
    n = len(data)
    assert n > 20
    assert data.images.shape == (n, 48, 64, 3) and data.images.dtype == np.uint8
    assert data.tokens.shape == (n, 48) and data.tokens.dtype == np.int64
    assert data.states.shape == (n, 6)
    assert data.targets.shape == (n, 10, 6)
    assert data.episode.shape == (n,)
    assert len(data.task_names) == len(data.instructions) == 2
    assert data.successes.all()  # the unperturbed expert solves these seeds


def test_when_generating_expect_tokens_to_spell_the_episode_instruction(small_dataset) -> None:
    data = small_dataset
    first = data.tokens[0]
    text = bytes(int(b) for b in first if b).decode("utf-8")
    assert text == data.instructions[int(data.episode[0])]


def test_when_generating_expect_targets_to_start_near_the_state_and_move(small_dataset) -> None:
    data = small_dataset
    offsets = np.abs(data.targets[:, 0, :] - data.states)
    assert np.median(offsets) < 0.05  # the first chunk step is the expert's next command, close to the arm
    assert np.max(np.abs(data.targets[:, -1, :] - data.states)) > 0.1  # later steps go somewhere


def test_when_chunking_expect_stride_and_last_action_repeated() -> None:
    actions = np.arange(5, dtype=np.float32)[:, None]
    chunks = chunk_targets(actions, stride=2, horizon=3)
    assert chunks[:, :, 0].tolist() == [[0, 2, 4], [1, 3, 4], [2, 4, 4], [3, 4, 4], [4, 4, 4]]


def test_when_encoding_instruction_expect_utf8_bytes_zero_padded() -> None:
    assert encode_instruction("ab", 4).tolist() == [97, 98, 0, 0]
    assert encode_instruction("abcdef", 3).tolist() == [97, 98, 99]


def test_when_model_period_not_multiple_of_expert_period_expect_error_naming_field() -> None:
    with pytest.raises(DatasetConfigError, match="model_period"):
        DemoConfig(expert_period=0.04, model_period=0.1)
