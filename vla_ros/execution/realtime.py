"""Thread scheduling for vla_node's threads (Linux SCHED_FIFO), shared by the ROS adapter and the pipeline."""

from __future__ import annotations

import os


def set_fifo_priority(priority: int) -> str | None:
    """Run the calling thread (only it, on Linux) at SCHED_FIFO `priority`; 0 leaves it as it is.

    Returns None when applied or not asked for, else why it could not be applied (no rtprio rights, no
    SCHED_FIFO on this OS), for the caller to log: running at normal priority is degraded, not broken.
    """
    if priority <= 0:
        return None
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError, AttributeError) as error:
        return (f"SCHED_FIFO priority {priority} not applied ({error}); grant rtprio (e.g. "
                "/etc/security/limits.conf) or run with CAP_SYS_NICE")
    return None
