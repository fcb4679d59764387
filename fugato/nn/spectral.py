"""Spectrally normalised linear layers (Miyato et al. 2018) for discriminators.

`SpectralLinear` computes what `torch.nn.utils.parametrizations.spectral_norm(nn.Linear(...))`
computes, x (W / sigma(W))^T + b with sigma from one power iteration per training forward, but
divides the output (B, out) by sigma instead of the weight (out, in). The result and its
gradients are the same; the elementwise work on the weight (the division forward, two more
passes over the weight backward) is gone: a large share of the cost of a wide, shallow
discriminator on a small batch (FactorGAN's 1568 -> 128 -> 128 -> 1 nets, batch 64: 1.4x faster
per update, `benchmarks/spectral_norm.py`). A discriminator of them:
`fugato.nn.mlp.MLP(sizes, "leaky_relu", linear=SpectralLinear)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpectralLinear(nn.Module):
    """(B, in_features) -> (B, out_features): x W^T / sigma(W) + b.

    The buffers `u` (out_features,) and `v` (in_features,) hold the power iteration's singular
    vector estimates; like torch's parametrization they start from random unit vectors and 15
    iterations, take one iteration per forward in training mode and none in eval mode."""

    u: torch.Tensor
    v: torch.Tensor

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 eps: float = 1e-12) -> None:
        super().__init__()
        linear = nn.Linear(in_features, out_features, bias=bias)  # its initialisation
        self.weight = linear.weight
        self.bias = linear.bias
        self.eps = eps
        with torch.no_grad():
            u = F.normalize(self.weight.new_empty(out_features).normal_(), dim=0, eps=eps)
            v = F.normalize(self.weight.new_empty(in_features).normal_(), dim=0, eps=eps)
        self.register_buffer("u", u)
        self.register_buffer("v", v)
        self.power_iteration(15)

    @torch.no_grad()
    def power_iteration(self, steps: int = 1) -> None:
        """Move `u` and `v` towards the weight's leading singular vectors, in place (so the
        buffers DDP broadcasts stay the ones updated)."""
        for _ in range(steps):
            F.normalize(torch.mv(self.weight, self.v), dim=0, eps=self.eps, out=self.u)
            F.normalize(torch.mv(self.weight.t(), self.u), dim=0, eps=self.eps, out=self.v)

    def sigma(self) -> torch.Tensor:
        """The spectral norm estimate u^T W v (a scalar, differentiable in W)."""
        # clones: a later forward's in-place update must not touch what backward still needs
        return torch.vdot(self.u.clone(), torch.mv(self.weight, self.v.clone()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.power_iteration()
        out = F.linear(x, self.weight) / self.sigma()
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
                f"bias={self.bias is not None}")

