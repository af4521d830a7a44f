"""What an episode records about where it came from, so a run can be reproduced (and refused if it cannot)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

EPISODE_FORMAT = "vla_ros.episode/1"


def model_sha256(path: Path | str) -> str:
    """sha256 of a model package: of the file, or of a folder's files (relative name and content, sorted).

    Hashing the whole package (manifest + weights) means a changed normalization in vla.yaml changes the hash
    too, not only new weights. Engine caches (*.engine) are derived files and are left out."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                   and p.suffix != ".engine" and "__pycache__" not in p.parts)
    if not files:
        raise FileNotFoundError(f"model path {path} holds no files to hash")
    for file in files:
        relative = file.name if file == path else str(file.relative_to(path))
        digest.update(relative.encode() + b"\0")
        with file.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def git_revision(source: Path | None = None) -> dict[str, object] | None:
    """The commit of the vla_ros checkout this code runs from, and whether the tree had local changes.
    None when not run from a git checkout (an installed package)."""
    folder = source or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}
