"""What the `remote:` section of a remote model package says, as typed values (parsed in remote/manifest.py).

A remote package runs no weights of its own: it names an openpi-protocol policy server and spells out how an
observation becomes the server's request dict and what the reply must hold. Format: vla_ros/model/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# A key of the request dict. One string is a top-level key, which may itself contain "/" (openpi's DROID and
# LIBERO policies read flat keys such as "observation/joint_position"); several strings are a path into
# nested dicts (ALOHA reads images["cam_high"]).
KeyPath = tuple[str, ...]

REMOTE_IMAGE_DTYPES = ("uint8", "float32")
REMOTE_STATE_DTYPES = ("float32", "float64")


class RemoteResize(str, Enum):
    PLAIN = "plain"  # stretch to the size (bilinear)
    RESIZE_WITH_PAD = "resize_with_pad"  # openpi's: keep the aspect ratio, bilinear, pad with black, centered


class RemoteLayout(str, Enum):
    HWC = "hwc"
    CHW = "chw"


@dataclass(frozen=True)
class RemoteCamera:
    name: str  # the node's camera name (parameter `cameras`)
    key: KeyPath
    size: tuple[int, int]  # (h, w) sent
    resize: RemoteResize
    layout: RemoteLayout
    dtype: str  # uint8 (0..255) or float32 (0..1)


@dataclass(frozen=True)
class RemoteStateKey:
    key: KeyPath
    dim: int  # this many consecutive values of the node's state vector


@dataclass(frozen=True)
class RemoteState:
    dtype: str
    keys: tuple[RemoteStateKey, ...]  # in the order they are concatenated into the node's state vector

    @property
    def dim(self) -> int:
        return sum(k.dim for k in self.keys)


@dataclass(frozen=True)
class RemoteActions:
    key: str
    horizon: int  # H: the server must reply [H, D]
    action_dim: int  # D
    # Real-time chunking: the server takes up to this many leading actions as given, sent under
    # FROZEN_ACTIONS_KEY in the units of its replies (vla_serve with a flow_matching package); 0 = it does not.
    max_frozen_steps: int = 0


FROZEN_ACTIONS_KEY = "frozen_actions"


@dataclass(frozen=True)
class RemoteSpec:
    url: str  # ws:// or wss://; the node's remote_url parameter overrides it
    cameras: tuple[RemoteCamera, ...]
    state: RemoteState | None
    prompt_key: KeyPath | None
    actions: RemoteActions


def key_text(key: KeyPath) -> str:
    """How a key reads in messages: 'observation/joint_position' or 'images.cam_high' for a nested path."""
    return key[0] if len(key) == 1 else ".".join(key)
