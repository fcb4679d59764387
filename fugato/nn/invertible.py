"""The invertible perceptron of IML (Subakan et al. 2018): a decoder whose exact likelihood is
computable, because every layer can be inverted on its image.

A layer maps h (B, n_in) -> y = f(h W^T + b) (B, n_out) with n_out >= n_in (the decoder widens
from the latent K towards the data, e.g. K -> 600 -> 784). Its inverse on the image is

    h = (f^{-1}(y) - b) W^{+T},   W^+ = (W^T W)^{-1} W^T  (the pseudo-inverse, W: (n_out, n_in)),

and the log-volume it adds to the density of the data is

    log vol = 0.5 * logdet(W^T W) + sum_i log f'(a_i),   a = h W^T + b,

so that for data x = g(z) with a base density p(z),

    log p(x) = log p(z) - sum over layers of log vol,   z = g^{-1}(x)

(the volume term sqrt(det(W^T W)) generalises |det W| to a tall W: it is the factor by which
the map stretches a K-dimensional volume inside its image). For a square W it is the ordinary
change of variables.

The same pseudo-inverse, differentiable, is IML's encoder (`InvertiblePerceptron.encode`, the
reference code's `inverse_forward`): the decoder trains on |g(g^+(x)) - x|^2 with tied weights,
and the base is fitted on g^+(x), the very codes the log-likelihood above scores.

Activations with linear tails (slope c = 0.01, value and first derivative continuous), so they
are bijections of the real line with derivative >= c everywhere:

    tanh_c(a)    = tanh(a)                          for |a| <= a0,
                   sign(a) (tanh(a0) + c (|a| - a0)) for |a| > a0,   a0 = artanh(sqrt(1 - c))
    (at a0, tanh'(a0) = 1 - tanh(a0)^2 = c; a0 = 2.9932 for c = 0.01),

    inverse:     artanh(y)                          for |y| <= tanh(a0),
                 sign(y) (a0 + (|y| - tanh(a0)) / c) otherwise;

    sigmoid_c(a) = sigmoid(a)                       for |a| <= a1,
                   sigmoid(+-a1) + c (a -+ a1)      beyond +-a1,
    a1 = 2 artanh(sqrt(1 - 4c)) (sigmoid'(a1) = s (1 - s) = c; a1 = 4.5849 for c = 0.01),

    inverse:     logit(y)                            for sigmoid(-a1) <= y <= sigmoid(a1),
                 +-a1 + (y - sigmoid(+-a1)) / c      beyond.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import torch
from torch import nn

SLOPE = 0.01


class TailedTanh(nn.Module):
    """tanh with linear tails of slope `c` (see the module docstring); elementwise."""

    def __init__(self, c: float = SLOPE) -> None:
        super().__init__()
        self.c = c
        self.a0 = math.atanh(math.sqrt(1 - c))
        self.y0 = math.tanh(self.a0)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        tail = torch.sign(a) * (self.y0 + self.c * (a.abs() - self.a0))
        return torch.where(a.abs() <= self.a0, torch.tanh(a), tail)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        inner = torch.atanh(y.clamp(-self.y0, self.y0))
        tail = torch.sign(y) * (self.a0 + (y.abs() - self.y0) / self.c)
        return torch.where(y.abs() <= self.y0, inner, tail)

    def log_derivative(self, a: torch.Tensor) -> torch.Tensor:
        """log f'(a), elementwise."""
        inner = torch.log1p(-torch.tanh(a.clamp(-self.a0, self.a0)) ** 2)
        return torch.where(a.abs() <= self.a0, inner, math.log(self.c))


class TailedSigmoid(nn.Module):
    """sigmoid with linear tails of slope `c` (see the module docstring); elementwise."""

    def __init__(self, c: float = SLOPE) -> None:
        super().__init__()
        self.c = c
        self.a1 = 2 * math.atanh(math.sqrt(1 - 4 * c))
        self.lo, self.hi = 1 / (1 + math.exp(self.a1)), 1 / (1 + math.exp(-self.a1))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        low = self.lo + self.c * (a + self.a1)
        high = self.hi + self.c * (a - self.a1)
        return torch.where(a < -self.a1, low, torch.where(a > self.a1, high, torch.sigmoid(a)))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        inner = torch.logit(y.clamp(self.lo, self.hi))
        low = -self.a1 + (y - self.lo) / self.c
        high = self.a1 + (y - self.hi) / self.c
        return torch.where(y < self.lo, low, torch.where(y > self.hi, high, inner))

    def log_derivative(self, a: torch.Tensor) -> torch.Tensor:
        """log f'(a), elementwise."""
        inner = nn.functional.logsigmoid(a) + nn.functional.logsigmoid(-a)
        return torch.where(a.abs() <= self.a1, inner, math.log(self.c))


ACTIVATIONS = {"tanh": TailedTanh, "sigmoid": TailedSigmoid, "linear": None}


class InvertibleLayer(nn.Module):
    """y = f(h W^T + b) with W (n_out, n_in), n_out >= n_in, f a tailed activation or none."""

    def __init__(self, n_in: int, n_out: int, activation: str = "tanh",
                 c: float = SLOPE) -> None:
        super().__init__()
        if n_out < n_in:
            raise ValueError(f"an invertible layer cannot narrow ({n_in} -> {n_out})")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (known: {sorted(ACTIVATIONS)})")
        self.linear = nn.Linear(n_in, n_out)
        act = ACTIVATIONS[activation]
        self.act = act(c) if act else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a = self.linear(h)
        return self.act(a) if self.act else a

    def _solve(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h (B, n_in), 0.5 logdet(W^T W) (scalar)): h = (f^{-1}(y) - b) W^{+T} for y
        (B, n_out), differentiable in y and in the layer's parameters.

        The pseudo-inverse solves the normal equations W^T W h = W^T (a - b) by a Cholesky
        factor of the Gram matrix (as the reference code does, with an explicit inverse there),
        a third of a least-squares QR's time with its gradient; a Gram matrix that is not
        numerically positive definite falls back to the least-squares solve."""
        a = self.act.inverse(y) if self.act else y
        w = self.linear.weight
        rhs = (a - self.linear.bias).T  # (n_out, B)
        gram = w.T @ w
        chol, info = torch.linalg.cholesky_ex(gram)
        if int(info) == 0:
            h = torch.cholesky_solve(w.T @ rhs, chol).T
            half_logdet = chol.diagonal().log().sum()
        else:
            h = torch.linalg.lstsq(w, rhs).solution.T
            half_logdet = 0.5 * torch.linalg.slogdet(gram).logabsdet
        return h, half_logdet

    def project(self, y: torch.Tensor) -> torch.Tensor:
        """h (B, n_in): the pseudo-inverse of y (B, n_out) (its least-squares preimage after
        f^{-1}), differentiable: the layer's half of a tied-weight encoder."""
        return self._solve(y)[0]

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h (B, n_in), log-volume (B,)) for y (B, n_out) in (or projected onto) the image;
        h is `project(y)`."""
        h, log_volume = self._solve(y)
        if self.act:
            # f' at the pre-activation of the reconstruction (equal to a on the image).
            log_volume = log_volume + self.act.log_derivative(self.linear(h)).sum(-1)
        return h, log_volume.expand(len(h)) if log_volume.ndim == 0 else log_volume


class InvertiblePerceptron(nn.Module):
    """A stack of invertible layers `sizes[0] -> sizes[1] -> ... -> sizes[-1]` (widening).

    `activations` names each layer's tailed activation ("tanh", "sigmoid" or "linear")."""

    def __init__(self, sizes: list[int], activations: list[str], c: float = SLOPE) -> None:
        super().__init__()
        if len(activations) != len(sizes) - 1:
            raise ValueError("one activation per layer")
        self.layers = nn.ModuleList(InvertibleLayer(a, b, f, c)
                                    for a, b, f in zip(sizes[:-1], sizes[1:], activations,
                                                       strict=True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            z = layer(z)
        return z

    @property
    def square(self) -> bool:
        """True when every layer keeps its width: then the layerwise volume terms are exact."""
        return all(layer.linear.in_features == layer.linear.out_features
                   for layer in cast("Sequence[InvertibleLayer]", self.layers))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z (B, K): the pseudo-inverse codes of data x (B, D), layer by layer from the top,
        differentiable in x and in the weights. IML trains the decoder through it as its
        encoder (tied weights, the reference code's `inverse_forward`) and fits the base on
        these codes, the z that `inverse` and `log_likelihood` score."""
        for layer in reversed(cast("Sequence[InvertibleLayer]", self.layers)):
            x = layer.project(x)
        return x

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z (B, K) = `encode(x)`, the paper's layerwise log-volume sum (B,)) of data x
        (B, D)."""
        total = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for layer in reversed(cast("Sequence[InvertibleLayer]", self.layers)):
            x, log_volume = layer.inverse(x)
            total = total + log_volume
        return x, total

    def log_volume(self, z: torch.Tensor) -> torch.Tensor:
        """(B,) exact 0.5 logdet(J^T J) of the whole map at latents z (B, K), J = dx/dz (D, K),
        by forward-mode autodiff (K passes, batched with vmap)."""
        from torch.func import jacfwd, vmap

        jac = vmap(jacfwd(lambda v: self(v[None])[0]))(z)  # (B, D, K)
        return 0.5 * torch.linalg.slogdet(jac.transpose(1, 2) @ jac).logabsdet

    def log_likelihood_terms(self, x: torch.Tensor,
                             base_log_prob: Callable[[torch.Tensor], torch.Tensor],
                             exact: bool | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z (B, K), base log-density (B,), log-volume (B,)) of data x (B, D), nats: the
        parts of `log_likelihood` = base - log-volume (see there for `exact`)."""
        z, log_volume = self.inverse(x)
        if exact or (exact is None and not self.square):
            log_volume = self.log_volume(z)
        return z, base_log_prob(z), log_volume

    def log_likelihood(self, x: torch.Tensor,
                       base_log_prob: Callable[[torch.Tensor], torch.Tensor],
                       exact: bool | None = None) -> torch.Tensor:
        """(B,) log p(x) in nats: base_log_prob(z) - log-volume, z the inverted point.

        `base_log_prob` maps (B, K) latents to (B,) log-densities (e.g. a fitted GMM's). With
        square layers the layerwise terms are the exact change of variables. With widening
        layers they are not: det((AB)^T AB) != det(A^T A) det(B^T B) for tall A, and an
        elementwise activation after a tall W does not contribute prod f'. Then (or with
        `exact=True`) the density on the K-dimensional image uses the exact volume
        `log_volume(z)`; `exact=False` forces the paper's layerwise sum."""
        _, base, log_volume = self.log_likelihood_terms(x, base_log_prob, exact)
        return base - log_volume
