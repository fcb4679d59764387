"""Kernel density (Parzen window) score of a generative model's samples on held-out data.

Two scales of one estimator, both in nats per test point, larger is better:

    kde_score                   = mean over test x of log( sum_s N(x; sample_s, sigma^2 I) )
    kde_score(normalised=True)  = mean over test x of log( (1/S) sum_s N(x; sample_s, sigma^2 I) )
                                = kde_score - log S

The first is the IML paper's (Subakan et al. 2018, Sec. 4.1: "the sum of Kernel functions
centered at these samples") and its reference code's (`compute_nparam_density`: a logsumexp of
the Gaussian log-kernels over S = 1000 generated samples, averaged over the test set), so it is
the scale of the paper's Table 1 at S = 1000. The second is the log of a proper density (it
integrates to 1 over x), so it compares across numbers of samples S.

SIGMA = 0.2 is the kernel width of the reference code (on pixels in [0, 1] for MNIST); the
paper's text writes the kernel as N(x; sample, 0.1 I), so scores are only comparable at the
same sigma: always report it with the number.
"""

from __future__ import annotations

import math

import torch

SIGMA = 0.2


def kde_log_density(test: torch.Tensor, samples: torch.Tensor, sigma: float = SIGMA,
                    chunk_elements: int = 2**22) -> torch.Tensor:
    """(N,) log of the Gaussian-kernel density (the mean of the S kernels, which integrates to
    1) at each test point (N, D) built on samples (S, D); nats.

    Squared distances come from one matrix product per chunk of test points (at most
    `chunk_elements` entries of the (chunk, S) matrix at a time), and the mean over samples is a
    logsumexp, so no exp underflows in high dimension. Computed in float64."""
    test = test.reshape(len(test), -1).double()
    samples = samples.reshape(len(samples), -1).double().to(test.device)
    n_samples, dim = samples.shape
    norm = -0.5 * dim * math.log(2 * math.pi * sigma**2) - math.log(n_samples)
    sq_samples = (samples**2).sum(-1)
    step = max(1, chunk_elements // max(n_samples, 1))
    out = []
    for i in range(0, len(test), step):
        x = test[i : i + step]
        dist = ((x**2).sum(-1, keepdim=True) - 2 * x @ samples.T + sq_samples).clamp_min(0)
        out.append(torch.logsumexp(-0.5 * dist / sigma**2, dim=-1) + norm)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)


def kde_score(test: torch.Tensor, samples: torch.Tensor, sigma: float = SIGMA, *,
              normalised: bool = False, chunk_elements: int = 2**22) -> float:
    """The KDE score of samples (S, D) on test points (N, D), nats per test point: on the IML
    paper's scale (the log of the sum of the S kernels, averaged over the test points) unless
    `normalised`, then the mean of `kde_log_density` (the log of their mean): log S lower."""
    score = float(kde_log_density(test, samples, sigma, chunk_elements).mean())
    return score if normalised else score + math.log(len(samples))
