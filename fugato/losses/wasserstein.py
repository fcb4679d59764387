"""Wasserstein critic objectives (Arjovsky et al. 2017) and FusionGAN's extra critic terms.

Scores are critic outputs (N,) (higher = more like the critic's real data); every function
returns a scalar loss to *minimise*. The critics must be kept Lipschitz: by their architecture
(fugato's TextCNN critics use spectral normalisation) or by `gradient_penalty` (WGAN-GP).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-(E[D(real)] - E[D(fake)]): minimising it makes the critic's gap estimate the Wasserstein
    distance between the two sets."""
    return fake.mean() - real.mean()


def balance_penalty(scores_a: torch.Tensor, scores_b: torch.Tensor) -> torch.Tensor:
    """|E[D(a)] - E[D(b)]|: a critic that must score two real sets alike (FusionGAN's D_F, which
    treats genres A and B as equally real so that F is pulled toward neither)."""
    return (scores_a.mean() - scores_b.mean()).abs()


def ordering_penalty(high: torch.Tensor, middle: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """Hinge penalties for E[D(high)] >= E[D(middle)] >= E[D(low)] (FusionGAN's D_A: its own genre
    above the fusion, the fusion above the other genre)."""
    return F.relu(middle.mean() - high.mean()) + F.relu(low.mean() - middle.mean())


def gradient_penalty(critic: torch.nn.Module, real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's E[(|grad_x D(x)| - 1)^2] at random points x between real and fake (B, D)."""
    mix = torch.rand(len(real), 1, device=real.device)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return ((grad.norm(dim=-1) - 1) ** 2).mean()
