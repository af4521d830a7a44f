"""Fixtures for the model runtime tests: seeded example packages built once per session, one CPU thread."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from vla_ros.training.package_builder import build_example_package

torch.set_num_threads(1)  # the test machine is shared; the models are tiny anyway


@pytest.fixture(scope="session")
def act_package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_package(tmp_path_factory.mktemp("act") / "act_example", "act", seed=0)


@pytest.fixture(scope="session")
def rt2_package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_package(tmp_path_factory.mktemp("rt2") / "rt2_example", "rt2", seed=0)


ManifestEditor = Callable[[Callable[[dict[str, Any]], None]], Path]


@pytest.fixture
def edited_act_package(act_package_dir: Path, tmp_path: Path) -> ManifestEditor:
    """Copy the act package, apply `edit(manifest_dict)` to its vla.yaml, return the copy's directory."""

    def make(edit: Callable[[dict[str, Any]], None]) -> Path:
        target = tmp_path / "pkg"
        shutil.copytree(act_package_dir, target, dirs_exist_ok=True)
        manifest_path = target / "vla.yaml"
        data = yaml.safe_load(manifest_path.read_text())
        edit(data)
        manifest_path.write_text(yaml.safe_dump(data, sort_keys=False))
        return target

    return make
