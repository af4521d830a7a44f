from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vla_ros.core.types import ActionSemantics


def _build(out_dir: Path, **kwargs) -> Path:
    from vla_ros.training.package_builder import build_example_package

    return build_example_package(out_dir, **kwargs)


@pytest.fixture(scope="session")
def joint_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ACT-style continuous-chunk model, 6 joints, delta semantics, built and exported by the test run.

    Its manifest fixes the camera's source size to 96x96, so frames of another size must be refused."""
    package = _build(tmp_path_factory.mktemp("joint_model") / "act", family="act", joint_names_count=6,
                     semantics=ActionSemantics.JOINT_POSITION_DELTA, horizon=10, control_period_s=0.1)
    manifest = package / "vla.yaml"
    document = yaml.safe_load(manifest.read_text())
    document["inputs"]["cameras"][0]["source_size"] = [96, 96]
    manifest.write_text(yaml.safe_dump(document, sort_keys=False))
    return package


@pytest.fixture(scope="session")
def twist_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("twist_model") / "act_ee", family="act", joint_names_count=6,
                  semantics=ActionSemantics.EE_DELTA, horizon=10, control_period_s=0.1)


@pytest.fixture(scope="session")
def pose_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("pose_model") / "act_pose", family="act", joint_names_count=7,
                  semantics=ActionSemantics.EE_ABSOLUTE, horizon=10, control_period_s=0.1)
