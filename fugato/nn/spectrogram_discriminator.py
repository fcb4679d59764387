"""A convolutional discriminator on flat stacks of spectrograms (FactorGAN's separation)."""

from __future__ import annotations

import math

import torch
from torch import nn


class SpectrogramDiscriminator(nn.Module):
    """The reference's convolutional discriminator on flat spectrogram stacks:
    (B, C x bins x frames) -> logits (B,). A 4x4 stride-2 convolution to `filters` channels,
    then log2(min(bins, frames)) - 3 more, each doubling the channels, leaky ReLU after each,
    a bias-free linear output; spectral normalisation on every layer."""

    def __init__(self, in_features: int, bins: int, frames: int, filters: int = 32) -> None:
        from torch.nn.utils.parametrizations import spectral_norm

        super().__init__()
        if in_features % (bins * frames):
            raise ValueError(f"{in_features} features are not whole {bins} x {frames} maps")
        self.shape = (in_features // (bins * frames), bins, frames)
        extra = int(math.log2(min(bins, frames))) - 3
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(self.shape[0], filters, 4, 2, 1)),
                                   nn.LeakyReLU()]
        for i in range(extra):
            layers += [spectral_norm(nn.Conv2d(filters * 2**i, filters * 2 ** (i + 1), 4, 2, 1)),
                       nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        size = (bins // 2 ** (extra + 1)) * (frames // 2 ** (extra + 1)) * filters * 2**extra
        self.fc = spectral_norm(nn.Linear(size, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x.reshape(len(x), *self.shape)).flatten(1)).reshape(len(x))
