"""Saved states of the base distributions as fugato 0.1.0 wrote them, read today."""

from __future__ import annotations

from typing import Any


def upgrade_saved_state(saved: dict[str, Any], min_var: float = 1e-3) -> dict[str, Any]:
    """A base distribution's saved state in today's `saved_state()` form; one already in it
    comes back unchanged.

    fugato 0.1.0 (before the redesign of issue 15) saved a `GaussianMixture` as `state()`:
    weights, means, full covariances and reg_covar, with no covariance type; and a
    `GaussianHMM` as its `state_dict()` turned into lists (startprob, transmat, means, and
    `variances` (diag) or `covars` (full)), its variance floor `min_var` kept beside it by
    the task (or the default)."""
    if "covariance_type" in saved:
        return saved
    if "weights" in saved:
        return {"covariance_type": "full", **saved}
    full = "covars" in saved
    return {"covariance_type": "full" if full else "diag", "min_var": min_var,
            "startprob": saved["startprob"], "transmat": saved["transmat"],
            "means": saved["means"], "covariances": saved["covars" if full else "variances"]}
