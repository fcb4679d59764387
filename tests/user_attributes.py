"""A user's own AR-VAE attribute, as the README writes it from scratch: `data.attributes =
["user_attributes:syncopation", ...]` names it (this folder is on the tests' import path)."""

import numpy as np

from fugato.music.encodings import MeasureEncoding

OFF_BEAT = np.arange(24) % 6 != 0
"""Ticks of a 4/4 bar (six per quarter) that are not on a beat."""


def syncopation(bars: np.ndarray, encoding: MeasureEncoding) -> np.ndarray:
    """Share of a bar's onsets that fall off the beat: (n, 24) tokens -> (n,), 0 without notes."""
    onsets = bars >= encoding.first_pitch_token
    return (onsets & OFF_BEAT).sum(axis=1) / np.maximum(onsets.sum(axis=1), 1)
