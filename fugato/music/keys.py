"""Key finding for melodies without a written key (jazz solos, MIDI files).

Krumhansl-Schmuckler: the duration-weighted pitch-class histogram of the melody is correlated
(Pearson) with the 24 rotations of the Krumhansl-Kessler (1982) major and minor probe-tone
profiles; the best-correlated key wins. The same profiles as music21's
`analysis.discrete.KrumhanslKessler`, without building a music21 stream (one melody costs
microseconds, so a whole corpus is keyed in well under a second).
"""

from __future__ import annotations

import numpy as np

from fugato.music.melody import PITCH_CLASS_NAMES, Melody, key_tonic

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _key_templates() -> np.ndarray:
    """(24, 12) z-scored profiles: rows 0..11 major on tonic C..B, rows 12..23 minor."""
    rows = [np.roll(profile, tonic) for profile in (MAJOR_PROFILE, MINOR_PROFILE)
            for tonic in range(12)]
    t = np.array(rows)
    return (t - t.mean(axis=1, keepdims=True)) / t.std(axis=1, keepdims=True)


_TEMPLATES = _key_templates()


def histogram_key_correlations(histograms: np.ndarray) -> np.ndarray:
    """(..., 12) pitch-class histograms (or summed chroma) -> (..., 24) Pearson correlations
    with each key (major C..B, then minor C..B); all zeros for a flat histogram."""
    h = np.asarray(histograms, dtype=np.float64)
    std = h.std(axis=-1, keepdims=True)
    z = (h - h.mean(axis=-1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return np.where(std > 0, z @ _TEMPLATES.T / 12, 0.0)


def key_correlations(melody: Melody) -> np.ndarray:
    """(24,) correlations of the melody's duration-weighted pitch-class histogram with each key
    (`histogram_key_correlations`); all zeros for a melody without notes."""
    return histogram_key_correlations(np.bincount(
        melody.pitches.astype(np.int64) % 12, weights=melody.durations.astype(np.float64),
        minlength=12))


def estimate_key(melody: Melody) -> str | None:
    """The most likely key as "C major", "f# minor", ... (None for a melody without notes or
    with every pitch class equally weighted)."""
    r = key_correlations(melody)
    if not r.any():
        return None
    best = int(r.argmax())
    name = PITCH_CLASS_NAMES[best % 12]
    return f"{name} major" if best < 12 else f"{name.lower()} minor"


def with_key(melody: Melody) -> Melody:
    """The melody itself when it has a key, else a copy with the estimated key (marked in
    `metadata['key_estimated']`)."""
    if melody.key:
        return melody
    key = estimate_key(melody)
    if key is None:
        return melody
    return melody.replace(key=key, metadata={**melody.metadata, "key_estimated": True})


SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
"""Pitch classes above the tonic of the major and natural minor scales."""


def scale_pitch_classes(key: str) -> np.ndarray:
    """The 7 pitch classes of a key written like "G major" or "f# minor" (FugatoError for
    anything else)."""
    from fugato.errors import FugatoError

    parts = key.split()
    tonic = key_tonic(key)
    mode = parts[1].lower() if len(parts) > 1 else "major"
    if tonic is None or mode not in SCALES or len(parts) > 2:
        raise FugatoError(f"key {key!r}: write a tonic and major or minor, e.g. 'D minor'")
    return (np.asarray(SCALES[mode]) + tonic) % 12


def snap_to_key(pitches: np.ndarray, key: str, low: int = 0, high: int = 127) -> np.ndarray:
    """MIDI pitches moved to the nearest tone of `key`'s scale (a tie goes down; a move that
    would leave [low, high] goes the other way). Both scales have no gap wider than a whole
    tone, so no pitch moves more than a semitone."""
    pitches = np.asarray(pitches, dtype=np.int64)
    in_scale = np.isin(np.arange(12), scale_pitch_classes(key))
    down, up = pitches - 1, pitches + 1
    use_down = in_scale[down % 12] & (down >= low)
    moved = np.where(use_down, down, np.where(up <= high, up, down))
    return np.where(in_scale[pitches % 12], pitches, moved)
