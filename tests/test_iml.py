"""IML two-stage end to end on a few hundred MNIST digits: train, fit the base, reload, sample,
evaluate; both base distributions and the invertible decoder."""

from pathlib import Path

import numpy as np
import pytest
import torch

from fugato.config import build_config
from fugato.paths import data_dir
from fugato.train import Trainer, load_run

MNIST = (data_dir(required=False) or Path("/nonexistent")) / "mnist"
pytestmark = pytest.mark.skipif(not MNIST.is_dir(),
                                reason="shared MNIST data absent (set FUGATO_DATA)")


def tiny(base: str, decoder: str) -> dict:
    return {
        "model": "iml",
        "data": {"limit": 400, "n_valid": 100, "n_test": 200},
        "net": {"latent": 3, "hidden": 32, "base": base, "decoder": decoder, "components": 3,
                "base_iter": 10},
        "train": {"max_steps": 30, "batch_size": 50, "log_every": 10, "eval_every": 30,
                  "eval_batches": 1, "checkpoint_every": 30, "device": "cpu"},
        "sample": {"eval_samples": 50},
    }


@pytest.mark.parametrize("base, decoder", [("gmm", "mlp"), ("hmm", "invertible")])
def test_train_fit_base_sample_and_evaluate(tmp_path: Path, base: str, decoder: str) -> None:
    from fugato.models import get_model

    config = build_config(tiny(base, decoder))
    Trainer(get_model("iml")(config), tmp_path / "run", quiet=True).fit()
    run = load_run(tmp_path / "run", device="cpu")
    assert run.task.base is not None  # fitted at the end of training, restored from the file
    digits = run.sample(6, seed=1)
    assert digits.shape == (6, 28, 28) and 0 <= float(digits.min()) <= float(digits.max()) <= 1
    torch.testing.assert_close(run.sample(6, seed=1), digits)
    results, report = run.task.evaluate(run)
    score = results["kde"]["IML"]["3"]
    assert isinstance(score, float) and score == score  # finite number, not NaN
    assert f"{base}_test_loglik_per_code" in results
    if decoder == "invertible":
        assert torch.isfinite(torch.tensor(results["test_loglik"]))
    assert "KDE score" in report
    if base == "gmm":  # the command line writes image samples as .npy and a PNG grid
        from fugato.cli import main

        out = tmp_path / "samples"
        assert main(["sample", str(tmp_path / "run"), "-n", "4", "--out", str(out),
                     "--quiet"]) == 0
        assert np.load(out / "samples.npy").shape == (4, 28, 28)
        assert (out / "samples.png").stat().st_size > 0
