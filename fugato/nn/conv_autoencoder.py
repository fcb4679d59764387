"""A 1-D convolutional autoencoder over fixed-length audio frames (the IML audio system).

Encoder: (B, L) samples -> strided Conv1d stages (each divides the length by its stride) ->
flatten -> Linear -> (B, latent). Decoder: the mirror image, Linear -> transposed convolutions
-> (B, L). Codes are deterministic (no sampling): stage 2 of IML fits its base distribution on
them. With the defaults, 800-sample frames (100 ms at 8 kHz) go 800 -> 200 -> 50 -> 10 steps
and 80-d codes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class FrameAutoencoder(nn.Module):
    """`encode(frames (B, L)) -> (B, latent)`, `decode(codes (B, latent)) -> (B, L)`;
    `forward` does both.

    `strides`: per stage, the factor the length shrinks by (their product must divide `frame`);
    each stage's kernel is twice its stride (stride 5 and odd strides get kernel = stride), so
    neighbouring receptive fields overlap by half.
    """

    def __init__(self, frame: int = 800, latent: int = 80,
                 channels: Sequence[int] = (32, 64, 128),
                 strides: Sequence[int] = (4, 4, 5)) -> None:
        super().__init__()
        if len(channels) != len(strides):
            raise ValueError("channels and strides need one entry per stage")
        if frame % math.prod(strides):
            raise ValueError(f"frame {frame} is not divisible by the strides' product "
                             f"{math.prod(strides)}")
        self.frame, self.latent = frame, latent
        self.steps = frame // math.prod(strides)  # length after the last stage
        self.channels = tuple(channels)
        enc: list[nn.Module] = []
        dec: list[nn.Module] = []
        c_in = 1
        for c, s in zip(channels, strides, strict=True):
            k, p = self._kernel(s)
            enc += [nn.Conv1d(c_in, c, k, stride=s, padding=p), nn.GELU()]
            c_in = c
        self.encoder_convs = nn.Sequential(*enc)
        self.to_code = nn.Linear(c_in * self.steps, latent)
        self.from_code = nn.Linear(latent, c_in * self.steps)
        outs = [*reversed(channels[:-1]), 1]
        for i, (c, s) in enumerate(zip(outs, reversed(strides), strict=True)):
            k, p = self._kernel(s)
            dec.append(nn.ConvTranspose1d(c_in, c, k, stride=s, padding=p))
            if i < len(outs) - 1:  # the last layer outputs samples: no activation
                dec.append(nn.GELU())
            c_in = c
        self.decoder_convs = nn.Sequential(*dec)

    @staticmethod
    def _kernel(stride: int) -> tuple[int, int]:
        """(kernel, padding) so that a stage maps length n to n / stride exactly."""
        if stride % 2:
            return stride, 0
        return 2 * stride, stride // 2

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B, latent)."""
        h = self.encoder_convs(frames.unsqueeze(1))
        return self.to_code(h.flatten(1))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, latent) -> (B, L)."""
        h = self.from_code(codes).view(len(codes), self.channels[-1], self.steps)
        return self.decoder_convs(h).squeeze(1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(frames))
