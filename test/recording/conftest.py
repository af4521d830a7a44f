"""Recording tests reuse the cross-process harness of test/ros (RobotStub, NodeProcess)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ros"))
