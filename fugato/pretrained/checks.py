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
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from fugato.models.arvae.evaluate import SUMMARY as ARVAE_SUMMARY

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE
    from fugato.models.factorgan.separation import FactorGANSeparation
    from fugato.models.iml.melody import IMLMelody
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
    """The eval.json numbers a card shows ("a/b" for b inside a)."""


ARVAE_CHECK_BARS = 1000
"""Held-out bars an AR-VAE card is checked on (its full evaluation takes 4,000)."""


T = TypeVar("T")


def _task(run: Run, kind: type[T]) -> T:
    """`run.task`, checked to be a `kind`."""
    if not isinstance(run.task, kind):
        raise TypeError(f"{run}: not a {kind.__name__} run")
    return run.task


def _subset(count: int, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of at most `limit` of `count` items, drawn with `seed`."""
    return np.sort(np.random.default_rng(seed).choice(count, min(count, limit), replace=False))


def _arvae(run: Run) -> ARVAE:
    from fugato.models.arvae.task import ARVAE

    return _task(run, ARVAE)


def _arvae_held_out(run: Run) -> HeldOut:
    from fugato.models.arvae.evaluate import eval_bars

    task = _arvae(run)
    bars = eval_bars(task, np.random.default_rng(0))
    return {"bars": bars[_subset(len(bars), ARVAE_CHECK_BARS, 1)].astype(np.int16)}


def _arvae_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """Interpretability on held-out halves (fugato's variant, the number the cards recorded
    before the reference's way took the plain name) and reconstruction (token accuracy of
    argmax decoding) of the bars."""
    from fugato.metrics.disentanglement import interpretability_heldout
    from fugato.models.bar_codec import reconstruction_accuracy

    task = _arvae(run)
    bars = held["bars"].astype(np.int64)
    codes = task.encode(bars)
    attrs = np.asarray(task.attributes(bars), dtype=np.float64)
    recon = reconstruction_accuracy(task.decode(codes, temperature=0.0), bars,
                                    task.encoding.HOLD)
    score = interpretability_heldout(np.asarray(codes, dtype=np.float64), attrs, 0)["score"]
    return {"interpretability_heldout": float(score), "recon_accuracy": recon["all"]}


MELODY_LM_CHECK_WINDOWS = 1000
"""Held-out windows a melody LM's card is checked on."""


def _melody_lm(run: Run) -> MelodyLM:
    from fugato.models.melody_lm.task import MelodyLM

    return _task(run, MelodyLM)


def _melody_lm_held_out(run: Run) -> HeldOut:
    task = _melody_lm(run)
    windows = task.windows(task.corpus().split("test")).numpy()
    return {"windows": windows[_subset(len(windows), MELODY_LM_CHECK_WINDOWS, 0)
                               ].astype(np.int16)}


def _melody_lm_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """Perplexity per token of the held-out windows."""
    import torch

    from fugato.models.melody_lm.evaluate import perplexity

    windows = torch.as_tensor(held["windows"].astype(np.int64))
    return {"test_perplexity": perplexity(_melody_lm(run), windows)}


IML_CHECK_SEQUENCES = 100
"""Held-out bar sequences (runs of consecutive bars of a tune) an IML melody card is checked
on."""


def _iml_melody(run: Run) -> IMLMelody:
    from fugato.models.iml.melody import IMLMelody

    return _task(run, IMLMelody)


def _iml_melody_held_out(run: Run) -> HeldOut:
    sequences = _iml_melody(run).bar_sequences("test")
    chosen = [sequences[i] for i in _subset(len(sequences), IML_CHECK_SEQUENCES, 0)]
    return {"bars": np.concatenate(chosen).astype(np.int16),
            "sequence_lengths": np.array([len(s) for s in chosen], dtype=np.int64)}


def _iml_melody_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """Held-out log-likelihood per bar code under the HMM and the GMM (nats), and the
    autoencoder's reconstruction."""
    from fugato.models.bar_codec import reconstruction_accuracy

    task = _iml_melody(run)
    bars = held["bars"].astype(np.int64)
    sequences = np.split(bars, np.cumsum(held["sequence_lengths"])[:-1])
    loglik = task.bases.log_likelihood_per_code(task.encode_sequences(sequences))
    recon = reconstruction_accuracy(task.decode(task.encode(bars)), bars, task.encoding.HOLD)
    return {"hmm_loglik_per_code": loglik["hmm"], "gmm_loglik_per_code": loglik["gmm"],
            "recon_accuracy": recon["all"]}


FUSION_CHECK_WINDOWS = 500
"""Windows each checked FusionGAN generator writes."""
FUSION_CHECKED = {name: f"p_genre_a_{name}" for name in ("gen_a", "gen_b", "gen_f")}


def _fusion_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """The genre classifier's mean P(genre A) of windows written by G_A, G_B and G_F (seed 0,
    the config's temperature): the model's own draws, since its held-out jazz is not ours to
    ship (the Weimar Jazz Database's licence asks for attribution and share-alike)."""
    import torch

    from fugato.models.fusiongan.task import FusionGAN
    from fugato.nn.batched import batched

    task = _task(run, FusionGAN)
    classifier = task.nets["classifier"].eval()
    generator = torch.Generator(device=task.device).manual_seed(0)
    out = {}
    for net, key in FUSION_CHECKED.items():
        windows = task.generate(net, FUSION_CHECK_WINDOWS, generator,
                                task.config.sample.temperature).cpu()
        p = batched(lambda x: torch.sigmoid(classifier(x)[:, 0]), windows, device=task.device)
        out[key] = float(p.mean())
    return out


SEPARATION_CHECK = (2, 4.0)
"""Held-out chorales and seconds of each a separation card is checked on."""


def _separation(run: Run) -> FactorGANSeparation:
    from fugato.models.factorgan.separation import FactorGANSeparation

    return _task(run, FactorGANSeparation)


def _separation_held_out(run: Run) -> HeldOut:
    from fugato.audio.stft import SAMPLE_RATE

    chorales, seconds = SEPARATION_CHECK
    stems = [s[:, : int(seconds * SAMPLE_RATE)] for _, s in
             _separation(run).chorales("test")[:chorales]]
    return {"chorales": np.stack(stems).astype(np.float32)}  # (chorales, 2 stems, samples)


def _separation_measure(run: Run, held: HeldOut) -> dict[str, float]:
    """Mean SDR (dB, BSS Eval v3 over each whole excerpt: fugato's variant, the number the card
    recorded before the reference's BSS Eval v4 took the plain name) of vocals and
    accompaniment that `fugato separate`'s default setting recovers from the mixtures of the
    held-out stems."""
    from fugato.metrics.separation import bss_eval_sources

    task = _separation(run)
    sdr = [bss_eval_sources(stems.astype(np.float64),
                            np.stack(task.separate(stems.astype(np.float64).sum(0))))["sdr"]
           for stems in held["chorales"]]
    mean = np.mean(sdr, axis=0)
    return {"sdr_v3_mean_vocals": float(mean[0]), "sdr_v3_mean_accompaniment": float(mean[1])}


CHECKS = {
    # spreads over 3 seeds of the quick config (README): interpretability +- 0.01,
    # reconstruction +- 0.3%
    "arvae": Check(_arvae_held_out, _arvae_measure,
                   {"interpretability_heldout": 0.02, "recon_accuracy": 0.005}, ARVAE_SUMMARY),
    "melody-lm": Check(_melody_lm_held_out, _melody_lm_measure, {"test_perplexity": 0.02},
                       ("perplexity", "test_perplexity", "dd_em", "npd_em", "test_tunes")),
    # log-likelihoods per code differ by 1-2 nats between seeds (README), float16 moves them
    # by about 0.001
    "iml-melody": Check(_iml_melody_held_out, _iml_melody_measure,
                        {"hmm_loglik_per_code": 0.01, "gmm_loglik_per_code": 0.01,
                         "recon_accuracy": 0.005},
                        ("hmm_test_loglik_per_code", "gmm_test_loglik_per_code",
                         "hmm_iid_test_loglik_per_code", "recon_accuracy",
                         "recon_accuracy_onsets", "test_sequences")),
    "factorgan-separation": Check(_separation_held_out, _separation_measure,
                                  {"sdr_v3_mean_vocals": 0.2,
                                   "sdr_v3_mean_accompaniment": 0.2},
                                  tuple(f"table/{variant}/{paired}/sdr_v3_mean_{stem}"
                                        for variant in ("gan", "factorgan")
                                        for paired in (5, 10, 25)
                                        for stem in ("vocals", "accompaniment"))),
    "fusiongan": Check(lambda run: {}, _fusion_measure,
                       {key: 0.03 for key in FUSION_CHECKED.values()},
                       ("classifier_accuracy", "Fusion_balance", "MLE_balance",
                        "MLE 1:1_balance", "GAN_balance", "RL_balance", "Fusion_dd_em_ratio",
                        "Fusion_npd_em_ratio")),
}
