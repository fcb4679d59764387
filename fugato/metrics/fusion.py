"""Genre-fusion scores: where a generated set sits between two genres A and B (FusionGAN, Chen et
al. 2017).

Table I's Diff and Ratio of one feature histogram (DD or NPD) under both distances (EUD, EM),
the genre balance of a set as a genre classifier sees it, with that classifier's balanced
accuracy on held-out windows, and Table II's fusion level (FL) of answer counts.
"""

from __future__ import annotations

import numpy as np

from fugato.metrics.melody import earth_movers, earth_movers_rows, euclidean, fusion_scores


def fusion_distances(a: np.ndarray, b: np.ndarray, generated: np.ndarray, positions: np.ndarray
                     ) -> dict[str, dict[str, float]]:
    """Diff and Ratio (`fusion_scores`) of histogram `generated` against genre histograms `a`
    and `b` (all over the same bins at `positions`), under the Euclidean ("eud") and Earth
    Mover ("em") distances: {"eud": {"diff", "ratio"}, "em": {"diff", "ratio"}}."""
    return {
        "eud": fusion_scores(euclidean(a, generated), euclidean(b, generated), euclidean(a, b)),
        "em": fusion_scores(earth_movers(a, generated, positions),
                            earth_movers(b, generated, positions),
                            earth_movers(a, b, positions)),
    }


def window_fusion_distances(a: np.ndarray, b: np.ndarray, windows: np.ndarray,
                            positions: np.ndarray) -> dict[str, dict[str, float]]:
    """The per-window Table I: Diff and Ratio of each window's own histogram (a row of
    `windows`, (n, bins)) against the genre histograms `a` and `b` (bins,), averaged over the
    windows that hold notes:

        Diff = mean_w [d(A, w) + d(B, w)] - d(A, B),  Ratio = mean_w [d(A, w) + d(B, w)] / d(A, B)

    (the mean of per-window Diffs and Ratios), under "eud" and "em". A window whose histogram
    lies between A's and B's scores Ratio 1, a pure A window and a half-way blend alike: the
    table measures how far each window's own histogram leaves the span of the genres (a
    window of three pitch classes does, however the set's aggregate looks), with 32-step
    windows' own sampling noise in it (score real windows for the floor)."""
    shown = np.asarray(windows, dtype=np.float64)
    shown = shown[shown.sum(axis=1) > 0]
    # Diff and Ratio are linear in d(A, w) + d(B, w): their means are the scores of the means
    return {
        "eud": fusion_scores(float(np.linalg.norm(shown - a, axis=1).mean()),
                             float(np.linalg.norm(shown - b, axis=1).mean()), euclidean(a, b)),
        "em": fusion_scores(float(earth_movers_rows(shown, a, positions).mean()),
                            float(earth_movers_rows(shown, b, positions).mean()),
                            earth_movers(a, b, positions)),
    }


def balanced_accuracy(p_a: np.ndarray, p_b: np.ndarray) -> float:
    """Balanced accuracy of a genre classifier from its P(genre A) on windows of genre A (n,)
    and of genre B (m,): the mean of the two genres' hit rates at threshold 0.5."""
    return 0.5 * (float((p_a > 0.5).mean()) + float((p_b <= 0.5).mean()))


def genre_balance(p_a: float) -> float:
    """1 - 2 |p_a - 0.5| of a set's mean P(genre A) `p_a`: 1 when the classifier sees as much
    of A as of B, 0 when it sees only one genre."""
    return 1 - 2 * abs(p_a - 0.5)


def fusion_level(a: float, b: float, mixture: float, neither: float) -> float:
    """Table II's FL = 1 - (|C_A - C_B| + C_neither) / (C_A + C_B + C_mixture + C_neither) of
    counts (or shares) of listeners' or a labeller's answers; nan without any."""
    total = a + b + mixture + neither
    return 1 - (abs(a - b) + neither) / total if total else float("nan")
