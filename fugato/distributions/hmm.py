"""A Gaussian hidden Markov model fitted by Baum-Welch EM, batched over sequences, in torch.

Why here and not in nn/: nn/ holds layers trained by gradient through the trainer; this is a
probability model fitted by EM on frozen latent codes after training, the base distribution
of the IML system (images, melodies, audio). It shares one interface with
`fugato.distributions.gmm.GaussianMixture`, so the two-stage model switches between them by
config:

    fit(x, n_iter, ...) -> list of mean log-likelihoods per frame, one per EM iteration
    log_likelihood(x)   -> (B,) log p of each sequence (nats)
    sample(n, length, generator) -> (n, length, D) draws (and here their states)
    saved_state() -> dict of JSON-safe lists; from_saved_state(d) rebuilds the model

`x` takes the forms of `fugato.distributions.frames`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from fugato.distributions.frames import (
    Sequences,
    check_covariance_type,
    frame_mask,
    pad_sequences,
)

# Elements of the (S, chunk, D) temporaries of the full-covariance emissions and M-step: frames
# go through in chunks of at most this many S x D blocks (64 MiB in float64), so 300 states x
# 80 dims x 20000 frames never builds a 3.8 GB tensor. A loop over chunks, not frames. Not
# `fugato.nn.batched`: that one gathers a net's outputs on the CPU, while these temporaries
# stay on the model's device and the M-step sums them instead of concatenating.
_CHUNK_ELEMENTS = 1 << 23


def _frame_chunks(n: int, per_frame: int) -> list[slice]:
    """Slices cutting `n` frames into chunks whose temporaries hold `per_frame` elements each
    frame, at most `_CHUNK_ELEMENTS` a chunk."""
    step = max(1, _CHUNK_ELEMENTS // max(per_frame, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _floor_eigenvalues(cov: torch.Tensor, floor: float) -> torch.Tensor:
    """(..., D, D) symmetric matrices with every eigenvalue below `floor` raised to it.

    The maximiser of the Gaussian log-likelihood given a scatter matrix under the constraint
    "all eigenvalues >= floor" (the full-covariance analogue of clamping variances, so EM stays
    monotone); a ridge (+ floor * I) would move every eigenvalue and is not. Matrices already
    above the floor come back unchanged (bit for bit), without an eigendecomposition round
    trip."""
    cov = 0.5 * (cov + cov.mT)
    values, vectors = torch.linalg.eigh(cov)
    low = (values < floor).any(-1)
    if not low.any():
        return cov
    fixed = (vectors * values.clamp_min(floor)[..., None, :]) @ vectors.mT
    return torch.where(low[..., None, None], 0.5 * (fixed + fixed.mT), cov)


class GaussianHMM(nn.Module):
    """A hidden Markov model with Gaussian emissions, batched over sequences.

    `covariance_type="diag"` (default): each state's covariance is diagonal, buffer `variances`
    (S, D). `covariance_type="full"`: unrestricted, buffer `covars` (S, D, D); emission densities
    go through batched Cholesky factors and cost about S x D^2 per frame instead of S x D.

    Parameters (buffers): `startprob` (S,), `transmat` (S, S) with rows summing to 1, `means`
    (S, D), and `variances` or `covars`; `saved_state()` gives them as lists and
    `from_saved_state` rebuilds a model of the right kind from them. `min_var` floors the
    variances (diag) or the eigenvalues of each covariance (full), in the data's units squared.
    Computation runs in the buffers' dtype and device (float64 by default; float32 is about
    twice as fast).

    Forward-backward is scaled: every step is one batched matrix product over all sequences,
    with the state vector renormalised per sequence and the emission term added in log space
    (log(alpha A) + log b), so no probability underflows however peaked the emissions are.
    """

    # Buffers (registered in __init__; `covars` or `variances` by the covariance kind).
    startprob: torch.Tensor
    transmat: torch.Tensor
    means: torch.Tensor
    covars: torch.Tensor
    variances: torch.Tensor

    def __init__(self, n_states: int, dim: int, min_var: float = 1e-3,
                 dtype: torch.dtype = torch.float64, covariance_type: str = "diag") -> None:
        super().__init__()
        check_covariance_type(covariance_type)
        self.n_states, self.dim, self.min_var = n_states, dim, min_var
        self.covariance_type = covariance_type
        self.full = covariance_type == "full"
        s = n_states
        self.register_buffer("startprob", torch.full((s,), 1.0 / s, dtype=dtype))
        self.register_buffer("transmat", torch.full((s, s), 1.0 / s, dtype=dtype))
        self.register_buffer("means", torch.zeros(s, dim, dtype=dtype))
        if self.full:
            self.register_buffer("covars", torch.eye(dim, dtype=dtype).repeat(s, 1, 1))
        else:
            self.register_buffer("variances", torch.ones(s, dim, dtype=dtype))

    def saved_state(self) -> dict[str, Any]:
        """The fitted model as JSON-safe lists: `covariance_type`, `min_var`, `startprob` (S,),
        `transmat` (S, S), `means` (S, D) and `covariances` ((S, D) variances for "diag",
        (S, D, D) matrices for "full"); `from_saved_state` rebuilds it."""
        return {"covariance_type": self.covariance_type, "min_var": self.min_var,
                "startprob": self.startprob.tolist(), "transmat": self.transmat.tolist(),
                "means": self.means.tolist(),
                "covariances": (self.covars if self.full else self.variances).tolist()}

    @classmethod
    def from_saved_state(cls, saved: dict[str, Any]) -> GaussianHMM:
        """The float64 model `saved_state()` described."""
        means = torch.tensor(saved["means"], dtype=torch.float64)
        hmm = cls(means.shape[0], means.shape[1], min_var=saved["min_var"],
                  covariance_type=saved["covariance_type"])
        covariances = "covars" if hmm.full else "variances"
        hmm.load_state_dict({
            "startprob": torch.tensor(saved["startprob"], dtype=torch.float64),
            "transmat": torch.tensor(saved["transmat"], dtype=torch.float64), "means": means,
            covariances: torch.tensor(saved["covariances"], dtype=torch.float64)})
        return hmm

    def extra_repr(self) -> str:
        return (f"n_states={self.n_states}, dim={self.dim}, "
                f"covariance_type={self.covariance_type!r}, min_var={self.min_var}")

    def covariance_matrices(self) -> torch.Tensor:
        """(S, D, D) covariance of each state's emission, whichever the kind."""
        return self.covars if self.full else torch.diag_embed(self.variances)

    # -- densities -----------------------------------------------------------------------------
    def _cholesky(self) -> torch.Tensor:
        """(S, D, D) lower Cholesky factors L_s of the covariances (L_s L_s^T = covars_s)."""
        return torch.linalg.cholesky(self.covars)

    def _full_emission_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(..., S) log N(x; mean_s, covars_s) of frames `x` (..., D).

        With P_s = L_s^-1 (one batched triangular solve against the identity), the Mahalanobis
        term is |P_s x - P_s mean_s|^2: all states come out of one broadcast matrix product
        (n, D) @ (S, D, D)^T -> (S, n, D) per chunk of frames, with no difference tensor to
        form first and no solve per frame."""
        chol = self._cholesky()
        eye = torch.eye(self.dim, dtype=chol.dtype, device=chol.device).expand_as(chol)
        prec = torch.linalg.solve_triangular(chol, eye, upper=False)  # (S, D, D), lower
        prec_t = prec.mT
        shift = (self.means[:, None, :] @ prec_t)  # (S, 1, D): P_s mean_s as a row
        # log N = -D/2 log 2 pi - log det L_s - |y|^2 / 2
        const = (-0.5 * self.dim * math.log(2 * math.pi)
                 - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1))  # (S,)
        flat = x.reshape(-1, self.dim)
        out = torch.empty(len(flat), self.n_states, dtype=chol.dtype, device=chol.device)
        for part in _frame_chunks(len(flat), self.n_states * self.dim):
            y = flat[part] @ prec_t - shift  # (S, n, D)
            out[part] = (const[:, None] - 0.5 * y.square().sum(-1)).T
        return out.reshape(*x.shape[:-1], self.n_states)

    def emission_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """(..., S) log N(x; mean_s, cov_s) of frames `x` (..., D), nats.

        Diagonal: two matrix products (expanding the square) instead of an (..., S, D)
        difference tensor. Full: `_full_emission_log_prob`."""
        if self.full:
            return self._full_emission_log_prob(x)
        inv = 1.0 / self.variances
        const = -0.5 * (self.dim * math.log(2 * math.pi) + torch.log(self.variances).sum(-1)
                        + (self.means**2 * inv).sum(-1))
        return const - 0.5 * (x**2) @ inv.T + x @ (self.means * inv).T

    def _forward(self, logb: torch.Tensor, mask: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scaled forward pass over (T, B, S) emission log-probs.

        Returns alpha (T, B, S) (filtered state probabilities, each row sums to 1), pred
        (T, B, S) (alpha_{t-1} A, the one-step prediction; pred[0] = startprob) and the (B,)
        log-likelihoods."""
        steps, batch, _ = logb.shape
        alpha = torch.empty_like(logb)
        pred = torch.empty_like(logb)
        loglik = torch.zeros(batch, dtype=logb.dtype, device=logb.device)
        a = self.startprob.expand(batch, -1)
        for t in range(steps):
            p = a if t == 0 else a @ self.transmat
            s = torch.log(p) + logb[t]
            m = s.amax(-1, keepdim=True)
            e = torch.exp(s - m)
            c = e.sum(-1, keepdim=True)
            new = e / c
            real = mask[t][:, None]
            # Padded frames keep the last state vector and add nothing to the likelihood.
            a = torch.where(real, new, a) if t else new
            loglik += torch.where(mask[t], (m + torch.log(c)).squeeze(-1), 0.0)
            alpha[t], pred[t] = a, p
        return alpha, pred, loglik

    def _backward(self, logb: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        """Scaled backward pass: beta (T, B, S) up to a per-(t, b) factor, and
        w (T, B, S) proportional to b_t * beta_t (used for the transition counts)."""
        steps = logb.shape[0]
        beta = torch.ones_like(logb)
        w = torch.zeros_like(logb)
        for t in range(steps - 1, -1, -1):
            lw = logb[t] + torch.log(beta[t])
            wt = torch.exp(lw - lw.amax(-1, keepdim=True))
            w[t] = wt
            if t:
                bt = wt @ self.transmat.T
                bt = bt / bt.sum(-1, keepdim=True)
                # beta is 1 at the last real frame and beyond.
                beta[t - 1] = torch.where(mask[t][:, None], bt, 1.0)
        return beta, w

    def log_likelihood(self, x: Sequences, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) log p(sequence) in nats (the forward algorithm)."""
        x, lengths = pad_sequences(x, lengths, self.means.dtype, self.means.device)
        logb = self.emission_log_prob(x.transpose(0, 1))
        return self._forward(logb, frame_mask(lengths, x.shape[1]))[2]

    # -- EM ------------------------------------------------------------------------------------
    def init_from_data(self, x: torch.Tensor, mask: torch.Tensor,
                       generator: torch.Generator | None = None, kmeans_iter: int = 5) -> None:
        """Means from a few k-means (Lloyd) steps over the real frames, seeded with distinct
        random frames; variances the global variance (full: every state the global covariance,
        eigenvalues floored); sticky uniform transitions."""
        frames = x.transpose(0, 1)[mask]
        n = len(frames)
        pick = torch.randperm(n, generator=generator)[: self.n_states].to(frames.device)
        means = frames[pick].clone()
        if len(means) < self.n_states:  # fewer frames than states: repeat with jitter
            reps = means[torch.arange(self.n_states, device=means.device) % len(means)]
            means = reps + 1e-3 * frames.std(0) * torch.randn(
                reps.shape, generator=generator, dtype=reps.dtype).to(reps.device)
        for _ in range(kmeans_iter):
            dist = (frames**2).sum(-1, keepdim=True) - 2 * frames @ means.T + (means**2).sum(-1)
            assign = dist.argmin(-1)
            counts = torch.bincount(assign, minlength=self.n_states).to(frames.dtype)
            sums = torch.zeros_like(means).index_add_(0, assign, frames)
            means = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], means)
        self.means.copy_(means)
        if self.full:
            centred = frames - frames.mean(0)
            cov = _floor_eigenvalues(centred.T @ centred / n, self.min_var)
            self.covars.copy_(cov.expand_as(self.covars))
        else:
            self.variances.copy_(frames.var(0, unbiased=False).clamp_min(self.min_var)
                                 .expand_as(self.variances))
        s = self.n_states
        self.startprob.fill_(1.0 / s)
        stay = 0.5 if s > 1 else 1.0
        self.transmat.fill_((1 - stay) / max(s - 1, 1))
        self.transmat.fill_diagonal_(stay)

    def _scatter(self, g: torch.Tensor, frames: torch.Tensor, means: torch.Tensor
                 ) -> torch.Tensor:
        """(S, D, D) posterior-weighted scatter sum_n g_ns (x_n - m_s)(x_n - m_s)^T of frames
        (N, D) with weights g (N, S) about means (S, D): centred before the product (not
        E[xx^T] - m m^T) so float32 loses nothing to cancellation; one batched matrix product
        per chunk of frames."""
        out = torch.zeros(self.n_states, self.dim, self.dim, dtype=frames.dtype,
                          device=frames.device)
        for part in _frame_chunks(len(frames), self.n_states * self.dim):
            diff = frames[part] - means[:, None, :]  # (S, n, D)
            out += (diff * g[part].T[..., None]).mT @ diff
        return out

    @torch.no_grad()
    def em_step(self, x: torch.Tensor, lengths: torch.Tensor) -> float:
        """One Baum-Welch iteration on padded (B, T, D) `x`; returns the total log-likelihood
        under the parameters before the update."""
        steps = x.shape[1]
        mask = frame_mask(lengths, steps)
        xt = x.transpose(0, 1)  # (T, B, D): time-major so each step is a contiguous slice
        logb = self.emission_log_prob(xt)
        alpha, pred, loglik = self._forward(logb, mask)
        beta, w = self._backward(logb, mask)

        gamma = alpha * beta
        gamma = gamma / gamma.sum(-1, keepdim=True) * mask[..., None]
        # xi_t(i, j) = alpha_t(i) A_ij w_{t+1}(j) / z_t with z_t = sum_j pred_{t+1}(j) w_{t+1}(j);
        # summed over t and b as one (S, T*B) @ (T*B, S) product, times A at the end.
        z = (pred[1:] * w[1:]).sum(-1, keepdim=True)
        left = (alpha[:-1] / z * mask[1:, :, None]).reshape(-1, self.n_states)
        xi = (left.T @ w[1:].reshape(-1, self.n_states)) * self.transmat

        counts = gamma.sum((0, 1))  # (S,)
        g = gamma.reshape(-1, self.n_states)
        frames = xt.reshape(-1, self.dim)
        used = counts > 1e-10  # a state no frame visits keeps its emission parameters
        denom = counts.clamp_min(1e-10)[:, None]
        means = (g.T @ frames) / denom
        if self.full:
            covars = _floor_eigenvalues(self._scatter(g, frames, means) / denom[..., None],
                                        self.min_var)
            self.covars.copy_(torch.where(used[:, None, None], covars, self.covars))
        else:
            variances = ((g.T @ frames**2) / denom - means**2).clamp_min(self.min_var)
            self.variances.copy_(torch.where(used[:, None], variances, self.variances))
        self.means.copy_(torch.where(used[:, None], means, self.means))
        start = gamma[0].sum(0)
        self.startprob.copy_(start / start.sum())
        rows = xi.sum(-1, keepdim=True)
        self.transmat.copy_(torch.where(rows > 0, xi / rows.clamp_min(1e-300), self.transmat))
        return float(loglik.sum())

    @torch.no_grad()
    def fit(self, x: Sequences, n_iter: int = 10, lengths: torch.Tensor | None = None,
            generator: torch.Generator | None = None, init: bool = True,
            tol: float = 0.0) -> list[float]:
        """Baum-Welch EM. Returns the mean log-likelihood per real frame before each update
        (non-decreasing: the variance floor is a clamp, and the full covariances' floor a clamp
        of their eigenvalues, both the exact constrained M-step).
        `init=False` continues from the current parameters; `tol` stops early on a gain
        below it (nats per frame)."""
        x, lengths = pad_sequences(x, lengths, self.means.dtype, self.means.device)
        if init:
            self.init_from_data(x, frame_mask(lengths, x.shape[1]), generator)
        frames = float(lengths.sum())
        history: list[float] = []
        for _ in range(n_iter):
            history.append(self.em_step(x, lengths) / frames)
            if tol and len(history) > 1 and history[-1] - history[-2] < tol:
                break
        return history

    # -- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, length: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, length, D) frames and their (n, length) int64 states.

        All uniforms and normals are drawn up front; the Markov chain is the only loop (over
        time, on all n sequences at once, one inverse-CDF lookup per step on numpy ints, whose
        per-call overhead is far below torch's), and the emissions are one gather and one
        fused multiply-add."""
        cpu = torch.float64
        u = torch.rand(n, length, generator=generator, dtype=cpu).numpy()
        cdf = np.cumsum(self.transmat.to("cpu", cpu).numpy(), axis=1)
        cdf[:, -1] = np.inf  # rounding must never push a draw past the last state
        start = np.cumsum(self.startprob.to("cpu", cpu).numpy())
        start[-1] = np.inf
        states = np.empty((n, length), dtype=np.int64)
        s = np.searchsorted(start, u[:, 0], side="right")
        states[:, 0] = s
        if n == 1:
            # One chain: plain Python bisect on list rows is ~10x faster than numpy calls.
            from bisect import bisect_right

            rows = cdf.tolist()
            seq = states[0]
            cur = int(s[0])
            col = u[0].tolist()
            for t in range(1, length):
                cur = bisect_right(rows[cur], col[t])
                seq[t] = cur
        else:
            for t in range(1, length):
                s = (cdf[s] <= u[:, t, None]).sum(1)
                states[:, t] = s
        idx = torch.from_numpy(states).to(self.means.device)
        noise = torch.randn(n, length, self.dim, generator=generator, dtype=cpu)
        noise = noise.to(self.means.device, self.means.dtype)
        if self.full:
            # mean + L eps: covariance L L^T; the same noise draws as the diagonal path.
            chol = self._cholesky()[idx]  # (n, length, D, D)
            return self.means[idx] + (chol @ noise[..., None]).squeeze(-1), idx
        return self.means[idx] + self.variances[idx].sqrt() * noise, idx

    # -- without the chain ---------------------------------------------------------------------
    @torch.no_grad()
    def stationary_distribution(self, squarings: int = 20) -> torch.Tensor:
        """(S,) long-run state occupancy: startprob A^(2^squarings), by repeated squaring of the
        transition matrix (rows renormalised each time against rounding drift). For the
        aperiodic chains EM fits (every self-transition > 0) this is the stationary
        distribution whenever the chain mixes within 2^20 (~10^6) steps."""
        power = self.transmat
        for _ in range(squarings):
            power = power @ power
            power = power / power.sum(-1, keepdim=True)
        p = self.startprob @ power
        return p / p.sum()

    @torch.no_grad()
    def iid_log_likelihood(self, x: Sequences, lengths: torch.Tensor | None = None
                           ) -> torch.Tensor:
        """(B,) log p(sequence) in nats with the frames i.i.d. under the HMM's own emissions
        mixed by `stationary_distribution()`: the same model without its transitions."""
        x, lengths = pad_sequences(x, lengths, self.means.dtype, self.means.device)
        logb = self.emission_log_prob(x)  # (B, T, S)
        per_frame = torch.logsumexp(logb + torch.log(self.stationary_distribution()), -1)
        mask = frame_mask(lengths, x.shape[1]).T
        return torch.where(mask, per_frame, 0.0).sum(-1)
