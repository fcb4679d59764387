"""Metrics as their own package: no metric is computed inside a model module."""

from fugato.metrics.melody import (
    duration_bins,
    duration_distribution,
    earth_movers,
    euclidean,
    fusion_scores,
    pitch_class_distribution,
)
from fugato.metrics.mgeval import relative_evaluation

__all__ = [
    "duration_bins",
    "duration_distribution",
    "earth_movers",
    "euclidean",
    "fusion_scores",
    "pitch_class_distribution",
    "relative_evaluation",
]
