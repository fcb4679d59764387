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
from typing import cast

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


def _compare_sets(ref: np.ndarray, gen: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(the reference's intra-set distances, the reference-vs-generated inter-set distances,
    {"overlap", "kl"} between the two) of per-piece features (n, d) and (m, d)."""
    intra_ref = intra_set_distances(ref)
    inter = inter_set_distances(ref, gen)
    overlap, kl = overlap_and_kl(intra_ref, inter)
    return intra_ref, inter, {"overlap": overlap, "kl": kl}


def relative_evaluation(reference: Sequence[Melody], generated: Sequence[Melody],
                        features: Sequence[str] = tuple(FEATURES)) -> dict[str, dict[str, float]]:
    """Per feature: overlap area and KL between the reference's intra-set distances and the
    reference-vs-generated inter-set distances, plus the generated set's own mean intra-set
    distance (diversity) beside the reference's."""
    results = {}
    for name in features:
        ref, gen = piece_features(reference, name), piece_features(generated, name)
        intra_ref, inter, compared = _compare_sets(ref, gen)
        results[name] = {
            **compared,
            "intra_reference_mean": float(intra_ref.mean()) if len(intra_ref) else 0.0,
            "intra_generated_mean": float(intra_set_distances(gen).mean()) if len(gen) > 1
            else 0.0,
            "inter_mean": float(inter.mean()),
        }
    return results


# -- bar-to-bar transition features ---------------------------------------------------------
# The features above describe a piece as a whole (or note to note); these describe how each
# bar follows the one before it, so they separate a coherent multi-bar melody from bars drawn
# independently (e.g. an HMM across bar codes against i.i.d. mixture draws of bars).

BAR_GRID = TPQ // 12
"""Onset positions within a bar are compared on a grid of 1/12 quarter note (sixteenths and
triplets both fit)."""


def _bar_table(melody: Melody) -> tuple[np.ndarray, np.ndarray, int]:
    """(bar index (n,) of every note, onset slot within its bar (n,), number of bars).

    Bars follow `melody.bar_starts()` (so the time signature sets their length); notes
    before the first bar line (a pickup) join the first bar."""
    starts = melody.bar_starts()
    if len(starts) == 0:
        return np.zeros(len(melody), dtype=np.int64), np.zeros(len(melody), dtype=np.int64), 1
    bar = np.clip(np.searchsorted(starts, melody.onsets, side="right") - 1, 0, None)
    slot = np.clip(melody.onsets - starts[bar], 0, None) // BAR_GRID
    return bar, slot.astype(np.int64), len(starts)


def _consecutive(values: np.ndarray, valid: np.ndarray, distance: Callable[
        [np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Mean of distance(values[i], values[i + 1]) over consecutive bars both `valid`: (1,)."""
    both = valid[:-1] & valid[1:]
    if not both.any():
        return np.zeros(1)
    return np.array([float(distance(values[:-1][both], values[1:][both]).mean())])


def _bar_pitch_shift(m: Melody) -> np.ndarray:
    """Mean |change of a bar's mean pitch| from bar to bar, in semitones."""
    bar, _, n = _bar_table(m)
    counts = np.bincount(bar, minlength=n)
    means: np.ndarray = np.bincount(bar, weights=m.pitches.astype(np.float64), minlength=n)
    means = means / np.maximum(counts, 1)
    return _consecutive(means, counts > 0, lambda a, b: np.abs(a - b))


def _bar_pitch_class_change(m: Melody) -> np.ndarray:
    """Mean L1 distance (0..2) between successive bars' pitch-class histograms."""
    bar, _, n = _bar_table(m)
    hist = np.zeros((n, 12))
    np.add.at(hist, (bar, m.pitches.astype(np.int64) % 12), 1.0)
    counts = hist.sum(1)
    hist = hist / np.maximum(counts, 1)[:, None]
    return _consecutive(hist, counts > 0, lambda a, b: np.abs(a - b).sum(-1))


def _bar_rhythm_change(m: Melody) -> np.ndarray:
    """Mean Jaccard distance (0..1) between successive bars' sets of onset positions."""
    bar, slot, n = _bar_table(m)
    width = int(max(slot.max(initial=0) + 1, 1))
    grid = np.zeros((n, width), dtype=bool)
    grid[bar, slot] = True

    def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        union = (a | b).sum(-1)
        return 1.0 - (a & b).sum(-1) / np.maximum(union, 1)

    return _consecutive(grid, cast(np.ndarray, grid.any(1)), jaccard)


def _bar_density_change(m: Melody) -> np.ndarray:
    """Mean |change of the number of notes| from bar to bar."""
    bar, _, n = _bar_table(m)
    counts = np.bincount(bar, minlength=n).astype(np.float64)
    return _consecutive(counts, np.ones(n, dtype=bool), lambda a, b: np.abs(a - b))


def _bar_line_interval(m: Melody) -> np.ndarray:
    """Mean |interval| in semitones from the last note of a bar to the first of the next."""
    bar, _, n = _bar_table(m)
    if len(m) < 2:
        return np.zeros(1)
    crossing = np.flatnonzero(np.diff(bar) == 1)  # note i ends a bar, note i + 1 starts the next
    if len(crossing) == 0:
        return np.zeros(1)
    p = m.pitches.astype(np.float64)
    return np.array([float(np.abs(p[crossing + 1] - p[crossing]).mean())])


BAR_TRANSITION_FEATURES: dict[str, Callable[[Melody], np.ndarray]] = {
    "bar_pitch_shift": _bar_pitch_shift,
    "bar_pitch_class_change": _bar_pitch_class_change,
    "bar_rhythm_change": _bar_rhythm_change,
    "bar_density_change": _bar_density_change,
    "bar_line_interval": _bar_line_interval,
}
"""Bar-to-bar transition features: name -> function of one melody giving a (1,) vector."""


def bar_transition_evaluation(reference: Sequence[Melody], generated: Sequence[Melody],
                              features: Sequence[str] = tuple(BAR_TRANSITION_FEATURES)
                              ) -> dict[str, dict[str, float]]:
    """`relative_evaluation` on the bar-to-bar transition features: per feature, the overlap
    area and KL between the reference's intra-set distances and the reference-vs-generated
    inter-set distances, plus the mean feature value of each set."""
    results = {}
    for name in features:
        fn = BAR_TRANSITION_FEATURES[name]
        ref = np.stack([fn(m) for m in reference])
        gen = np.stack([fn(m) for m in generated])
        results[name] = {
            **_compare_sets(ref, gen)[2],
            "reference_mean": float(ref.mean()),
            "generated_mean": float(gen.mean()),
        }
    return results
