"""The image VAEs of AR-VAE's appendix B (Pati & Lerch 2020, Table 2).

"dsprites" (64 x 64): four Conv(k=4, s=2, p=1) + ReLU of 32 channels (64 -> 4), linear
512 -> 256 -> 256 -> (mean, log-variance) of z; the decoder mirrors it with four transposed
convolutions. "mnist" (28 x 28): three Conv(k=4, s=1, p=0) + SELU + Dropout(0.5) of 64, 64 and
8 channels (28 -> 19), linear 2888 -> 256 -> z, and the mirror image. The decoders end in
logits of a Bernoulli per pixel (no output activation: the loss takes logits). Table 2 gives
the last layer as mean and log standard deviation; here it is the log-variance, the same
parameterisation up to a factor of 2 (the music model's convention, one `kl_divergence`).
"""

from __future__ import annotations

import torch
from torch import nn

KINDS = ("dsprites", "mnist")
SIDE = {"dsprites": 64, "mnist": 28}
"""Image side in pixels of each kind."""


def _dsprites_stacks() -> tuple[nn.Module, nn.Module, nn.Module, nn.Module, tuple[int, ...]]:
    conv = [m for _ in range(4) for m in (nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU())]
    conv[0] = nn.Conv2d(1, 32, 4, 2, 1)
    deconv: list[nn.Module] = [m for _ in range(3) for m in (nn.ConvTranspose2d(32, 32, 4, 2, 1),
                                                             nn.ReLU())]
    deconv.append(nn.ConvTranspose2d(32, 1, 4, 2, 1))
    encoder_linear = nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
    decoder_linear = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU())
    return nn.Sequential(*conv), encoder_linear, decoder_linear, nn.Sequential(*deconv), (32, 4, 4)


def _mnist_stacks() -> tuple[nn.Module, nn.Module, nn.Module, nn.Module, tuple[int, ...]]:
    def block(conv: nn.Module) -> list[nn.Module]:
        return [conv, nn.SELU(), nn.Dropout(0.5)]

    conv = [*block(nn.Conv2d(1, 64, 4)), *block(nn.Conv2d(64, 64, 4)), *block(nn.Conv2d(64, 8, 4))]
    deconv = [*block(nn.ConvTranspose2d(8, 64, 4)), *block(nn.ConvTranspose2d(64, 64, 4)),
              nn.ConvTranspose2d(64, 1, 4)]
    encoder_linear = nn.Sequential(nn.Linear(2888, 256), nn.SELU())
    decoder_linear = nn.Sequential(nn.Linear(256, 2888), nn.SELU())
    return nn.Sequential(*conv), encoder_linear, decoder_linear, nn.Sequential(*deconv), (8, 19, 19)


class ImageVAE(nn.Module):
    """`forward(images (B, H, W) in [0, 1]) -> (logits (B, H, W), mu, logvar, z (B, z_dim))`;
    `encode` gives (mu, logvar), `decode(z)` the logits."""

    def __init__(self, kind: str = "dsprites", z_dim: int = 10) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind, self.z_dim, self.side = kind, z_dim, SIDE[kind]
        stacks = _dsprites_stacks() if kind == "dsprites" else _mnist_stacks()
        self.conv, self.enc_linear, self.dec_linear, self.deconv, self.grid = stacks
        self.to_mu, self.to_logvar = nn.Linear(256, z_dim), nn.Linear(256, z_dim)
        self.from_z = nn.Sequential(nn.Linear(z_dim, 256),
                                    nn.SELU() if kind == "mnist" else nn.ReLU())

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, H, W) -> mean and log-variance (B, z_dim)."""
        hidden = self.enc_linear(self.conv(images[:, None].float()).flatten(1))
        return self.to_mu(hidden), self.to_logvar(hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z_dim) -> pixel logits (B, H, W)."""
        grid = self.dec_linear(self.from_z(z)).view(-1, *self.grid)
        return self.deconv(grid)[:, 0]

    def forward(self, images: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(images)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar, z
