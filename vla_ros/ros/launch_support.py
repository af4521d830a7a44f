"""Checks the launch files call, kept here so the tests can reach them (the launch files stay declarative)."""

from __future__ import annotations

from pathlib import Path


class LaunchConfigurationError(RuntimeError):
    """A launch argument points at something that does not exist."""


def require_params_file(path: str) -> None:
    """launch_ros only warns about a missing parameter file and starts the node anyway: a mistyped config:=
    would then run the robot on default.yaml's placeholder limits. Refuse to launch instead."""
    if not Path(path).is_file():
        raise LaunchConfigurationError(f"params_file {path!r} is not a file (config:=<name> picks "
                                       "config/<name>.yaml; params_file:= takes a path)")
