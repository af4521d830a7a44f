"""Pick the headless OpenGL backend before MuJoCo is imported.

MuJoCo (and PyOpenGL under it) read MUJOCO_GL / PYOPENGL_PLATFORM once, at import, so the choice
has to be made before the first `import mujoco` in the process. EGL is preferred (GPU or Mesa's
surfaceless llvmpipe); OSMesa is the software fallback. The probe uses libEGL through ctypes, so it
costs microseconds and does not bind PyOpenGL to a platform.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

_LOG = logging.getLogger(__name__)
_EGL_PLATFORM_DEVICE_EXT = 0x313F


def _load_egl() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
    except OSError:
        return None


def _initializes(egl: ctypes.CDLL, display: int | None) -> bool:
    if not display:
        return False
    major, minor = ctypes.c_int(), ctypes.c_int()
    # No eglTerminate: EGL displays are per-process singletons, and terminating it here would pull it
    # from under a MuJoCo renderer using the same display. Leaving it initialized costs nothing.
    return bool(egl.eglInitialize(ctypes.c_void_p(display), ctypes.byref(major), ctypes.byref(minor)))


def egl_available() -> bool:
    """True when libEGL loads and a headless display initializes (what mujoco.egl will need).

    MuJoCo opens an EGL *device* display (EGL_EXT_platform_device), so that is probed first; the
    default display is the fallback some drivers offer instead.
    """
    egl = _load_egl()
    if egl is None:
        return False
    egl.eglGetProcAddress.restype = ctypes.c_void_p
    egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    egl.eglInitialize.restype = ctypes.c_uint
    egl.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    query_address = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
    platform_address = egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
    if query_address and platform_address:
        query_devices = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.POINTER(ctypes.c_int))(query_address)
        get_platform_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p,
                                                ctypes.c_void_p)(platform_address)
        devices = (ctypes.c_void_p * 8)()
        count = ctypes.c_int()
        if query_devices(8, devices, ctypes.byref(count)):
            for i in range(count.value):
                if _initializes(egl, get_platform_display(_EGL_PLATFORM_DEVICE_EXT, devices[i], None)):
                    return True
    egl.eglGetDisplay.restype = ctypes.c_void_p
    egl.eglGetDisplay.argtypes = [ctypes.c_void_p]
    return _initializes(egl, egl.eglGetDisplay(None))


def osmesa_available() -> bool:
    return ctypes.util.find_library("OSMesa") is not None


def select_gl_backend() -> str:
    """Set MUJOCO_GL (and PYOPENGL_PLATFORM) unless the user already chose; return the backend name."""
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        return chosen
    if "mujoco" in sys.modules:
        # Too late to influence MuJoCo's choice; say so rather than pretend.
        _LOG.warning("mujoco was imported before vla_ros.sim; its default GL backend stays in effect")
        return "default"
    if egl_available():
        backend = "egl"
    elif not osmesa_available():
        # Neither works: keep EGL so `import mujoco` still succeeds; creating a renderer then fails
        # with the explanation in render.py.
        message = ("vla_sim: neither EGL nor OSMesa is usable here; rendering will fail. Install libegl1 "
                   "(or a GPU driver) or libosmesa6.")
        _LOG.warning(message)
        print(message, file=sys.stderr)
        backend = "egl"
    else:
        backend = "osmesa"
        message = ("vla_sim: EGL is not available on this machine (no libEGL or no display could be "
                   "initialized); falling back to OSMesa software rendering (MUJOCO_GL=osmesa). Install "
                   "libegl1 / a GPU driver for faster rendering, or libosmesa6 if OSMesa is missing too.")
        _LOG.warning(message)
        print(message, file=sys.stderr)
    os.environ["MUJOCO_GL"] = backend
    os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return backend
