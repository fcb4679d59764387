"""The paper's Fig. 1 on 2-D toy data (`fugato iml toy`): a learned base beats N(0, I)."""

import json
from pathlib import Path

import pytest

from fugato.cli import main


def test_toy_writes_fig_1_and_the_learned_base_beats_the_fixed_one(tmp_path: Path) -> None:
    out = tmp_path / "toy"
    assert main(["iml", "toy", "--out", str(out), "--quiet", "--threads", "1"]) == 0
    assert (out / "fig1_toy.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "toy.json").read_text())
    fixed, learned = results["a"], results["b"]
    # (a) reached the maximum of Eq. 7: an affine map of N(0, I) is at best the Gaussian fit
    assert fixed["test_loglik"] == pytest.approx(results["gaussian_fit_test_loglik"], abs=1e-3)
    # (b) the same map with a GMM fitted on f^-1(x): held-out codes and data more likely...
    assert learned["code_loglik"] > fixed["code_loglik"] + 0.5
    assert learned["test_loglik"] - fixed["test_loglik"] == pytest.approx(
        learned["code_loglik"] - fixed["code_loglik"])  # same map: the same log |det W|
    # ... and its samples on the two modes, not between them
    assert learned["off_mode"] < 0.05 < 0.3 < fixed["off_mode"]
    assert min(learned["modes"]) > 0.4
    assert learned["sample_to_data"] < fixed["sample_to_data"] / 5
    assert learned["data_to_sample"] < fixed["data_to_sample"]
    assert set(results["c"]) >= {"test_loglik", "modes", "off_mode"}  # the GAN's, reported
