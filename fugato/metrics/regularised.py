"""Metrics of attribute-regularised latent dimensions (AR-VAE, Pati & Lerch 2020): latent
dimension l is meant to order bars by attribute l.

- `regularised_spearman`: per attribute l, the Spearman correlation of code dimension l (or of
  the dimension given for it: a beta-VAE's most informative one) with attribute l over held-out
  codes (SCC asks for the best dimension; this asks for the given one);
- `traversal_spearman`: the Spearman correlation of a swept latent value with the attribute of
  the decoded bar, per bar, averaged over bars.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fugato.metrics.disentanglement import spearman_matrix


def regularised_spearman(codes: np.ndarray, factors: np.ndarray,
                         dims: Sequence[int] | None = None) -> np.ndarray:
    """Codes (N, D) and factors (N, K) -> (K,): Spearman of code dim `dims[k]` (default k,
    K <= D) with factor k (0 for a constant column)."""
    dims = range(factors.shape[1]) if dims is None else dims
    return np.array([spearman_matrix(codes[:, d:d + 1], factors[:, k:k + 1])[0, 0]
                     for k, d in enumerate(dims)])


def traversal_spearman(decoded: np.ndarray, values: np.ndarray) -> float:
    """`decoded` (N, S): the attribute of bar n decoded at latent value `values[s]` (S,) ->
    the mean over bars of the Spearman correlation between value and attribute."""
    return float(spearman_matrix(decoded.T, values[:, None])[:, 0].mean())
