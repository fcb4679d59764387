"""A 2-D U-Net (Ronneberger et al. 2015) for spectrogram masks.

Follows the separator of Stoller et al.'s FactorGAN (f90/FactorGAN `models/generators/Unet.py`):
an encoder of conv-BatchNorm-ReLU blocks with 2x2 max pooling, a bottleneck to which a noise
vector is appended as extra feature maps (a linear map of the noise), and a decoder that
upsamples by 2 (bilinear), concatenates the encoder's skip features and convolves. Sizes are
free: `channels` at the top level, doubled per level up to `max_channels`, `depth` poolings,
`convs` convolutions per block (the reference: 32 channels, depth 4, 2 convs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(in_channels: int, out_channels: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1),
                   nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """(B, in_channels, H, W) [+ noise (B, noise)] -> logits (B, out_channels, H, W).

    H and W must be divisible by 2**depth. With `noise` > 0 the forward pass takes a second
    argument, a (B, noise) vector, mapped to `noise_maps` feature maps at the bottleneck."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, channels: int = 32,
                 depth: int = 4, convs: int = 2, max_channels: int = 256, noise: int = 0,
                 noise_maps: int = 2, height: int = 256, width: int = 128) -> None:
        super().__init__()
        if height % 2**depth or width % 2**depth:
            raise ValueError(f"height {height} and width {width} must be divisible by "
                             f"2**depth = {2**depth}")
        widths = [min(channels * 2**i, max_channels) for i in range(depth + 1)]
        self.depth = depth
        self.encoder = nn.ModuleList([_block(in_channels, widths[0], convs)] + [
            _block(widths[i - 1], widths[i], convs) for i in range(1, depth + 1)])
        self.noise = noise
        self.noise_maps = noise_maps if noise else 0
        self.bottom = (height // 2**depth, width // 2**depth)
        if noise:
            self.noise_fc = nn.Linear(noise, noise_maps * self.bottom[0] * self.bottom[1])
        # decoder level i: upsampled features of level i + 1 (plus the noise maps at the bottom)
        # concatenated with level i's skip features
        self.decoder = nn.ModuleList([
            _block(widths[i + 1] + widths[i] + (self.noise_maps if i == depth - 1 else 0),
                   widths[i], convs) for i in range(depth)])
        self.out = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        if self.noise:
            if noise is None:
                raise ValueError("this U-Net takes a noise vector (B, noise)")
            maps = self.noise_fc(noise).reshape(len(x), self.noise_maps, *self.bottom)
            x = torch.cat([x, maps], 1)
        for i in reversed(range(self.depth)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.decoder[i](torch.cat([x, skips[i]], 1))
        return self.out(x)
