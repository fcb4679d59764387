"""Token encodings of melodies: `MeasureEncoding` (AR-VAE bars), `EventEncoding` (FusionGAN).

`encoding_from_dict(enc.to_dict())` rebuilds an encoding exactly (checkpoints embed the dict).
"""

from __future__ import annotations

from typing import Any

from fugato.music.encodings.base import Encoding
from fugato.music.encodings.event import EventEncoding, tonic_shift
from fugato.music.encodings.measure import (
    BAR_TICKS,
    BEAT_TICKS,
    FOUR_FOUR_SIGNATURES,
    GRID_TICKS,
    SKIP_REASONS,
    STEPS_PER_BAR,
    MeasureEncoding,
)

ENCODINGS: dict[str, type[Encoding]] = {
    MeasureEncoding.kind: MeasureEncoding,
    EventEncoding.kind: EventEncoding,
}
"""Registry: `to_dict()["type"]` -> class."""


def encoding_from_dict(d: dict[str, Any]) -> Encoding:
    """Rebuild an encoding from its `to_dict()`."""
    kind = d.get("type")
    if kind not in ENCODINGS:
        raise ValueError(f"unknown encoding type {kind!r}; known: {', '.join(sorted(ENCODINGS))}")
    return ENCODINGS[kind].from_dict(d)


__all__ = [
    "BAR_TICKS", "BEAT_TICKS", "ENCODINGS", "FOUR_FOUR_SIGNATURES", "GRID_TICKS", "SKIP_REASONS",
    "STEPS_PER_BAR", "Encoding", "EventEncoding", "MeasureEncoding", "encoding_from_dict",
    "tonic_shift",
]
