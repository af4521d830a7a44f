"""Joint limits from a URDF (S4: limits come from the robot config, or from the URDF when one is given)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vla_ros.core.config import ConfigError, JointLimits


def limits_from_urdf(urdf: str | Path, joint_names: Sequence[str], max_acceleration: Sequence[float]) -> JointLimits:
    """Position and velocity limits of `joint_names` from the URDF's <limit> tags.

    URDF has no acceleration limits, so those still come from the config. Continuous joints have no position
    limits in URDF; they are refused here rather than silently treated as unlimited.
    """
    text = Path(urdf).read_text() if not str(urdf).lstrip().startswith("<") else str(urdf)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ConfigError(f"joint_limits.urdf: not valid XML ({error})") from error
    joints = {j.get("name"): j for j in root.iter("joint")}
    lower, upper, velocity = [], [], []
    for name in joint_names:
        joint = joints.get(name)
        if joint is None:
            raise ConfigError(f"joint_limits.urdf: joint {name!r} not found (URDF has {sorted(joints)})")
        limit = joint.find("limit")
        if joint.get("type") == "continuous" or limit is None or limit.get("lower") is None:
            raise ConfigError(f"joint_limits.urdf: joint {name!r} ({joint.get('type')}) has no position limits; "
                              "set joint_limits.lower/upper in the config instead")
        lower.append(float(limit.get("lower")))
        upper.append(float(limit.get("upper")))
        velocity.append(float(limit.get("velocity", "nan")))
    if not np.all(np.isfinite(velocity)):
        raise ConfigError(f"joint_limits.urdf: a joint of {list(joint_names)} has no velocity limit")
    return JointLimits.from_lists(joint_names, lower, upper, velocity, max_acceleration)
