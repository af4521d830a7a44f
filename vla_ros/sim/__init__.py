"""Embedded MuJoCo robot (ROS-free): model, rendering, command application, tasks and expert.

The GL backend is chosen here, before any submodule imports mujoco (see gl_backend.py).
"""

from vla_ros.sim.gl_backend import select_gl_backend

GL_BACKEND = select_gl_backend()
