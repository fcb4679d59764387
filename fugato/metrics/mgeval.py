"""Relative evaluation of melody sets in the style of mgeval (Yang & Lerch, 2018).

Each melody is described by per-piece features (pitch count, pitch-class histogram and
transitions, pitch range, mean interval, note count, mean inter-onset interval, note-length
histogram and transitions). For one feature, the *intra-set* distances of a set (every pair of
its pieces) are compared with the *inter-set* distances (every piece of one set against every
piece of the other): a generated set that resembles the reference has an inter-set distribution
that overlaps the reference's intra-set distribution. Distributions are smoothed with a Gaussian
KDE; we report their overlap area (1 = identical) and KL(intra || inter) (0 = identical).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.spatial.distance import cdist, pdist
from scipy.stats import gaussian_kde

from fugato.music.melody import TPQ, Melody

NOTE_LENGTH_CLASSES = np.array([4, 2, 1, 1 / 2, 1 / 4, 3, 3 / 2, 3 / 4, 3 / 8, 4 / 3, 2 / 3, 1 / 3])
"""mgeval's 12 note-length classes in quarter notes: whole, half, quarter, eighth, sixteenth,
their dotted forms, and half / quarter / eighth triplets. A duration takes the nearest class."""


def _length_classes(melody: Melody) -> np.ndarray:
    quarters = melody.durations / TPQ
    return np.abs(quarters[:, None] - NOTE_LENGTH_CLASSES[None, :]).argmin(axis=1)


def _transitions(codes: np.ndarray, size: int) -> np.ndarray:
    """Normalised (size, size) matrix of successive-code counts, flattened."""
    matrix = np.zeros((size, size))
    if len(codes) > 1:
        np.add.at(matrix, (codes[:-1], codes[1:]), 1.0)
    return (matrix / max(matrix.sum(), 1.0)).ravel()


def _histogram(codes: np.ndarray, size: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=size).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


FEATURES: dict[str, Callable[[Melody], np.ndarray]] = {
    "pitch_count": lambda m: np.array([len(np.unique(m.pitches))], dtype=np.float64),
    "pitch_class_histogram": lambda m: _histogram(m.pitches.astype(np.int64) % 12, 12),
    "pitch_class_transitions": lambda m: _transitions(m.pitches.astype(np.int64) % 12, 12),
    "pitch_range": lambda m: np.array([float(np.ptp(m.pitches)) if len(m) else 0.0]),
    "mean_interval": lambda m: np.array(
        [float(np.abs(np.diff(m.pitches.astype(np.int64))).mean()) if len(m) > 1 else 0.0]),
    "note_count": lambda m: np.array([float(len(m))]),
    "mean_ioi": lambda m: np.array(
        [float(np.diff(m.onsets).mean() / TPQ) if len(m) > 1 else 0.0]),
    "note_length_histogram": lambda m: _histogram(_length_classes(m), len(NOTE_LENGTH_CLASSES)),
    "note_length_transitions": lambda m: _transitions(_length_classes(m),
                                                      len(NOTE_LENGTH_CLASSES)),
}
"""Feature name -> function of one melody giving a 1-D vector."""


def piece_features(melodies: Sequence[Melody], name: str) -> np.ndarray:
    """(n_pieces, feature_dim) values of feature `name`."""
    return np.stack([FEATURES[name](m) for m in melodies])


def intra_set_distances(features: np.ndarray) -> np.ndarray:
    """Euclidean distances between every pair of pieces of one set: (n (n - 1) / 2,)."""
    return pdist(features)


def inter_set_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between every piece of `a` and every piece of `b`: (n_a n_b,)."""
    return cdist(a, b).ravel()


def _kde(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A Gaussian KDE that survives constant samples (a narrow bump at the value)."""
    if len(values) < 2 or np.ptp(values) == 0:
        centre = float(values.mean()) if len(values) else 0.0
        width = 1e-3 * max(abs(centre), 1.0)
        return lambda x: np.exp(-0.5 * ((x - centre) / width) ** 2) / (width * np.sqrt(2 * np.pi))
    return gaussian_kde(values)


def overlap_and_kl(p_values: np.ndarray, q_values: np.ndarray, points: int = 1000
                   ) -> tuple[float, float]:
    """Overlap area of the KDEs of two distance samples (0..1) and KL(p || q) in nats."""
    p_kde, q_kde = _kde(p_values), _kde(q_values)
    low = min(p_values.min(), q_values.min())
    high = max(p_values.max(), q_values.max())
    pad = 0.1 * max(high - low, 1e-3)
    x = np.linspace(low - pad, high + pad, points)
    dx = x[1] - x[0]
    p, q = p_kde(x), q_kde(x)
    overlap = float(np.minimum(p, q).sum() * dx)
    p_mass, q_mass = p * dx + 1e-12, q * dx + 1e-12
    p_mass, q_mass = p_mass / p_mass.sum(), q_mass / q_mass.sum()
    kl = float(np.sum(p_mass * np.log(p_mass / q_mass)))
    return min(overlap, 1.0), kl


def relative_evaluation(reference: Sequence[Melody], generated: Sequence[Melody],
                        features: Sequence[str] = tuple(FEATURES)) -> dict[str, dict[str, float]]:
    """Per feature: overlap area and KL between the reference's intra-set distances and the
    reference-vs-generated inter-set distances, plus the generated set's own mean intra-set
    distance (diversity) beside the reference's."""
    results = {}
    for name in features:
        ref, gen = piece_features(reference, name), piece_features(generated, name)
        intra_ref = intra_set_distances(ref)
        inter = inter_set_distances(ref, gen)
        overlap, kl = overlap_and_kl(intra_ref, inter)
        results[name] = {
            "overlap": overlap,
            "kl": kl,
            "intra_reference_mean": float(intra_ref.mean()) if len(intra_ref) else 0.0,
            "intra_generated_mean": float(intra_set_distances(gen).mean()) if len(gen) > 1
            else 0.0,
            "inter_mean": float(inter.mean()),
        }
    return results
