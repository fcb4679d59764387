"""Disentanglement metrics of latent codes against attributes (AR-VAE, Pati & Lerch 2020).

All functions take `codes` (N, D) (encoder means of held-out data) and `factors` (N, K)
(continuous attribute values) as numpy arrays, and are pure numpy / scipy.

Choices, stated once:
- Discretisation (MIG, Modularity, and the dimension choice of Interpretability): every column
  of codes and factors is cut into 20 equal-width bins between its min and max, as
  `_histogram_discretize` of google-research/disentanglement_lib; mutual information is the
  plug-in estimate (in nats) from the joint histogram, as its `sklearn.metrics.mutual_info_score`.
- Held-out regressors (Interpretability, SAP): the rows are split by a seeded permutation into a
  fit half and a score half; a 1-D least-squares line (with intercept) is fitted on the fit
  half and scored by R^2 on the score half, clipped to [0, 1] (a line worse than the mean scores
  0). Interpretability uses, for attribute k, the code dimension of highest mutual information
  with it (computed on the fit half) as the reference does with mutual_info_regression.
- SCC: for every attribute, the largest absolute Spearman correlation over code dimensions,
  averaged over attributes (the reference's compute_correlation_score).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

BINS = 20


def discretize(x: np.ndarray, bins: int = BINS) -> np.ndarray:
    """(N, D) values -> (N, D) int bin ids in [0, bins): equal-width bins per column."""
    x = np.asarray(x, dtype=np.float64)
    low, high = x.min(axis=0), x.max(axis=0)
    width = np.where(high > low, (high - low) / bins, 1.0)
    return np.clip(((x - low) / width).astype(np.int64), 0, bins - 1)


def mutual_information(a: np.ndarray, b: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Plug-in MI (nats) between every column of discrete `a` (N, D) and `b` (N, K): (D, K).

    One joint histogram per pair via a bincount of combined ids: no loop over rows.
    """
    n, d = a.shape
    k = b.shape[1]
    joint_id = (a[:, :, None] * bins + b[:, None, :]) + (np.arange(d * k) * bins * bins
                                                          ).reshape(d, k)
    joint = np.bincount(joint_id.ravel(), minlength=d * k * bins * bins)
    joint = joint.reshape(d, k, bins, bins) / n
    pa, pb = joint.sum(axis=3, keepdims=True), joint.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (pa * pb)), 0.0)
    return terms.sum(axis=(2, 3))


def entropy(a: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Entropy (nats) of every column of discrete `a` (N, K): (K,)."""
    n, k = a.shape
    counts = np.bincount((a + np.arange(k) * bins).ravel(), minlength=k * bins).reshape(k, bins)
    p = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)


def _top_two(scores: np.ndarray) -> np.ndarray:
    """(D, K) -> (2, K): the best and second-best score per column (second 0 when D = 1)."""
    top = np.sort(scores, axis=0)[::-1][:2]
    return top if len(top) == 2 else np.concatenate([top, np.zeros_like(top)])


def _halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2 :]


def _line_r2(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray,
             y_test: np.ndarray) -> np.ndarray:
    """Held-out R^2 of 1-D lines y ~ x fitted per column pair: x (N, D), y (N, K) -> (D, K)."""
    xm, ym = x_fit.mean(axis=0), y_fit.mean(axis=0)
    xc, yc = x_fit - xm, y_fit - ym
    var_x = (xc**2).sum(axis=0)
    slope = (xc.T @ yc) / np.where(var_x > 0, var_x, 1.0)[:, None]  # (D, K)
    intercept = ym[None, :] - slope * xm[:, None]
    pred = x_test[:, :, None] * slope[None] + intercept[None]  # (N, D, K)
    ss_res = ((y_test[:, None, :] - pred) ** 2).sum(axis=0)
    ss_tot = ((y_test - y_test.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)[None, :]
    return np.clip(r2, 0.0, 1.0)


def interpretability(codes: np.ndarray, factors: np.ndarray, seed: int = 0
                     ) -> dict[str, Any]:
    """Per attribute: the most informative code dim and the held-out R^2 of a line on it.

    Returns {"score": mean R^2, "per_factor": (K,) R^2, "dims": (K,) chosen dims}.
    """
    fit, test = _halves(len(codes), seed)
    mi = mutual_information(discretize(codes[fit]), discretize(factors[fit]))  # (D, K)
    dims = mi.argmax(axis=0)
    r2 = _line_r2(codes[fit][:, dims], factors[fit], codes[test][:, dims], factors[test])
    per = np.diag(r2)
    return {"score": float(per.mean()), "per_factor": per, "dims": dims}


def mig(codes: np.ndarray, factors: np.ndarray) -> dict[str, Any]:
    """Mutual Information Gap: per factor, (top - second MI over code dims) / H(factor).

    Returns {"score": mean, "per_factor": (K,)}.
    """
    mi = mutual_information(discretize(codes), discretize(factors))  # (D, K)
    top2 = _top_two(mi)
    h = entropy(discretize(factors))
    per = np.where(h > 0, (top2[0] - top2[1]) / np.where(h > 0, h, 1.0), 0.0)
    return {"score": float(per.mean()), "per_factor": per}


def modularity(codes: np.ndarray, factors: np.ndarray) -> dict[str, Any]:
    """Ridgeway & Zemel's modularity (disentanglement_lib): per code dim, 1 - the squared MI
    it shares with factors other than its best one, relative to the best; a dim sharing no
    information scores 1. Returns {"score": mean over code dims, "per_code": (D,)}."""
    mi2 = mutual_information(discretize(codes), discretize(factors)) ** 2  # (D, K)
    best = mi2.max(axis=1)
    k = mi2.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (mi2.sum(axis=1) - best) / (best * (k - 1))
    per = np.where(best > 0, 1.0 - delta, 1.0)
    return {"score": float(per.mean()), "per_code": per}


def sap(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Separated Attribute Predictability: per factor, the gap between the best and the second
    best held-out R^2 of a line on one code dim. Returns {"score", "per_factor": (K,)}."""
    fit, test = _halves(len(codes), seed)
    r2 = _line_r2(codes[fit], factors[fit], codes[test], factors[test])  # (D, K)
    top2 = _top_two(r2)
    per = top2[0] - top2[1]
    return {"score": float(per.mean()), "per_factor": per}


def spearman_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of every code dim with every factor: (D, K), 0 for constants."""
    rc = rankdata(codes, axis=0)
    rf = rankdata(factors, axis=0)
    rc, rf = rc - rc.mean(axis=0), rf - rf.mean(axis=0)
    norm = np.sqrt((rc**2).sum(axis=0))[:, None] * np.sqrt((rf**2).sum(axis=0))[None, :]
    return np.where(norm > 0, (rc.T @ rf) / np.where(norm > 0, norm, 1.0), 0.0)


def scc(codes: np.ndarray, factors: np.ndarray) -> dict[str, Any]:
    """Per factor the largest |Spearman| over code dims. Returns {"score", "per_factor"}."""
    per = np.abs(spearman_matrix(codes, factors)).max(axis=0)
    return {"score": float(per.mean()), "per_factor": per}


def disentanglement(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """All five metrics: {"interpretability", "mig", "modularity", "sap", "scc"} -> result."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    return {"interpretability": interpretability(codes, factors, seed),
            "mig": mig(codes, factors), "modularity": modularity(codes, factors),
            "sap": sap(codes, factors, seed), "scc": scc(codes, factors)}
