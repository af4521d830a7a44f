"""Instruction encoding: byte-level and HF tokenizers, padding/truncation, cached per instruction."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from vla_ros.core.types import Observation
from vla_ros.model import ModelPackageError, create_policy, load_model_package
from vla_ros.model.language import InstructionEncoder
from vla_ros.model.manifest_types import LanguageInput, WeightFile
from vla_ros.model.package import sha256_file

VOCAB = {"[PAD]": 0, "[UNK]": 1, "pick": 2, "up": 3, "the": 4, "cube": 5}


def write_word_tokenizer(path: Path) -> Path:
    tokenizer = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path


def test_when_bytes_tokenizer_expect_utf8_bytes_padded_and_masked(tmp_path: Path) -> None:
    spec = LanguageInput(None, "tokens", "mask", max_length=6, pad_id=0, dtype="int64")
    out = InstructionEncoder(spec, tmp_path).encode("hé!")
    np.testing.assert_array_equal(out["tokens"], [[104, 195, 169, 33, 0, 0]])
    np.testing.assert_array_equal(out["mask"], [[1, 1, 1, 1, 0, 0]])
    assert out["tokens"].dtype == np.int64


def test_when_instruction_is_longer_than_max_length_expect_truncation(tmp_path: Path) -> None:
    spec = LanguageInput(None, "tokens", None, max_length=3, pad_id=9, dtype="int32")
    out = InstructionEncoder(spec, tmp_path).encode("abcdef")
    np.testing.assert_array_equal(out["tokens"], [[97, 98, 99]])
    assert out["tokens"].dtype == np.int32 and set(out) == {"tokens"}


def test_when_hf_tokenizer_file_expect_its_ids_with_pad(tmp_path: Path) -> None:
    write_word_tokenizer(tmp_path / "tokenizer.json")
    spec = LanguageInput(WeightFile("tokenizer.json", None), "tokens", "mask", max_length=7, pad_id=0, dtype="int64")
    out = InstructionEncoder(spec, tmp_path).encode("pick up the red cube")
    np.testing.assert_array_equal(out["tokens"], [[2, 3, 4, 1, 5, 0, 0]])
    np.testing.assert_array_equal(out["mask"], [[1, 1, 1, 1, 1, 0, 0]])


def test_when_same_instruction_repeats_expect_single_encoding(tmp_path: Path) -> None:
    encoder = InstructionEncoder(LanguageInput(None, "tokens", None, 8, 0, "int64"), tmp_path)
    first = encoder.encode("pick")
    for _ in range(5):
        assert encoder.encode("pick") is first
    assert encoder.encode_count == 1
    encoder.encode("place")
    assert encoder.encode_count == 2
    assert not first["tokens"].flags.writeable


def test_when_policy_runs_many_frames_of_one_instruction_expect_one_encoding(act_package_dir: Path) -> None:
    policy, _ = create_policy(load_model_package(act_package_dir), "onnxruntime")
    image = np.zeros((96, 96, 3), dtype=np.uint8)
    for instruction in ["pick up the cube"] * 4 + ["stop there"] * 3:
        policy.infer(Observation({"front": image}, 0.0, instruction, np.zeros(6)))
    assert policy.encoder is not None and policy.encoder.encode_count == 2


def _with_tokenizer(act_package_dir: Path, tmp_path: Path, edit_sha: bool) -> Path:
    import yaml

    pkg = tmp_path / "pkg"
    shutil.copytree(act_package_dir, pkg)
    write_word_tokenizer(pkg / "tokenizer.json")
    data: dict[str, Any] = yaml.safe_load((pkg / "vla.yaml").read_text())
    sha = "f" * 64 if edit_sha else sha256_file(pkg / "tokenizer.json")
    data["inputs"]["language"]["tokenizer"] = {"file": "tokenizer.json", "sha256": sha}
    (pkg / "vla.yaml").write_text(yaml.safe_dump(data))
    return pkg


def test_when_package_ships_tokenizer_json_expect_it_used(act_package_dir: Path, tmp_path: Path) -> None:
    policy, _ = create_policy(load_model_package(_with_tokenizer(act_package_dir, tmp_path, False)), "onnxruntime")
    assert policy.encoder is not None
    np.testing.assert_array_equal(policy.encoder.encode("pick the cube")["instruction_tokens"][0, :4], [2, 4, 5, 0])


def test_when_tokenizer_sha256_differs_expect_error_naming_it(act_package_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match=r"inputs\.language\.tokenizer\.sha256: 'tokenizer\.json'"):
        load_model_package(_with_tokenizer(act_package_dir, tmp_path, True))
