"""The "machine" object of every `vla_bench` JSON document: where the numbers were measured."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu": _cpu_model() or platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}
    try:
        import onnxruntime
        import torch

        info["torch"] = torch.__version__
        info["onnxruntime"] = onnxruntime.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    try:
        import tensorrt

        info["tensorrt"] = tensorrt.__version__
    except ImportError:
        info["tensorrt"] = None
    return info
