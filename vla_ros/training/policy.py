"""`FilmKeypointPolicy`: the small VLA `vla_train` trains (image + instruction + joint state -> joint chunk).

- Language: byte embedding -> two 1-D convolutions (a 5-byte receptive field sees words such as "red",
  "left", "tap") -> masked max-pool -> one instruction vector. Own encoder, no downloaded weights.
- Vision: a 4-layer CNN whose last two layers are FiLM-modulated by the instruction (Perez et al. 2018), so
  the instruction decides *which* object the features light up; a spatial soft-argmax (Levine et al. 2016)
  turns each channel into an image-plane keypoint, which is what reaching needs: where the target is.
- Fusion: keypoints + instruction vector + normalized joint state -> MLP -> a [T, 6] chunk of joint
  *offsets* from the current joint positions; the graph adds them to the (un-normalized) state, so the
  exported output is absolute joint targets (manifest semantics `joint_position`, normalization `none`).

Everything is plain Conv/MatMul/Softmax/ReduceMax so the legacy ONNX exporter handles it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class InstructionEncoder(nn.Module):
    def __init__(self, vocab_size: int, width: int, pad_id: int) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, width)
        self.conv1 = nn.Conv1d(width, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, padding=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != self.pad_id).unsqueeze(1)  # [B, 1, L]
        x = self.embedding(tokens).transpose(1, 2)  # [B, W, L]
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        # Padding can never win the max; an empty instruction gives the -1e4 floor clamped to 0.
        x = torch.where(mask, x, torch.full_like(x, -1e4))
        return torch.clamp(x.max(dim=2).values, min=0.0)


class SpatialSoftArgmax(nn.Module):
    """[B, C, H, W] -> [B, 2C]: the expected (x, y) in [-1, 1] of each channel's softmax over the grid."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1), persistent=False)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, c = features.shape[0], features.shape[1]
        weights = torch.softmax(features.reshape(b, c, -1) * torch.exp(-self.log_temperature), dim=-1)
        return torch.matmul(weights, self.grid).reshape(b, 2 * c)


class FilmKeypointPolicy(nn.Module):
    def __init__(self, image_size: Sequence[int] = (96, 96), state_dim: int = 6, action_dim: int = 6,
                 horizon: int = 10, vocab_size: int = 256, pad_id: int = 0, channels: int = 32,
                 language_width: int = 64, hidden: int = 256,
                 state_mean: Sequence[float] | None = None, state_std: Sequence[float] | None = None,
                 offset_scale: Sequence[float] | None = None) -> None:
        super().__init__()
        h, w = int(image_size[0]), int(image_size[1])
        if h % 4 or w % 4:
            raise ValueError(f"image_size={list(image_size)}: both sides must be multiples of 4")
        if action_dim != state_dim:
            raise ValueError(f"action_dim={action_dim} must equal state_dim={state_dim}: actions are "
                             "offsets added to the joint state")
        self.horizon, self.action_dim = horizon, action_dim
        self.language = InstructionEncoder(vocab_size, language_width, pad_id)
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels // 2, kernel_size=4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels // 2, channels, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        )
        self.conv3 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.film = nn.Linear(language_width, 4 * channels)  # (gamma, beta) for conv3 and conv4
        self.keypoints = SpatialSoftArgmax(h // 4, w // 4)
        self.head = nn.Sequential(
            nn.Linear(2 * channels + language_width + state_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, horizon * action_dim),
        )

        def vector(values: Sequence[float] | None, default: float) -> torch.Tensor:
            tensor = torch.full((state_dim,), default) if values is None else torch.tensor(list(values))
            if tensor.shape != (state_dim,):
                raise ValueError(f"normalization vectors need {state_dim} values, got {list(tensor.shape)}")
            return tensor.float()

        # Part of the state_dict (and the kwargs), so the exported graph is self-contained.
        self.register_buffer("state_mean", vector(state_mean, 0.0))
        self.register_buffer("state_std", vector(state_std, 1.0))
        self.register_buffer("offset_scale", vector(offset_scale, 0.1))

    def _modulate(self, x: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        gamma, beta = film.chunk(2, dim=1)
        return torch.relu(x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None])

    def normalized_offsets(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                           state: torch.Tensor) -> torch.Tensor:
        """[B, T, D] offsets / offset_scale: what training regresses."""
        text = self.language(instruction_tokens)
        film3, film4 = self.film(text).chunk(2, dim=1)
        x = self.stem(image_front)
        x = self._modulate(self.conv3(x), film3)
        x = self._modulate(self.conv4(x), film4)
        features = torch.cat([self.keypoints(x), text, state], dim=1)
        return self.head(features).reshape(-1, self.horizon, self.action_dim)

    def forward(self, image_front: torch.Tensor, instruction_tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        """state is normalized by the manifest ((q - mean) / std); returns absolute joint targets [B, T, D]."""
        offsets = self.normalized_offsets(image_front, instruction_tokens, state) * self.offset_scale
        joints = state * self.state_std + self.state_mean
        return joints.unsqueeze(1) + offsets
