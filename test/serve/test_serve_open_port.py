"""vla_serve refuses to open its port beyond the machine without an API key, unless told the network is trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from vla_ros.serve.cli import _is_loopback, main

SIM_ACT = Path(__file__).resolve().parents[2] / "models" / "sim_act"


# Addresses this machine cannot bind: without the refusal the server would fail to start, not hang the test.
@pytest.mark.parametrize("host", ["192.0.2.10", "robot-server.example"])
def test_when_host_is_not_loopback_and_no_api_key_expect_refusal_naming_the_fix(host: str, capsys) -> None:
    assert main([str(SIM_ACT), "--host", host, "--single-process"]) == 1
    error = capsys.readouterr().err
    assert f"--host {host}" in error and "--api-key-env" in error and "--no-auth" in error


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                 ("0.0.0.0", False), ("10.0.0.5", False)])
def test_when_host_classified_expect_only_loopback_counts_as_closed(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback
