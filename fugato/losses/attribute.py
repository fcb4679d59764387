"""VAE losses: the Gaussian KL term and AR-VAE's attribute regularisation (Pati & Lerch 2020)."""

from __future__ import annotations

import torch


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in nats, summed over the (B, z) latent dims and
    averaged over the batch: a scalar."""
    return -0.5 * torch.sum(1 + logvar - mu.square() - logvar.exp(), dim=1).mean()


def attribute_regularization(z: torch.Tensor, attributes: torch.Tensor, delta: float = 10.0,
                             reduction: str = "sum") -> tuple[torch.Tensor, torch.Tensor]:
    """AR-VAE's regulariser: attribute l is pushed onto latent dimension l, in order.

    For each attribute l, over all B x B ordered pairs (i, j) of the batch (the diagonal
    included, where both terms are 0, as in the reference's l1_loss over the full matrix):
        L_l = mean |tanh(delta * (z_il - z_jl)) - sign(a_il - a_jl)|.
    `z`: (B, L) the regularised latent dims (dim l for attribute l); `attributes`: (B, L).
    `reduction`: "sum" over attributes (the paper) or "mean" (the same gradient direction,
    1/L the size). Returns (the reduced loss, per-attribute losses (L,)).
    """
    if z.shape != attributes.shape:
        raise ValueError(f"z {tuple(z.shape)} and attributes {tuple(attributes.shape)} differ")
    dz = z.unsqueeze(1) - z.unsqueeze(0)  # (B, B, L): z_i - z_j
    da = attributes.unsqueeze(1) - attributes.unsqueeze(0)
    per_attribute = (torch.tanh(delta * dz) - torch.sign(da).to(z.dtype)).abs().mean(dim=(0, 1))
    if reduction == "sum":
        return per_attribute.sum(), per_attribute
    if reduction == "mean":
        return per_attribute.mean(), per_attribute
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
