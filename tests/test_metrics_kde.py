"""Kernel density score: known answers and the chunked, vectorised path against a direct loop."""

import math

import numpy as np
import torch

from fugato.metrics import KDE_SIGMA, kde_log_density, kde_score


def test_one_sample_gives_the_gaussian_log_density() -> None:
    assert KDE_SIGMA == 0.2
    x = torch.tensor([[0.1, -0.3, 0.2]], dtype=torch.float64)
    expected = -0.5 * 0.14 / 0.04 - 1.5 * math.log(2 * math.pi * 0.04)
    assert abs(kde_score(x, torch.zeros(1, 3)) - expected) < 1e-12


def test_two_samples_average_their_kernels() -> None:
    x = torch.tensor([[1.0]])
    samples = torch.tensor([[0.0], [1.0]])
    sigma = 0.5

    def pdf(d: float) -> float:
        return math.exp(-0.5 * d**2 / sigma**2) / math.sqrt(2 * math.pi * sigma**2)

    expected = math.log(0.5 * (pdf(1.0) + pdf(0.0)))
    assert abs(kde_score(x, samples, sigma) - expected) < 1e-12


def test_chunks_and_high_dimension_match_a_direct_computation() -> None:
    g = torch.Generator().manual_seed(0)
    test = torch.rand(37, 784, generator=g, dtype=torch.float64)
    samples = torch.rand(53, 784, generator=g, dtype=torch.float64)
    ours = kde_log_density(test, samples, chunk_elements=100)  # chunks of one or two points
    t, s = test.numpy(), samples.numpy()
    log_kernels = (-0.5 * ((t[:, None, :] - s[None, :, :]) ** 2).sum(-1) / 0.04
                   - 392 * math.log(2 * math.pi * 0.04))
    top = log_kernels.max(1, keepdims=True)
    direct = (top[:, 0] + np.log(np.exp(log_kernels - top).sum(1)) - math.log(53))
    np.testing.assert_allclose(ours.numpy(), direct, rtol=1e-10)
    # in 784 dimensions every kernel alone underflows exp(), so a plain mean of kernels would
    # give log(0); the logsumexp path stays finite
    assert (np.exp(log_kernels) == 0).all()
    assert torch.isfinite(ours).all() and (ours < 0).all()
