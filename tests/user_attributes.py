"""A user's own AR-VAE attributes, as the README writes them from scratch: `data.attributes =
["user_attributes:syncopation", ...]` names one (this folder is on the tests' import path)."""

import numpy as np

from fugato.music.encodings import MeasureEncoding

OFF_BEAT = np.arange(24) % 6 != 0
"""Ticks of a 4/4 bar (six per quarter) that are not on a beat."""


def syncopation(bars: np.ndarray, encoding: MeasureEncoding) -> np.ndarray:
    """Share of a bar's onsets that fall off the beat: (n, 24) tokens -> (n,), 0 without notes."""
    onsets = bars >= encoding.first_pitch_token
    return (onsets & OFF_BEAT).sum(axis=1) / np.maximum(onsets.sum(axis=1), 1)


def top_heaviness(images: np.ndarray) -> np.ndarray:
    """Share of an image's ink in its top half: (n, h, w) pixels in [0, 1] -> (n,), 0.5 for
    an empty image (an image attribute of one's own: 7s and 9s are top-heavy, 6s are not)."""
    top = images[:, : images.shape[1] // 2].sum(axis=(1, 2))
    ink = images.sum(axis=(1, 2))
    return np.where(ink > 0, top / np.maximum(ink, 1e-9), 0.5)
