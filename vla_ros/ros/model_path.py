"""Where a `model_path` parameter points: a path, or the name of a package installed with vla_ros."""

from __future__ import annotations

from pathlib import Path


def resolve_model_path(model_path: str) -> Path:
    """Absolute, or relative to the working directory, or a name under the installed share/vla_ros/models."""
    candidate = Path(model_path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate
    try:
        from ament_index_python.packages import get_package_share_directory

        shared = Path(get_package_share_directory("vla_ros")) / "models" / model_path
        if shared.exists():
            return shared
    except Exception:  # not installed through ament: only the plain path applies
        pass
    return candidate
