"""The `iml-melody` evaluation: held-out log-likelihood of test bar-code sequences under the
HMM, the GMM and the HMM without its transitions; bar-to-bar and whole-piece melody features
(mgeval overlaps) of decoded draws of each base, and of the test excerpts decoded from their
own codes (the ceiling through this decoder), against 16-bar test excerpts; example MIDI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.errors import FugatoError
from fugato.metrics.mgeval import bar_transition_evaluation, relative_evaluation
from fugato.models.bar_codec import reconstruction_accuracy
from fugato.models.iml.sequences import BASES
from fugato.music.melody import Melody
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from fugato.models.iml.melody import IMLMelody
    from fugato.train.run import Run

Features = dict[str, dict[str, dict[str, float]]]
"""Per melody set ("hmm", "gmm", "autoencoder"): per feature, its mgeval numbers."""


def evaluate(task: IMLMelody, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; plots go to `run.path / "plots"`, example
    MIDI files to `run.path / "samples"`."""
    test = task.bar_sequences("test")
    codes = task.encode_sequences(test)
    loglik = {"test": task.bases.log_likelihood_per_code(codes),
              "train": task.bases.log_likelihood_per_code(
                  task.encode_sequences(task.bar_sequences("train")))}
    flat = np.concatenate(test)
    accuracy = reconstruction_accuracy(task.decode(np.concatenate(codes)), flat,
                                       task.encoding.HOLD)
    reference, sets = _melody_sets(task, test, seed)
    transitions = {k: bar_transition_evaluation(reference, v) for k, v in sets.items()}
    whole = {k: relative_evaluation(reference, v) for k, v in sets.items()}
    results: dict[str, Any] = {
        "model": task.name, "corpora": list(task.config.data.corpora), "step": run.step,
        **_loglik_numbers(loglik), "hmm_covariance": task.bases.hmm_covariance,
        "test_sequences": len(test), "test_codes": int(len(flat)),
        "recon_accuracy": accuracy["all"], "recon_accuracy_onsets": accuracy["onsets"],
        "bar_transition_overlap": {k: _mean_overlap(v) for k, v in transitions.items()},
        "mgeval_overlap": {k: _mean_overlap(v) for k, v in whole.items()},
        "bar_transitions": transitions, "mgeval": whole,
        "reference_melodies": len(reference),
        "samples_per_base": task.config.sample.eval_samples,
        "states": task.config.net.states, "components": task.config.net.components,
        "fit": task.fit_info,
    }
    _plot(run, reference[0], sets)
    _write_examples(run.path / "samples", sets)
    return Evaluation(results, _report(task, run, results, loglik, transitions, whole))


def _melody_sets(task: IMLMelody, test: list[np.ndarray], seed: int
                 ) -> tuple[list[Melody], dict[str, list[Melody]]]:
    """The reference (the first `sample.bars` bars of every test run that long, as written)
    and the sets compared with it: `sample.eval_samples` decoded draws of each base, and the
    reference as the autoencoder reconstructs it (the best any base could do through this
    decoder)."""
    bars = task.config.sample.bars
    long = [r[:bars] for r in test if len(r) >= bars]
    if len(long) < 2:
        raise FugatoError(f"fewer than 2 test tunes have {bars} consecutive bars")
    reference = [task.to_melody(r, f"test {i}") for i, r in enumerate(long)]
    recon = task.decode(task.encode(np.concatenate(long))).reshape(len(long), bars, -1)
    n = task.config.sample.eval_samples
    sets = {base: [task.to_melody(b, f"{base} {i}")
                   for i, b in enumerate(task.sample_bars(n, seed, base))] for base in BASES}
    sets["autoencoder"] = [task.to_melody(b, f"recon {i}") for i, b in enumerate(recon)]
    return reference, sets


def _loglik_numbers(loglik: dict[str, dict[str, float]]) -> dict[str, float]:
    """eval.json's log-likelihoods per code, from {"test"/"train": {model: nats}}."""
    return {f"{model}_{split}_loglik_per_code": loglik[split][model]
            for model, split in (("hmm", "test"), ("gmm", "test"), ("hmm", "train"),
                                 ("gmm", "train"), ("hmm_iid", "test"), ("hmm_iid", "train"))}


def _mean_overlap(features: dict[str, dict[str, float]]) -> float:
    return float(np.mean([v["overlap"] for v in features.values()]))


def _plot(run: Run, reference: Melody, sets: dict[str, list[Melody]]) -> None:
    from fugato.plot import plot_melody_rows, plot_training_curves

    plots = run.path / "plots"
    plot_training_curves(run.metrics(), plots / "training.png", ("loss", "accuracy"))
    plot_melody_rows({"test (as written)": reference, "HMM draw": sets["hmm"][0],
                      "GMM draws (i.i.d. bars)": sets["gmm"][0]}, plots / "melodies.png")


def _write_examples(out: Path, sets: dict[str, list[Melody]], n: int = 4) -> None:
    """The first `n` melodies of each base as `{base}-000.mid`, ..."""
    from fugato.music.io import write_midi

    for base in BASES:
        for i, melody in enumerate(sets[base][:n]):
            write_midi(melody, out / f"{base}-{i:03d}.mid")


def _loglik_rows(task: IMLMelody, loglik: dict[str, dict[str, float]]
                 ) -> list[dict[str, Any]]:
    net = task.config.net
    names = {"hmm": f"HMM ({net.states} states, {task.bases.hmm_covariance} covariance)",
             "gmm": f"GMM ({net.components} components, full covariance, bars i.i.d.)",
             "hmm_iid": "the HMM without transitions: its emissions as an i.i.d. mixture, "
                        "stationary-distribution weights"}
    return [{"base": name, "test log-lik per code": loglik["test"][model],
             "train log-lik per code": loglik["train"][model]} for model, name in names.items()]


def _transition_rows(transitions: Features, overlap: dict[str, float]) -> list[dict[str, Any]]:
    rows = [{"feature": f, "test mean": transitions["hmm"][f]["reference_mean"],
             **{f"{k} mean": transitions[k][f]["generated_mean"] for k in transitions},
             **{f"{k} overlap": transitions[k][f]["overlap"] for k in transitions}}
            for f in transitions["hmm"]]
    rows.append({"feature": "mean overlap", **{f"{k} overlap": overlap[k] for k in transitions}})
    return rows


def _report(task: IMLMelody, run: Run, results: dict[str, Any],
            loglik: dict[str, dict[str, float]], transitions: Features, whole: Features) -> str:
    cfg, net = task.config.sample, task.config.net
    mg_rows = [{"feature": f, **{k: whole[k][f]["overlap"] for k in whole}}
               for f in whole["hmm"]]
    lead = (f"Bar autoencoder (z = {net.z_dim}), then a {net.states}-state "
            f"{task.bases.hmm_covariance}-covariance HMM across the codes of consecutive bars "
            f"and, as the i.i.d. baseline, a {net.components}-component full-covariance GMM. "
            f"{results['test_sequences']} held-out runs of consecutive bars "
            f"({results['test_codes']} bars); reconstruction accuracy "
            f"{results['recon_accuracy']:.3f} of tokens, "
            f"{results['recon_accuracy_onsets']:.3f} of onsets.")
    return report_page(
        f"IML two-stage: melodies ({', '.join(task.config.data.corpora)}, step {run.step})",
        lead, [
            "## Held-out log-likelihood (nats per bar code)\n\nHMM minus the last row: what "
            "the transitions add to the same emissions; HMM minus GMM: the HMM against a "
            "refitted i.i.d. mixture.", markdown_table(_loglik_rows(task, loglik)),
            f"## Bar-to-bar transition features ({cfg.eval_samples} {cfg.bars}-bar melodies "
            f"per base against {results['reference_melodies']} {cfg.bars}-bar test "
            "excerpts)\n\nOverlap area of the test set's intra-set distances with the "
            "test-vs-generated distances (1 = indistinguishable). `autoencoder`: the test "
            "excerpts decoded from their own codes, the ceiling for any base through this "
            "decoder.", markdown_table(_transition_rows(transitions,
                                                        results["bar_transition_overlap"])),
            "## Whole-piece mgeval features (overlap)", markdown_table(mg_rows),
            "## Example melodies\n\n![melodies](plots/melodies.png)\n\nMIDI: `samples/`."])
