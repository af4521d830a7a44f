"""Forward kinematics, site Jacobian, damped-least-squares velocity and pose IK for the arm.

Works on its own scratch MjData, so evaluating a configuration never disturbs the simulation.
Public quaternions follow ROS: [qx, qy, qz, qw]; MuJoCo's internal order is [w, x, y, z].
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from vla_ros.sim.model import ARM_JOINTS, EE_SITE, JOINT_LOWER, JOINT_UPPER

# Tool pointing straight down (tool z = -world z), fingers opening along world y.
TOOL_DOWN_QUAT_XYZW = np.array([0.0, 1.0, 0.0, 0.0])


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    return np.array([q[3], q[0], q[1], q[2]], dtype=float)


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.array([q[1], q[2], q[3], q[0]], dtype=float)


def orientation_error(target_wxyz: np.ndarray, current_wxyz: np.ndarray) -> np.ndarray:
    """World-frame rotation vector that turns `current` into `target` (shortest way)."""
    current_conj = np.empty(4)
    mujoco.mju_negQuat(current_conj, current_wxyz)
    q_err = np.empty(4)
    mujoco.mju_mulQuat(q_err, target_wxyz, current_conj)
    if q_err[0] < 0:  # same rotation, take the short way round
        q_err = -q_err
    rotvec = np.empty(3)
    mujoco.mju_quat2Vel(rotvec, q_err, 1.0)
    return rotvec


@dataclass(frozen=True)
class IkResult:
    positions: np.ndarray  # arm joints (6)
    converged: bool
    position_error: float  # m
    orientation_error: float  # rad


class ArmKinematics:
    """Kinematics of the 6 arm joints up to the tool site `ee_site`."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self._model = model
        self._data = mujoco.MjData(model)
        self._site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, EE_SITE)
        self._qpos_adr = np.array([model.jnt_qposadr[model.joint(n).id] for n in ARM_JOINTS])
        self._dof_adr = np.array([model.jnt_dofadr[model.joint(n).id] for n in ARM_JOINTS])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self.lower = JOINT_LOWER[: len(ARM_JOINTS)].copy()
        self.upper = JOINT_UPPER[: len(ARM_JOINTS)].copy()

    def _set(self, q: np.ndarray) -> None:
        self._data.qpos[self._qpos_adr] = q
        mujoco.mj_kinematics(self._model, self._data)
        mujoco.mj_comPos(self._model, self._data)

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool position (m) and orientation quaternion [x y z w] in the base frame."""
        self._set(q)
        return self._site_pose()

    def _site_pose(self) -> tuple[np.ndarray, np.ndarray]:
        pos = self._data.site_xpos[self._site_id].copy()
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, self._data.site_xmat[self._site_id])
        return pos, wxyz_to_xyzw(quat)

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """6x6 site Jacobian, rows [vx vy vz wx wy wz] in the base frame, columns the arm joints."""
        self._set(q)
        return self._jacobian_here()

    def _jacobian_here(self) -> np.ndarray:
        mujoco.mj_jacSite(self._model, self._data, self._jacp, self._jacr, self._site_id)
        return np.vstack((self._jacp[:, self._dof_adr], self._jacr[:, self._dof_adr]))

    def twist_to_joint_velocity(self, q: np.ndarray, twist: np.ndarray, damping: float = 0.05) -> np.ndarray:
        """Joint velocities realizing base-frame twist [vx vy vz wx wy wz] by damped least squares.

        Damping keeps the solution bounded near singularities (it trades tracking accuracy there).
        """
        jac = self.jacobian(q)
        jjt = jac @ jac.T + (damping**2) * np.eye(6)
        return jac.T @ np.linalg.solve(jjt, np.asarray(twist, dtype=float))

    def solve_ik(self, target_pos: np.ndarray, target_quat_xyzw: np.ndarray | None, seed: np.ndarray,
                 max_iterations: int = 200, position_tolerance: float = 1e-3,
                 orientation_tolerance: float = 1e-2, damping: float = 0.02,
                 orientation_weight: float = 0.5) -> IkResult:
        """Iterative DLS IK from `seed`; joint limits are enforced at every iteration.

        With `target_quat_xyzw` None only the position is solved (orientation is left free).
        """
        q = np.clip(np.asarray(seed, dtype=float).copy(), self.lower, self.upper)
        target_pos = np.asarray(target_pos, dtype=float)
        target_wxyz = None if target_quat_xyzw is None else xyzw_to_wxyz(np.asarray(target_quat_xyzw, dtype=float))
        if target_wxyz is not None:
            target_wxyz = target_wxyz / np.linalg.norm(target_wxyz)
        pos_err = ori_err = np.inf
        for _ in range(max_iterations):
            self._set(q)
            pos, quat_xyzw = self._site_pose()
            err_p = target_pos - pos
            pos_err = float(np.linalg.norm(err_p))
            jac = self._jacobian_here()
            if target_wxyz is None:
                err, jac_used, ori_err = err_p, jac[:3], 0.0
            else:
                err_r = orientation_error(target_wxyz, xyzw_to_wxyz(quat_xyzw))
                ori_err = float(np.linalg.norm(err_r))
                err = np.concatenate((err_p, orientation_weight * err_r))
                jac_used = np.vstack((jac[:3], orientation_weight * jac[3:]))
            if pos_err < position_tolerance and ori_err < orientation_tolerance:
                return IkResult(q, True, pos_err, ori_err)
            # Limit the Cartesian step so the linearization stays valid far from the target.
            norm = np.linalg.norm(err)
            if norm > 0.1:
                err = err * (0.1 / norm)
            jjt = jac_used @ jac_used.T + (damping**2) * np.eye(jac_used.shape[0])
            dq = jac_used.T @ np.linalg.solve(jjt, err)
            q = np.clip(q + dq, self.lower, self.upper)
        return IkResult(q, False, pos_err, ori_err)
