"""Metrics as their own package: no metric is computed inside a model module."""

from fugato.metrics.melody import (
    duration_bins,
    duration_distribution,
    earth_movers,
    euclidean,
    pitch_class_distribution,
)

__all__ = [
    "duration_bins",
    "duration_distribution",
    "earth_movers",
    "euclidean",
    "pitch_class_distribution",
]
