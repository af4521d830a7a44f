"""Headless camera rendering, tuned for speed (no shadows, no reflections, no multisampling)."""

from __future__ import annotations

import os

import mujoco
import numpy as np


class RenderError(RuntimeError):
    """The OpenGL context could not be created; the message says what to install or set."""


class CameraRenderer:
    """Renders one named camera of the model to HxWx3 uint8 RGB."""

    def __init__(self, model: mujoco.MjModel, camera: str, width: int, height: int) -> None:
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            # The offscreen buffer is sized in the model; grow it rather than fail.
            model.vis.global_.offwidth = max(width, model.vis.global_.offwidth)
            model.vis.global_.offheight = max(height, model.vis.global_.offheight)
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as exc:  # GL failures surface as several exception types
            backend = os.environ.get("MUJOCO_GL", "<unset>")
            raise RenderError(
                f"cannot create an OpenGL context for the sim camera (MUJOCO_GL={backend}): {exc}. "
                "Headless rendering needs EGL (libegl1 + Mesa or a GPU driver) or OSMesa (libosmesa6); "
                "set MUJOCO_GL=egl or MUJOCO_GL=osmesa before starting.") from exc
        flags = self._renderer.scene.flags
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                     mujoco.mjtRndFlag.mjRND_SKYBOX, mujoco.mjtRndFlag.mjRND_FOG):
            flags[flag] = False
        self._camera = camera
        self.width = width
        self.height = height

    def render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, camera=self._camera)
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()
