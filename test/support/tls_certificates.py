"""A throwaway CA and a server certificate for 127.0.0.1 signed by it (made with the openssl command), for the
tests of wss:// between robots and policy servers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def make_test_certificates(folder: Path) -> dict[str, Path]:
    """{"ca", "cert", "key"} paths in `folder`; skips the calling test where openssl is missing."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a CA")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=vla_ros test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "1", "-extfile", "san.ext")
    return {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
