"""Helpers shared by the safety tests (a module with a unique name: `conftest` is ambiguous across test dirs)."""

from __future__ import annotations

import numpy as np

from vla_ros.safety import SafetyInputs

PERIOD = 0.01  # 100 Hz control


def fresh_inputs(now: float, measured: np.ndarray | None = None, proposed: np.ndarray | None = None,
                 **overrides: object) -> SafetyInputs:
    """Inputs where everything is fresh and an instruction is active; override what a test breaks."""
    fields: dict[str, object] = dict(now=now, image_stamp=now, state_stamp=now,
                                     measured_positions=np.zeros(3) if measured is None else measured,
                                     instruction_active=True, last_chunk_time=now, proposed=proposed)
    fields.update(overrides)
    return SafetyInputs(**fields)  # type: ignore[arg-type]
