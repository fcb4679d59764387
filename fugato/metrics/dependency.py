"""How well a generator of two-part samples reproduces the dependency between the parts'
classes (FactorGAN's paired-digit metric).

With P(i, j) the joint frequency of (top class i, bottom class j) and P_top, P_bottom its
marginals, c(i, j) = P(i, j) / (P_top(i) P_bottom(j) + eps) is 1 where the classes are
independent; the metric is the mean over all class pairs of |c_real - c_generated| (0: the
dependency is reproduced).
"""

from __future__ import annotations

import torch

EPS = 0.001
"""Added to the product of the marginals (the reference code's value): keeps c finite where a
class never occurs."""


def class_pair_frequencies(top: torch.Tensor, bottom: torch.Tensor,
                           classes: int = 10) -> torch.Tensor:
    """(classes, classes) float64 joint frequencies (summing to 1) of class labels top (N,) and
    bottom (N,) (int64)."""
    counts = torch.bincount(top.long() * classes + bottom.long(), minlength=classes * classes)
    return (counts.double() / counts.sum()).reshape(classes, classes)


def dependency_ratios(joint: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """c(i, j) = P(i, j) / (P_top(i) P_bottom(j) + eps) of a joint frequency table (C, C)."""
    return joint / (joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True) + eps)


def dependency_error(real_joint: torch.Tensor, generated_joint: torch.Tensor,
                     eps: float = EPS) -> float:
    """Mean over class pairs of |c_real - c_generated| for two joint frequency tables (C, C)."""
    diff = dependency_ratios(real_joint.double(), eps) - dependency_ratios(
        generated_joint.double(), eps)
    return float(diff.abs().mean())
