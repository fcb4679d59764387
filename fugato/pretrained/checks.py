"""The headline numbers of each shipped model, on a small held-out set that ships with it.

A `Check` knows, for one model id, which held-out items to keep (`held_out`, run by the
builder on the training run, whose data is at hand) and how to measure the headline numbers
on them (`measure`, run by the builder for the card and by the tests on the shipped model,
which need no data then). `tolerance` is how far a recomputation may fall from the card: the
spread of that number between seeds, or less; the builder also keeps float32 weights where
float16 moves a number further than that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fugato.models.arvae.evaluate import SUMMARY as ARVAE_SUMMARY

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE
    from fugato.models.melody_lm.task import MelodyLM
    from fugato.train.run import Run

HeldOut = dict[str, np.ndarray]


@dataclass(frozen=True)
class Check:
    held_out: Callable[[Run], HeldOut]
    measure: Callable[[Run, HeldOut], dict[str, float]]
    tolerance: dict[str, float]
    """Per headline number: the largest difference allowed from the card."""
    card_keys: tuple[str, ...]
    """The eval.json numbers a card shows."""


ARVAE_CHECK_BARS = 1000
"""Held-out bars an AR-VAE card is checked on (its full evaluation takes 4,000)."""


def _arvae(run: Run) -> ARVAE:
    from fugato.models.arvae.task import ARVAE

    if not isinstance(run.task, ARVAE):
        raise TypeError(f"{run}: not an AR-VAE run")
    return run.task


def _arvae_held_out(run: Run) -> HeldOut:
    from fugato.models.arvae.evaluate import eval_bars

    task = _arvae(run)
    bars = eval_bars(task, np.random.default_rng(0))
    keep = np.sort(np.random.default_rng(1).choice(len(bars), min(len(bars), ARVAE_CHECK_BARS),
                                                   replace=False))
    return {"bars": bars[keep].astype(np.int16)}


def _arvae_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """Interpretability and reconstruction (token accuracy of argmax decoding) of the bars."""
    from fugato.metrics.disentanglement import interpretability
    from fugato.models.bar_codec import reconstruction_accuracy

    task = _arvae(run)
    bars = held["bars"].astype(np.int64)
    codes = task.encode(bars)
    attrs = np.asarray(task.attributes(bars), dtype=np.float64)
    recon = reconstruction_accuracy(task.decode(codes, temperature=0.0), bars,
                                    task.encoding.HOLD)
    score = interpretability(np.asarray(codes, dtype=np.float64), attrs, 0)["score"]
    return {"interpretability": float(score), "recon_accuracy": recon["all"]}


MELODY_LM_CHECK_WINDOWS = 1000
"""Held-out windows a melody LM's card is checked on."""


def _melody_lm(run: Run) -> MelodyLM:
    from fugato.models.melody_lm.task import MelodyLM

    if not isinstance(run.task, MelodyLM):
        raise TypeError(f"{run}: not a melody LM run")
    return run.task


def _melody_lm_held_out(run: Run) -> HeldOut:
    task = _melody_lm(run)
    windows = task.windows(task.corpus().split("test")).numpy()
    keep = np.sort(np.random.default_rng(0).choice(
        len(windows), min(len(windows), MELODY_LM_CHECK_WINDOWS), replace=False))
    return {"windows": windows[keep].astype(np.int16)}


def _melody_lm_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """Perplexity per token of the held-out windows."""
    import torch

    from fugato.models.melody_lm.evaluate import perplexity

    windows = torch.as_tensor(held["windows"].astype(np.int64))
    return {"test_perplexity": perplexity(_melody_lm(run), windows)}


CHECKS = {
    # spreads over 3 seeds of the quick config (README): interpretability +- 0.01,
    # reconstruction +- 0.3%
    "arvae": Check(_arvae_held_out, _arvae_measure,
                   {"interpretability": 0.02, "recon_accuracy": 0.005}, ARVAE_SUMMARY),
    "melody-lm": Check(_melody_lm_held_out, _melody_lm_measure, {"test_perplexity": 0.02},
                       ("perplexity", "test_perplexity", "dd_em", "npd_em", "test_tunes")),
}
