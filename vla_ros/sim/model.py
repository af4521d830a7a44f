"""The simulated world as an MJCF string: a 6-DOF arm with a parallel gripper on a table, 3 objects.

Frames: the world frame is the robot base frame (x forward, y left, z up); the table top is z = 0.
Everything is generated here so there are no downloaded assets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARM_JOINTS: tuple[str, ...] = ("joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6")
GRIPPER_JOINT = "gripper"
JOINT_NAMES: tuple[str, ...] = (*ARM_JOINTS, GRIPPER_JOINT)
ARM_DOF = len(ARM_JOINTS)
DOF = len(JOINT_NAMES)

# Limits the lead copies into config/sim.yaml (rad, rad/s, rad/s^2; the gripper is metres of finger
# travel per side: 0 = closed, 0.04 = open).
JOINT_LOWER = np.array([-2.9, -1.8, -2.6, -2.9, -2.2, -2.9, 0.0])
JOINT_UPPER = np.array([2.9, 1.8, 2.6, 2.9, 2.2, 2.9, 0.04])
JOINT_MAX_VELOCITY = np.array([2.0, 2.0, 2.5, 3.0, 3.0, 3.0, 0.1])
JOINT_MAX_ACCELERATION = np.array([10.0, 10.0, 12.0, 15.0, 15.0, 15.0, 1.0])

# Tool pointing straight down at (0.2, 0, 0.38), tucked back so the camera sees every object
# (found with ArmKinematics.solve_ik).
HOME_POSITIONS = np.array([0.0, -0.3151, 1.7851, 0.0, 1.6715, 0.0, 0.0])

EE_SITE = "ee_site"
CAMERA_NAME = "front"
TABLE_HALF_EXTENT = (0.45, 0.45)  # x, y half sizes of the table top
TABLE_CENTER_X = 0.35


@dataclass(frozen=True)
class ObjectSpec:
    """One graspable object: its name is `<color>_<shape>`; size is the MuJoCo geom size tuple."""

    color: str
    shape: str  # "cube" | "cylinder" | "sphere"
    rgba: tuple[float, float, float, float]
    size: tuple[float, ...]

    @property
    def name(self) -> str:
        return f"{self.color}_{self.shape}"

    @property
    def half_height(self) -> float:
        return self.size[-1] if self.shape != "sphere" else self.size[0]

    @property
    def radius(self) -> float:
        """Horizontal half extent (the cube's half side)."""
        return self.size[0]

    @property
    def geom_type(self) -> str:
        return {"cube": "box", "cylinder": "cylinder", "sphere": "sphere"}[self.shape]


OBJECTS: tuple[ObjectSpec, ...] = (
    ObjectSpec("red", "cube", (0.85, 0.1, 0.1, 1.0), (0.025, 0.025, 0.025)),
    ObjectSpec("blue", "cylinder", (0.1, 0.25, 0.9, 1.0), (0.025, 0.03)),
    ObjectSpec("green", "sphere", (0.1, 0.75, 0.15, 1.0), (0.028,)),
)


def _object_xml(spec: ObjectSpec, index: int) -> str:
    size = " ".join(f"{s:g}" for s in spec.size)
    rgba = " ".join(f"{c:g}" for c in spec.rgba)
    # The sphere gets rolling friction (condim 6) so a push does not send it off the table.
    contact = 'condim="6" friction="1 0.01 0.002"' if spec.shape == "sphere" else 'condim="4" friction="1 0.01 0.001"'
    x = 0.4 + 0.08 * index
    return f"""
    <body name="{spec.name}" pos="{x:g} {0.1 * (index - 1):g} {spec.half_height:g}">
      <freejoint name="{spec.name}_free"/>
      <geom name="{spec.name}_geom" type="{spec.geom_type}" size="{size}" rgba="{rgba}" mass="0.08" {contact}/>
    </body>"""


def build_mjcf(physics_dt: float = 0.002) -> str:
    """The whole world as an MJCF string (arm, gripper, table, objects, light, camera)."""
    objects = "".join(_object_xml(spec, i) for i, spec in enumerate(OBJECTS))
    lo, hi = JOINT_LOWER, JOINT_UPPER
    tx, ty = TABLE_HALF_EXTENT
    return f"""
<mujoco model="vla_sim_arm">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{physics_dt:g}" integrator="implicitfast"/>
  <visual>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="640" offheight="480"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
  </visual>
  <default>
    <joint armature="0.05" damping="0.5" limited="true" solreflimit="0.004 1"/>
    <geom contype="1" conaffinity="1" friction="0.8 0.01 0.001"/>
    <default class="link">
      <geom type="capsule" rgba="0.75 0.75 0.78 1" density="600"/>
    </default>
    <default class="finger">
      <geom type="box" rgba="0.2 0.2 0.22 1" density="800" friction="1.2 0.01 0.001" condim="4"/>
    </default>
  </default>
  <worldbody>
    <light name="sun" directional="true" pos="0.3 0.3 2" dir="-0.1 -0.1 -1" diffuse="0.55 0.55 0.55"
           castshadow="false"/>
    <geom name="floor" type="plane" pos="0 0 -0.75" size="2 2 0.1" rgba="0.35 0.35 0.38 1"/>
    <geom name="table" type="box" pos="{TABLE_CENTER_X:g} 0 -0.025" size="{tx:g} {ty:g} 0.025"
          rgba="0.62 0.5 0.38 1" friction="0.6 0.01 0.001"/>
    <!-- Over the robot's shoulder, steep: image left is the robot's left (+y) and the tucked arm hides no object. -->
    <camera name="{CAMERA_NAME}" pos="0.2 0 1.05" xyaxes="0 -1 0 0.973 0 0.232" fovy="48"/>
    <body name="base" pos="0 0 0">
      <geom name="base_geom" type="cylinder" size="0.07 0.03" pos="0 0 0.03" rgba="0.3 0.3 0.32 1"/>
      <body name="link_1" pos="0 0 0.06" gravcomp="1">
        <joint name="joint_1" axis="0 0 1" range="{lo[0]:g} {hi[0]:g}"/>
        <geom class="link" fromto="0 0 0 0 0 0.08" size="0.05"/>
        <body name="link_2" pos="0 0 0.1" gravcomp="1">
          <joint name="joint_2" axis="0 1 0" range="{lo[1]:g} {hi[1]:g}"/>
          <geom class="link" fromto="0 0 0 0 0 0.35" size="0.04"/>
          <body name="link_3" pos="0 0 0.35" gravcomp="1">
            <joint name="joint_3" axis="0 1 0" range="{lo[2]:g} {hi[2]:g}"/>
            <geom class="link" fromto="0 0 0 0 0 0.16" size="0.035"/>
            <body name="link_4" pos="0 0 0.16" gravcomp="1">
              <joint name="joint_4" axis="0 0 1" range="{lo[3]:g} {hi[3]:g}"/>
              <geom class="link" fromto="0 0 0 0 0 0.15" size="0.03"/>
              <body name="link_5" pos="0 0 0.15" gravcomp="1">
                <joint name="joint_5" axis="0 1 0" range="{lo[4]:g} {hi[4]:g}"/>
                <geom class="link" fromto="0 0 0 0 0 0.05" size="0.028" rgba="0.9 0.55 0.1 1"/>
                <body name="link_6" pos="0 0 0.06" gravcomp="1">
                  <joint name="joint_6" axis="0 0 1" range="{lo[5]:g} {hi[5]:g}"/>
                  <geom name="palm" type="box" size="0.02 0.055 0.012" pos="0 0 0.012" rgba="0.25 0.25 0.28 1"/>
                  <body name="finger_left" pos="0 0 0.024" gravcomp="1">
                    <joint name="{GRIPPER_JOINT}" type="slide" axis="0 1 0" range="{lo[6]:g} {hi[6]:g}"/>
                    <geom class="finger" name="finger_left_geom" size="0.018 0.006 0.03" pos="0 0.007 0.03"/>
                  </body>
                  <body name="finger_right" pos="0 0 0.024" gravcomp="1">
                    <joint name="gripper_mirror" type="slide" axis="0 -1 0" range="{lo[6]:g} {hi[6]:g}"/>
                    <geom class="finger" name="finger_right_geom" size="0.018 0.006 0.03" pos="0 -0.007 0.03"/>
                  </body>
                  <site name="{EE_SITE}" pos="0 0 0.084" size="0.006" rgba="1 1 0 0"/>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
    {objects}
  </worldbody>
  <contact>
    <exclude body1="finger_left" body2="finger_right"/>
    <exclude body1="link_6" body2="finger_left"/>
    <exclude body1="link_6" body2="finger_right"/>
    <exclude body1="base" body2="link_1"/>
  </contact>
  <equality>
    <joint joint1="gripper_mirror" joint2="{GRIPPER_JOINT}" polycoef="0 1 0 0 0"/>
  </equality>
  <actuator>
{_actuators_xml()}
  </actuator>
</mujoco>
"""


# PD gains per joint: a position servo (kp) plus a velocity servo (kv) fed with the setpoint
# velocity, so a moving setpoint is tracked without the lag of a pure position servo.
_KP = (300.0, 300.0, 250.0, 80.0, 80.0, 40.0, 400.0)
_KV = (30.0, 30.0, 25.0, 8.0, 8.0, 4.0, 40.0)
_FORCE = (150.0, 150.0, 120.0, 40.0, 40.0, 20.0, 40.0)


def _actuators_xml() -> str:
    lines = []
    for name, kp, force in zip(JOINT_NAMES, _KP, _FORCE):
        lines.append(f'    <position name="{name}_pos" joint="{name}" kp="{kp:g}" forcerange="{-force:g} {force:g}"/>')
    for name, kv, force in zip(JOINT_NAMES, _KV, _FORCE):
        lines.append(f'    <velocity name="{name}_vel" joint="{name}" kv="{kv:g}" forcerange="{-force:g} {force:g}"/>')
    return "\n".join(lines)
