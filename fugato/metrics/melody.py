"""Distributions of melody sets and distances between them.

DD (note-duration distribution) and NPD (pitch-class distribution) as in FusionGAN (Chen et al.
2017); Euclidean (EUD) and Earth Mover (EM) distances between histograms, where EM treats the
bin positions (durations in quarter notes; pitch classes 0..11) as values and the histograms as
weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.stats import wasserstein_distance

from fugato.music.melody import TPQ, Melody

DURATION_STEP = TPQ // 12
"""Durations are counted on a grid of 1/12 quarter note (sixteenths and triplets both fit)."""
MAX_DURATION = 8 * TPQ
"""Durations of eight quarters or longer share the last bin."""


def duration_bins() -> np.ndarray:
    """Bin positions of the duration histogram, in quarter notes: (n_bins,)."""
    return np.arange(1, MAX_DURATION // DURATION_STEP + 1) * DURATION_STEP / TPQ


def duration_distribution(melodies: Iterable[Melody]) -> np.ndarray:
    """Share of notes per duration bin (see `duration_bins`): (n_bins,), sums to 1 (or all 0)."""
    durations = np.concatenate([m.durations for m in melodies] or [np.zeros(0, np.int64)])
    return _shares(_duration_bin(durations), len(duration_bins()))


def pitch_class_distribution(melodies: Iterable[Melody]) -> np.ndarray:
    """Share of notes per pitch class C..B: (12,), sums to 1 (or all 0)."""
    pitches = np.concatenate([m.pitches for m in melodies] or [np.zeros(0, np.int16)])
    return _shares(pitches.astype(np.int64) % 12, 12)


def duration_distributions(melodies: Sequence[Melody]) -> np.ndarray:
    """`duration_distribution` of every melody on its own: (n_melodies, n_bins), each row sums
    to 1 (or all 0 for a melody without notes)."""
    return _row_shares([_duration_bin(m.durations) for m in melodies], len(duration_bins()))


def pitch_class_distributions(melodies: Sequence[Melody]) -> np.ndarray:
    """`pitch_class_distribution` of every melody on its own: (n_melodies, 12)."""
    return _row_shares([m.pitches.astype(np.int64) % 12 for m in melodies], 12)


def _duration_bin(durations: np.ndarray) -> np.ndarray:
    """Bin index (0-based, see `duration_bins`) of each duration in ticks."""
    steps = np.rint(np.asarray(durations) / DURATION_STEP).astype(np.int64)
    return np.clip(steps, 1, len(duration_bins())) - 1


def _shares(bins: np.ndarray, n_bins: int) -> np.ndarray:
    counts = np.bincount(bins, minlength=n_bins).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def _row_shares(bins: Sequence[np.ndarray], n_bins: int) -> np.ndarray:
    """(len(bins), n_bins) shares of each row's bin indices, in one bincount."""
    owner = np.repeat(np.arange(len(bins)), [len(b) for b in bins])
    flat = np.concatenate([*bins, np.zeros(0, np.int64)])
    counts = np.bincount(owner * n_bins + flat, minlength=len(bins) * n_bins)
    counts = counts.reshape(len(bins), n_bins).astype(np.float64)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def euclidean(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(p) - np.asarray(q)))


def earth_movers(p: np.ndarray, q: np.ndarray, positions: np.ndarray | None = None) -> float:
    """1-D Earth Mover distance between histograms `p`, `q` placed at `positions` (bin index
    when None), in the positions' unit."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    x = np.arange(len(p), dtype=np.float64) if positions is None else np.asarray(positions)
    return float(wasserstein_distance(x, x, p, q))


def earth_movers_rows(p: np.ndarray, q: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """`earth_movers` of each row of `p` (n, bins) to histogram `q` (bins,) at sorted
    `positions` (bins,): the integral of |CDF_p - CDF_q| (n,); nan for an empty row."""
    p = np.asarray(p, dtype=np.float64)
    p = p / np.where(p.sum(axis=1, keepdims=True) > 0, p.sum(axis=1, keepdims=True), np.nan)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    gaps = np.diff(np.asarray(positions, dtype=np.float64))
    return np.abs(np.cumsum(p - q, axis=1)[:, :-1]) @ gaps


def fusion_scores(d_af: float, d_bf: float, d_ab: float) -> dict[str, float]:
    """FusionGAN's Diff = d(A,F) + d(B,F) - d(A,B) and Ratio = (d(A,F) + d(B,F)) / d(A,B).

    For any mixture of A and B, EUD and 1-D EM give Diff = 0 and Ratio = 1 exactly; larger
    values measure how far F leaves the span of A and B (model error plus sampling noise).
    """
    return {"diff": d_af + d_bf - d_ab, "ratio": (d_af + d_bf) / d_ab if d_ab else float("nan")}
