"""Checks shared by the vla_serve tests of both paths (one process, and Ray Serve's proxy)."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from vla_ros.model.remote import codec

SIM_ACT_REQUEST = {"observation/image": np.zeros((96, 96, 3), np.uint8), "observation/state": np.zeros(6),
                   "prompt": "touch the red cube"}


def check_bad_requests_close_only_their_connection(url: str, max_request_bytes: int,
                                                   headers: dict[str, str] | None = None,
                                                   timeout: float = 20.0) -> None:
    """Not msgpack, not an observation, one byte over the limit: each gets a text frame saying why and its
    connection closed, while another robot's connection to the same server goes on being served."""
    request = codec.pack(SIM_ACT_REQUEST)
    with connect(url, additional_headers=headers, max_size=None, open_timeout=timeout) as good:
        assert codec.unpack(good.recv(timeout=timeout))["model"] == "sim_act"
        for bad_frame, complaint in ((b"\xc1 not msgpack", "bad request"),
                                     (msgpack.packb({"prompt": "no image"}), "no 'observation/image'"),
                                     (b"\x00" * (max_request_bytes + 1), "over the server's limit")):
            with connect(url, additional_headers=headers, max_size=None, open_timeout=timeout) as bad:
                bad.recv(timeout=timeout)  # metadata
                bad.send(bad_frame)
                error = bad.recv(timeout=timeout)
                assert isinstance(error, str) and complaint in error, error
                with pytest.raises(ConnectionClosed):
                    bad.recv(timeout=timeout)
            good.send(request)
            assert codec.unpack(good.recv(timeout=timeout))["actions"].shape == (10, 6)
