"""Frechet distance between feature sets (FID when the features are a classifier's hidden
layer; FactorGAN scores generated digits on a small digit classifier's features).

FID = |mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) for the Gaussians fitted to the two
sets. Tr (C_a C_b)^(1/2) is computed from the eigenvalues of the symmetric C_a^(1/2) C_b
C_a^(1/2) (the same spectrum as C_a C_b), so no complex square root appears.
"""

from __future__ import annotations

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def gaussian_stats(features: Array) -> tuple[np.ndarray, np.ndarray]:
    """(mean (F,), covariance (F, F)) in float64 of features (N, F), N >= 2."""
    x = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features,
                   dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                     cov_b: np.ndarray) -> float:
    """Squared Frechet (2-Wasserstein) distance between N(mu_a, cov_a) and N(mu_b, cov_b), in
    squared feature units."""
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def fid(features_a: Array, features_b: Array) -> float:
    """Frechet distance between the Gaussians of two feature sets (N_a, F) and (N_b, F)."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))
