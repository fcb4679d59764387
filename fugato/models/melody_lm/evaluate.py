"""The melody LM's evaluation: validation and test perplexity, and the note-duration (DD) and
pitch-class (NPD) histograms of its samples against the held-out test tunes under the Earth
Mover and Euclidean distances, with the train-vs-test distances as a floor."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fugato.metrics import (
    duration_bins,
    duration_distribution,
    earth_movers,
    euclidean,
    pitch_class_distribution,
)
from fugato.music.melody import PITCH_CLASS_NAMES, Melody
from fugato.nn.batched import batched
from fugato.report import Evaluation, markdown_table, report_page
from fugato.train.run import Run

if TYPE_CHECKING:
    from fugato.models.melody_lm.task import MelodyLM

PERPLEXITY_BATCH = 256
"""Windows per chunk of `perplexity`: the recorded evaluations summed the loss over chunks of
256, and other chunks would round the per-chunk float32 means differently."""


def perplexity(task: MelodyLM, windows: torch.Tensor, batch_size: int = PERPLEXITY_BATCH
               ) -> float:
    """exp(mean negative log-likelihood per token) of `task`'s LM over `windows` (N, T)."""
    def summed_nll(chunk: torch.Tensor) -> torch.Tensor:
        loss, _ = task.nll(task.nets, (chunk,), 0)
        return (loss.double() * chunk.numel()).reshape(1)

    total = 0.0
    # chunk by chunk, in order: sum() of floats is compensated from Python 3.12 on
    for chunk_total in batched(summed_nll, windows, device=task.device,
                               batch_size=batch_size).tolist():
        total += chunk_total
    return math.exp(total / max(windows.numel(), 1))


def evaluate(task: MelodyLM, run: Run, seed: int = 0) -> Evaluation:
    """Perplexity and the sample distributions of `run` against the test set."""
    corpus = task.corpus()
    test, train = corpus.split("test"), corpus.split("train")
    samples = task.sample(task.config.sample.eval_samples, seed=seed)
    hist = histograms(task, test, train, samples)
    results = {
        "model": task.name, "corpus": corpus.name,
        "perplexity": perplexity(task, task.windows(corpus.split("valid"))),
        "test_perplexity": perplexity(task, task.windows(test)),
        **scores(hist),
        "samples": len(samples), "sample_notes": int(sum(len(m) for m in samples)),
        "test_tunes": len(test),
    }
    draw_figures(run, hist)
    return Evaluation(results, report(task, corpus.name, results))


def histograms(task: MelodyLM, test: list[Melody], train: list[Melody], samples: list[Melody]
               ) -> dict[str, dict[str, np.ndarray]]:
    """{"dd" / "npd": {"samples" / "test set" / "train set": histogram}}; the test and train
    tunes are keyed as for training (the samples are already)."""
    keyed = {"samples": samples, "test set": [task.encoding.prepare(m) for m in test],
             "train set": [task.encoding.prepare(m) for m in train]}
    return {"dd": {k: duration_distribution(m) for k, m in keyed.items()},
            "npd": {k: pitch_class_distribution(m) for k, m in keyed.items()}}


def scores(hist: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The samples' EM and EUD distances to the test set, and the train-vs-test EM floor."""
    dd, npd, bins, classes = hist["dd"], hist["npd"], duration_bins(), np.arange(12)
    return {
        "dd_em": earth_movers(dd["samples"], dd["test set"], bins),
        "npd_em": earth_movers(npd["samples"], npd["test set"], classes),
        "dd_eud": euclidean(dd["samples"], dd["test set"]),
        "npd_eud": euclidean(npd["samples"], npd["test set"]),
        "reference_train_vs_test": {
            "dd_em": earth_movers(dd["train set"], dd["test set"], bins),
            "npd_em": earth_movers(npd["train set"], npd["test set"], classes),
        },
    }


def draw_figures(run: Run, hist: dict[str, dict[str, np.ndarray]]) -> None:
    """The training curves and the DD and NPD histograms of the samples and the test set."""
    from fugato.plot import plot_distributions, plot_training_curves

    plots = run.path / "plots"
    shown = ("samples", "test set")
    plot_training_curves(run.metrics(), plots / "training.png")
    plot_distributions({k: hist["dd"][k] for k in shown}, duration_bins(), None,
                       plots / "durations.png", "Note durations (DD)", "quarter notes",
                       max_bins=24)
    plot_distributions({k: hist["npd"][k] for k in shown}, np.arange(12), PITCH_CLASS_NAMES,
                       plots / "pitch_classes.png", "Pitch classes (NPD)", "pitch class")


def report(task: MelodyLM, corpus: str, results: dict[str, Any]) -> str:
    """report.md: the numbers' table, the two histograms, the training curves."""
    floor = results["reference_train_vs_test"]
    rows = [
        {"what": "validation perplexity", "value": results["perplexity"]},
        {"what": "test perplexity", "value": results["test_perplexity"]},
        {"what": "DD Earth Mover (samples vs test), quarters", "value": results["dd_em"]},
        {"what": "NPD Earth Mover (samples vs test), semitone bins", "value": results["npd_em"]},
        {"what": "DD Earth Mover (train vs test, a floor)", "value": floor["dd_em"]},
        {"what": "NPD Earth Mover (train vs test, a floor)", "value": floor["npd_em"]},
    ]
    lead = (f"{results['samples']} sampled melodies of {task.config.sample.quarters} quarters "
            f"({results['sample_notes']} notes) against {results['test_tunes']} held-out test "
            "tunes. Keys are normalised the same way as for training.")
    return report_page(
        f"Melody LM: {corpus}", lead,
        [markdown_table(rows), "## Note durations\n\n![durations](plots/durations.png)",
         "## Pitch classes\n\n![pitch classes](plots/pitch_classes.png)"])
