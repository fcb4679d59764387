"""Metrics as their own package: no metric is computed inside a model module."""

from fugato.metrics.kde import SIGMA as KDE_SIGMA
from fugato.metrics.kde import kde_log_density, kde_score
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
    "KDE_SIGMA",
    "duration_bins",
    "duration_distribution",
    "earth_movers",
    "euclidean",
    "fusion_scores",
    "kde_log_density",
    "kde_score",
    "pitch_class_distribution",
    "relative_evaluation",
]
