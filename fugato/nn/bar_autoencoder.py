"""The MeasureVAE nets as an autoencoder of one-bar melodies: IML's first stage on melodies."""

from __future__ import annotations

from typing import Any

import torch

from fugato.nn.measure_vae import MeasureVAE


class BarAutoencoder(MeasureVAE):
    """The MeasureVAE nets as an autoencoder: with `deterministic`, training decodes the encoder
    mean itself (no sampled code), so the codes stage 2 sees are the ones decoded in training.
    `forward` returns what MeasureVAE's does (logits, mu, logvar, z)."""

    def __init__(self, *args: Any, deterministic: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deterministic = deterministic

    def forward(self, bars: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(bars)
        z = self.reparameterize(mu, logvar) if self.training and not self.deterministic else mu
        return self.decode_teacher(z, bars), mu, logvar, z
