"""Metrics as their own package: no metric is computed inside a model module."""

from fugato.metrics.dance import (
    beat_align_score,
    beat_alignment,
    beat_hit_rate,
    chroma_key_shift,
    diversity,
    frechet_joint_distance,
    joint_speed,
    kinematic_beats,
    notes_accuracy,
    transpose_chroma,
)
from fugato.metrics.dance_field import (
    beat_align_bailando,
    beat_align_fact,
    beat_coverage_hit,
    beat_f1,
    feature_diversity,
    feature_fid,
    geometric_features,
    kinetic_features,
    physical_foot_contact,
)
from fugato.metrics.kde import SIGMA as KDE_SIGMA
from fugato.metrics.kde import kde_log_density, kde_score
from fugato.metrics.melody import (
    duration_bins,
    duration_distribution,
    duration_distributions,
    earth_movers,
    earth_movers_rows,
    euclidean,
    fusion_scores,
    pitch_class_distribution,
    pitch_class_distributions,
)
from fugato.metrics.mgeval import relative_evaluation

__all__ = [
    "KDE_SIGMA",
    "beat_align_bailando",
    "beat_align_fact",
    "beat_align_score",
    "beat_alignment",
    "beat_coverage_hit",
    "beat_f1",
    "beat_hit_rate",
    "chroma_key_shift",
    "diversity",
    "duration_bins",
    "duration_distribution",
    "duration_distributions",
    "earth_movers",
    "earth_movers_rows",
    "euclidean",
    "feature_diversity",
    "feature_fid",
    "frechet_joint_distance",
    "fusion_scores",
    "geometric_features",
    "joint_speed",
    "kde_log_density",
    "kde_score",
    "kinematic_beats",
    "kinetic_features",
    "notes_accuracy",
    "physical_foot_contact",
    "pitch_class_distribution",
    "pitch_class_distributions",
    "relative_evaluation",
    "transpose_chroma",
]
