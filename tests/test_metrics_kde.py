"""Kernel density score: known answers, the IML paper's scale against an independent
computation of its reference code's definition, the normalised density against an analytic
one, the ranking of obvious cases, and the chunked, vectorised path against a direct loop."""

import math

import numpy as np
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.neighbors import KernelDensity

from fugato.metrics import KDE_SIGMA, kde_log_density, kde_score


def test_one_sample_gives_the_gaussian_log_density() -> None:
    assert KDE_SIGMA == 0.2
    x = torch.tensor([[0.1, -0.3, 0.2]], dtype=torch.float64)
    expected = -0.5 * 0.14 / 0.04 - 1.5 * math.log(2 * math.pi * 0.04)
    assert abs(kde_score(x, torch.zeros(1, 3)) - expected) < 1e-12
    assert abs(kde_score(x, torch.zeros(1, 3), normalised=True) - expected) < 1e-12


def test_two_samples_sum_their_kernels_or_average_them_normalised() -> None:
    x = torch.tensor([[1.0]])
    samples = torch.tensor([[0.0], [1.0]])
    sigma = 0.5

    def pdf(d: float) -> float:
        return math.exp(-0.5 * d**2 / sigma**2) / math.sqrt(2 * math.pi * sigma**2)

    assert abs(kde_score(x, samples, sigma) - math.log(pdf(1.0) + pdf(0.0))) < 1e-12
    expected = math.log(0.5 * (pdf(1.0) + pdf(0.0)))
    assert abs(kde_score(x, samples, sigma, normalised=True) - expected) < 1e-12


def test_paper_scale_is_the_reference_codes_sum_of_kernels() -> None:
    """The reference (`compute_nparam_density`) takes the logsumexp over 1000 generated samples
    of log N(x; sample, 0.2^2 I) and averages it over the test points: here from scipy's
    Gaussian log-pdf, one kernel at a time. The normalised score is scikit-learn's KDE."""
    rng = np.random.default_rng(0)
    samples, test = rng.random((1000, 20)), rng.random((30, 20))
    log_kernels = np.stack([multivariate_normal(s, KDE_SIGMA**2 * np.eye(20)).logpdf(test)
                            for s in samples])  # (1000 samples, 30 test points)
    reference = float(logsumexp(log_kernels, axis=0).mean())
    ours = kde_score(torch.from_numpy(test), torch.from_numpy(samples))
    assert abs(ours - reference) < 1e-9
    sklearn = KernelDensity(bandwidth=KDE_SIGMA).fit(samples).score_samples(test)
    ours_density = kde_log_density(torch.from_numpy(test), torch.from_numpy(samples)).numpy()
    np.testing.assert_allclose(ours_density, sklearn, rtol=1e-5)  # its tree's own rounding
    normalised = kde_score(torch.from_numpy(test), torch.from_numpy(samples), normalised=True)
    assert abs(ours - normalised - math.log(1000)) < 1e-9  # 6.91 nats at S = 1000


def test_normalised_score_converges_to_the_smoothed_density() -> None:
    """Samples of N(0, s^2 I): the kernel density tends to N(0, (s^2 + sigma^2) I), and the
    paper's scale lies log S above it."""
    g = torch.Generator().manual_seed(0)
    s, n_samples = 0.5, 40_000
    samples = s * torch.randn(n_samples, 2, generator=g, dtype=torch.float64)
    test = s * torch.randn(300, 2, generator=g, dtype=torch.float64)
    variance = s**2 + KDE_SIGMA**2
    analytic = float((-0.5 * (test**2).sum(-1) / variance - math.log(2 * math.pi * variance))
                     .mean())
    assert abs(kde_score(test, samples, normalised=True) - analytic) < 0.02
    assert abs(kde_score(test, samples) - math.log(n_samples) - analytic) < 0.02


def test_score_ranks_held_out_data_above_jittered_above_noise() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(5, 10, generator=g, dtype=torch.float64)

    def draw(n: int) -> torch.Tensor:
        pick = torch.randint(0, 5, (n,), generator=g)
        return centres[pick] + 0.05 * torch.randn(n, 10, generator=g, dtype=torch.float64)

    test, held_out = draw(500), draw(1000)
    jittered = held_out + 0.15 * torch.randn(1000, 10, generator=g, dtype=torch.float64)
    noise = torch.rand(1000, 10, generator=g, dtype=torch.float64)
    scores = [kde_score(test, samples) for samples in (held_out, jittered, noise)]
    assert scores[0] > scores[1] + 1 > scores[2] + 2, scores


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
