"""GL backend choice: a user's MUJOCO_GL wins; otherwise EGL when usable, else OSMesa with a message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vla_ros.sim.gl_backend import egl_available, select_gl_backend


def test_when_user_set_mujoco_gl_expect_it_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    assert select_gl_backend() == "osmesa"
    assert os.environ["MUJOCO_GL"] == "osmesa"


def test_when_mujoco_gl_unset_expect_probe_result_chosen_in_a_fresh_process() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    result = subprocess.run([sys.executable, "-c", "import os, vla_ros.sim; print(os.environ['MUJOCO_GL'])"],
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    chosen = result.stdout.strip()
    assert chosen == ("egl" if egl_available() else "osmesa") or "neither EGL nor OSMesa" in result.stderr
    if chosen == "osmesa":
        assert "falling back to OSMesa" in result.stderr
