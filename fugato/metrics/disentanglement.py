"""Disentanglement metrics of latent codes against attributes (AR-VAE, Pati & Lerch 2020).

All functions take `codes` (N, D) (encoder means of held-out data) and `factors` (N, K)
(continuous attribute values) as numpy arrays. Mutual information and entropies are in nats;
every score is unitless.

Each metric is computed two ways; `disentanglement` returns both, under these names (the same
names in eval.json):

The reference's way, under the plain names (`interpretability`, `mig`, `modularity`, `sap`,
`scc`): as ashispati/ar-vae's `utils/evaluation.py` computes the paper's Fig. 3, on all N rows.
- Mutual information: scikit-learn's `mutual_info_regression` (Kraskov et al.'s k-nearest-
  neighbour estimator, k = 3, negative estimates clipped to 0) of every code dim with each
  attribute (`knn_mutual_information`). It jitters the data by 1e-10 of their scale to break
  ties; the reference leaves that jitter unseeded, here it is seeded with `seed`.
- Interpretability: per attribute, the code dim of highest kNN MI with it, and the R^2 of a
  least-squares line on that dim, fitted and scored on the same rows (the reference's
  LinearRegression().score: the squared Pearson correlation).
- MIG: per attribute, (top - second kNN MI over code dims) / the attribute's kNN MI with itself
  (`knn_self_information`, the reference's `continuous_entropy`: not an entropy, it grows with
  log N, so this MIG is not bounded by 1 the way a discrete one is).
- Modularity (Ridgeway & Zemel): per code dim, 1 - the squared kNN MI it shares with the
  attributes other than its best one, relative to the best; a dim sharing no information with
  any attribute scores 0 (the reference, as disentanglement_lib). Mean over code dims.
- SAP: per attribute, the best minus the second best squared Pearson correlation with one code
  dim, in-sample; a dim of variance <= 1e-12 scores 0.
- SCC: per attribute, the largest |Spearman| over code dims, counting only correlations whose
  two-sided p-value (t-test, N - 2 degrees of freedom, scipy's `spearmanr`) is at most 0.05;
  the others count 0. With few rows (a tiny run's 8 bars need |rho| >= 0.71) this sets weak
  correlations to 0; with thousands it changes nothing.

fugato's own variants, under suffixed names:
- `interpretability_heldout`, `sap_heldout`: the rows are split by a seeded permutation into a
  fit half and a score half; a 1-D least-squares line (with intercept) is fitted on the fit half
  and scored by R^2 on the score half, clipped to [0, 1] (a line worse than the mean scores 0):
  a score of generalisation, not of fit. `interpretability_heldout` picks, for attribute k, the
  code dim of highest histogram MI with it on the fit half.
- `mig_histogram`, `modularity_histogram`: every column of codes and factors is cut into 20
  equal-width bins between its min and max (`_histogram_discretize` of google-research/
  disentanglement_lib) and MI is the plug-in estimate from the joint histogram; MIG divides by
  the histogram entropy, so it lies in [0, 1]. `modularity_histogram` scores a dim with no
  information 1 (fugato's earlier choice). The plug-in estimate is biased upwards (independent
  columns share about (bins - 1)^2 / 2N nats), which lowers Modularity: 0.592 against the
  reference way's 0.855 on the shipped arvae-folk model's 1,000 check bars.
- `scc_unfiltered`: SCC with no p-value filter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata
from scipy.stats import t as student_t

BINS = 20
"""Equal-width bins per column of the histogram variants."""
KNN_NEIGHBOURS = 3
"""k of the kNN MI estimator (scikit-learn's default, the reference's)."""
SCC_P_VALUE = 0.05
"""SCC counts a Spearman correlation only where its p-value is at most this (the reference)."""
MIN_CODE_VARIANCE = 1e-12
"""SAP scores a code dim of at most this variance (ddof 1) 0 (the reference)."""
PER_FACTOR = ("interpretability", "interpretability_heldout", "mig", "mig_histogram", "sap",
              "sap_heldout", "scc", "scc_unfiltered")
"""The metrics of `disentanglement` with a score per attribute ("per_factor")."""


# -- estimators ----------------------------------------------------------------------------------
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


def knn_mutual_information(codes: np.ndarray, factors: np.ndarray, seed: int = 0
                           ) -> np.ndarray:
    """kNN MI estimate (nats, >= 0) of every code dim (N, D) with every factor (N, K): (D, K),
    by scikit-learn's `mutual_info_regression` (k = `KNN_NEIGHBOURS`, jitter seeded)."""
    from sklearn.feature_selection import mutual_info_regression

    return np.column_stack([
        mutual_info_regression(codes, factors[:, k], n_neighbors=KNN_NEIGHBOURS,
                               random_state=seed) for k in range(factors.shape[1])])


def knn_self_information(factors: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, K) -> (K,): the kNN MI estimate (nats) of each factor with itself, the reference's
    MIG normaliser ("continuous_entropy")."""
    return np.array([knn_mutual_information(factors[:, k:k + 1], factors[:, k:k + 1], seed)[0, 0]
                     for k in range(factors.shape[1])])


def squared_correlation(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """In-sample squared Pearson correlation, the R^2 of a line y ~ x, of every code dim (N, D)
    with every factor (N, K): (D, K); 0 for a code dim of variance <= `MIN_CODE_VARIANCE` and
    for a constant factor."""
    xc, yc = codes - codes.mean(axis=0), factors - factors.mean(axis=0)
    ss_x, ss_y = (xc**2).sum(axis=0), (yc**2).sum(axis=0)
    denominator = ss_x[:, None] * ss_y[None, :]
    r2 = (xc.T @ yc) ** 2 / np.where(denominator > 0, denominator, 1.0)
    varied = ss_x[:, None] / max(len(codes) - 1, 1) > MIN_CODE_VARIANCE
    return np.where(varied & (denominator > 0), r2, 0.0)


def spearman_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of every code dim with every factor: (D, K), 0 for constants."""
    rc = rankdata(codes, axis=0)
    rf = rankdata(factors, axis=0)
    rc, rf = rc - rc.mean(axis=0), rf - rf.mean(axis=0)
    norm = np.sqrt((rc**2).sum(axis=0))[:, None] * np.sqrt((rf**2).sum(axis=0))[None, :]
    return np.where(norm > 0, (rc.T @ rf) / np.where(norm > 0, norm, 1.0), 0.0)


def spearman_p_values(rho: np.ndarray, n: int) -> np.ndarray:
    """Two-sided p-values of Spearman correlations `rho` (any shape) over `n` rows: the t-test
    with n - 2 degrees of freedom that scipy's `spearmanr` uses (|rho| = 1 gives 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(rho) * np.sqrt((n - 2) / np.maximum(1.0 - rho**2, 0.0))
    return 2.0 * student_t.sf(t, n - 2)


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


# -- scores from an MI matrix (one place for both estimators) ------------------------------------
def mig_from(mi: np.ndarray, normaliser: np.ndarray) -> np.ndarray:
    """MI (D, K) and a per-factor normaliser (K,) -> per factor (top - second MI) / normaliser
    (K,); 0 where the normaliser is 0."""
    top2 = _top_two(mi)
    safe = np.where(normaliser > 0, normaliser, 1.0)
    return np.where(normaliser > 0, (top2[0] - top2[1]) / safe, 0.0)


def modularity_from(mi: np.ndarray, uninformed: float) -> np.ndarray:
    """MI (D, K) -> per code dim (D,) modularity 1 - delta; a dim with no MI scores
    `uninformed` (0 the reference's way, 1 fugato's histogram variant)."""
    mi2 = mi**2
    best = mi2.max(axis=1)
    k = mi2.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (mi2.sum(axis=1) - best) / (best * max(k - 1, 1))
    return np.where(best > 0, 1.0 - delta, uninformed)


# -- the reference's way -------------------------------------------------------------------------
def interpretability(codes: np.ndarray, factors: np.ndarray, seed: int = 0,
                     mi: np.ndarray | None = None) -> dict[str, Any]:
    """Per attribute: the code dim of highest kNN MI (`mi` (D, K) if given, else estimated) and
    the in-sample R^2 of a line on it.

    Returns {"score": mean R^2, "per_factor": (K,) R^2, "dims": (K,) chosen dims}.
    """
    mi = knn_mutual_information(codes, factors, seed) if mi is None else mi
    dims = mi.argmax(axis=0)
    per = squared_correlation(codes, factors)[dims, np.arange(factors.shape[1])]
    return {"score": float(per.mean()), "per_factor": per, "dims": dims}


def mig(codes: np.ndarray, factors: np.ndarray, seed: int = 0,
        mi: np.ndarray | None = None) -> dict[str, Any]:
    """Mutual Information Gap with kNN MI (`mi` (D, K) if given), normalised by each factor's
    kNN MI with itself. Returns {"score": mean, "per_factor": (K,)}."""
    mi = knn_mutual_information(codes, factors, seed) if mi is None else mi
    per = mig_from(mi, knn_self_information(factors, seed))
    return {"score": float(per.mean()), "per_factor": per}


def modularity(codes: np.ndarray, factors: np.ndarray, seed: int = 0,
               mi: np.ndarray | None = None) -> dict[str, Any]:
    """Modularity with kNN MI (`mi` (D, K) if given); a dim with no information scores 0.
    Returns {"score": mean over code dims, "per_code": (D,)}."""
    mi = knn_mutual_information(codes, factors, seed) if mi is None else mi
    per = modularity_from(mi, 0.0)
    return {"score": float(per.mean()), "per_code": per}


def sap(codes: np.ndarray, factors: np.ndarray) -> dict[str, Any]:
    """Separated Attribute Predictability: per factor, the best minus the second best in-sample
    R^2 of a line on one code dim. Returns {"score", "per_factor": (K,)}."""
    top2 = _top_two(squared_correlation(codes, factors))
    per = top2[0] - top2[1]
    return {"score": float(per.mean()), "per_factor": per}


def scc(codes: np.ndarray, factors: np.ndarray, rho: np.ndarray | None = None
        ) -> dict[str, Any]:
    """Per factor the largest |Spearman| over code dims (`rho` (D, K) if given) among those
    with p <= `SCC_P_VALUE` (0 if none). Returns {"score", "per_factor": (K,)}."""
    rho = spearman_matrix(codes, factors) if rho is None else rho
    kept = np.where(spearman_p_values(rho, len(codes)) <= SCC_P_VALUE, np.abs(rho), 0.0)
    per = kept.max(axis=0)
    return {"score": float(per.mean()), "per_factor": per}


# -- fugato's variants ---------------------------------------------------------------------------
def interpretability_heldout(codes: np.ndarray, factors: np.ndarray, seed: int = 0
                             ) -> dict[str, Any]:
    """Per attribute: the code dim of highest histogram MI on the fit half and the held-out R^2
    of a line on it. Returns {"score": mean R^2, "per_factor": (K,), "dims": (K,)}."""
    fit, test = _halves(len(codes), seed)
    mi = mutual_information(discretize(codes[fit]), discretize(factors[fit]))  # (D, K)
    dims = mi.argmax(axis=0)
    r2 = _line_r2(codes[fit][:, dims], factors[fit], codes[test][:, dims], factors[test])
    per = np.diag(r2)
    return {"score": float(per.mean()), "per_factor": per, "dims": dims}


def histogram_mutual_information(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Plug-in MI (nats) of every binned code dim (N, D) with every binned factor (N, K):
    (D, K)."""
    return mutual_information(discretize(codes), discretize(factors))


def mig_histogram(codes: np.ndarray, factors: np.ndarray, mi: np.ndarray | None = None
                  ) -> dict[str, Any]:
    """MIG with histogram MI (`mi` (D, K) if given) over the histogram entropy H(factor).
    Returns {"score": mean, "per_factor": (K,)}."""
    mi = histogram_mutual_information(codes, factors) if mi is None else mi
    per = mig_from(mi, entropy(discretize(factors)))
    return {"score": float(per.mean()), "per_factor": per}


def modularity_histogram(codes: np.ndarray, factors: np.ndarray, mi: np.ndarray | None = None
                         ) -> dict[str, Any]:
    """Modularity with histogram MI (`mi` (D, K) if given); a dim with no information scores
    1. Returns {"score": mean over code dims, "per_code": (D,)}."""
    mi = histogram_mutual_information(codes, factors) if mi is None else mi
    per = modularity_from(mi, 1.0)
    return {"score": float(per.mean()), "per_code": per}


def sap_heldout(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """SAP with held-out R^2 of lines fitted on one half. Returns {"score", "per_factor"}."""
    fit, test = _halves(len(codes), seed)
    top2 = _top_two(_line_r2(codes[fit], factors[fit], codes[test], factors[test]))
    per = top2[0] - top2[1]
    return {"score": float(per.mean()), "per_factor": per}


def scc_unfiltered(codes: np.ndarray, factors: np.ndarray, rho: np.ndarray | None = None
                   ) -> dict[str, Any]:
    """Per factor the largest |Spearman| over code dims (`rho` (D, K) if given), no p-value
    filter."""
    rho = spearman_matrix(codes, factors) if rho is None else rho
    per = np.abs(rho).max(axis=0)
    return {"score": float(per.mean()), "per_factor": per}


def disentanglement(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Every metric both ways: {name: result} for the reference's `interpretability`, `mig`,
    `modularity`, `sap`, `scc` and fugato's `interpretability_heldout`, `mig_histogram`,
    `modularity_histogram`, `sap_heldout`, `scc_unfiltered` (see the module docstring).
    `seed` seeds the kNN jitter and the held-out halves."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    # each estimate once, shared by the metrics built on it
    mi = knn_mutual_information(codes, factors, seed)
    binned_mi = histogram_mutual_information(codes, factors)
    rho = spearman_matrix(codes, factors)
    return {"interpretability": interpretability(codes, factors, seed, mi),
            "mig": mig(codes, factors, seed, mi),
            "modularity": modularity(codes, factors, seed, mi),
            "sap": sap(codes, factors), "scc": scc(codes, factors, rho),
            "interpretability_heldout": interpretability_heldout(codes, factors, seed),
            "mig_histogram": mig_histogram(codes, factors, binned_mi),
            "modularity_histogram": modularity_histogram(codes, factors, binned_mi),
            "sap_heldout": sap_heldout(codes, factors, seed),
            "scc_unfiltered": scc_unfiltered(codes, factors, rho)}
