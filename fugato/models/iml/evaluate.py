"""The MNIST IML evaluation (the paper's Fig. 3): the held-out kernel density score of every
(method, K) of the sweep (or of the run alone), the held-out log-likelihood of IML's codes
under its base, the exact log-likelihood of the invertible IML and its base term, the
KDE-against-K plot (Fig. 3 left), the exact-and-base-log-likelihood-against-K plot (Fig. 3
right) and grids of samples over their nearest training digits; and the KDE table over
seeds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fugato.metrics import kde_score
from fugato.models.iml.task import IML, INVERTIBLE, METHODS, NEIGHBOURS
from fugato.report import Evaluation, markdown_table, mean_sd, report_page

if TYPE_CHECKING:
    from fugato.train.run import Run

DIGITS = 4
"""Significant digits of a "mean ± sd" cell over seeds: one decimal of a KDE score in the
hundreds of nats, as the table had."""


@dataclass
class Scores:
    """What the evaluation measures of each variant of the sweep."""

    kde: dict[str, dict[str, float]] = field(default_factory=dict)
    """Model name -> K -> held-out KDE score on the paper's scale (`kde_score`: nats per test
    digit, the log of the sum of the kernels)."""
    kde_normalised: dict[str, dict[str, float]] = field(default_factory=dict)
    """Model name -> K -> the same score of the normalised density (the log of the mean of the
    kernels: the paper's less log S, S samples per model)."""
    base_loglik: dict[str, float] = field(default_factory=dict)
    """K -> mean held-out log-density of IML's codes under its base (nats per code)."""
    neighbours: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    """Model name -> (samples (n, 784), their nearest training digits (n, 784)) at the run's K."""
    implicit: dict[str, dict[str, float]] = field(default_factory=dict)
    """K -> the invertible IML's K, KDE scores (`kde`, `kde_normalised`), exact held-out
    log-likelihood `test_loglik` and its parts (`IML.exact_test_loglik`: `base_loglik`,
    `log_volume`, `code_norm`; nats per digit), and with an MLP encoder the encoder codes'
    `encoder_base_loglik` and `encoder_code_norm` (empty: no invertible IML)."""

    def latents(self) -> list[int]:
        return sorted({int(k) for scores in self.kde.values() for k in scores})

    def invertible(self, latent: int) -> dict[str, float]:
        """The invertible IML reported at the top of eval.json: at K = `latent` if trained
        there, else at its smallest K ({}: none)."""
        if not self.implicit:
            return {}
        return self.implicit.get(str(latent), self.implicit[min(self.implicit, key=int)])


def evaluate(task: IML, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; plots go to `run.path / "plots"`. A sub-run
    folder of the sweep removed since training is trained again first (normally a no-op: a
    finished run's sweep is complete)."""
    if task.method == "iml":
        task.require_base()
    task.train_sweep(run.path)
    parts = task.splits()
    scores = Scores()
    net = task.config.net
    for variant, latent in task.sweep() or [(task.method, net.latent)]:
        own = variant == task.method and latent == net.latent
        _score(_variant_task(task, run, variant, latent, own), variant, latent, parts, seed,
               scores)
    grids = _plot(task, run, scores)
    return Evaluation(_results(task, scores, len(parts["test"])),
                      _report(task, scores, grids, len(parts["test"])))


def _variant_task(task: IML, run: Run, variant: str, latent: int, own: bool) -> IML:
    """The run's own task, or the trained task of the sweep's sub-run (variant, K)."""
    from fugato.train.run import load_run

    if own:
        return task
    sub = load_run(task.sub_run_dir(run.path, variant, latent), device=str(task.device)).task
    assert isinstance(sub, IML)
    return sub


def _score(task: IML, variant: str, latent: int, parts: dict[str, torch.Tensor], seed: int,
           scores: Scores) -> None:
    """Add variant (a method or `INVERTIBLE`) at K = `latent` to `scores`."""
    cfg = task.config.sample
    test = parts["test"]
    samples = task.sample_tensor(cfg.eval_samples, seed=seed).reshape(cfg.eval_samples, -1)
    score = kde_score(test, samples, cfg.kde_sigma)
    normalised = kde_score(test, samples, cfg.kde_sigma, normalised=True)
    if task.config.net.decoder == "invertible":
        terms = {"K": latent, "kde": score, "kde_normalised": normalised,
                 **task.exact_test_loglik(test)}
        if not task.tied:  # the codes its base was fitted on: the MLP encoder's
            codes = task.encode(test)
            terms["encoder_base_loglik"] = float(task.base_log_likelihood(codes).mean())
            terms["encoder_code_norm"] = float(codes.norm(dim=-1).mean())
        scores.implicit[str(latent)] = terms
    if variant == INVERTIBLE:  # not one of Fig. 3's models
        return
    scores.kde.setdefault(METHODS[variant], {})[str(latent)] = score
    scores.kde_normalised.setdefault(METHODS[variant], {})[str(latent)] = normalised
    if variant == "iml":
        scores.base_loglik[str(latent)] = float(task.base_log_likelihood(task.encode(test))
                                                .mean())
    if latent == task.config.net.latent:
        shown = samples[:NEIGHBOURS]
        nearest = torch.cdist(shown, parts["train"]).argmin(-1)
        scores.neighbours[METHODS[variant]] = (shown, parts["train"][nearest])


def _results(task: IML, scores: Scores, test_digits: int) -> dict[str, Any]:
    net, cfg = task.config.net, task.config.sample
    results: dict[str, Any] = {
        "model": task.name,
        # the box plots of `fugato seeds` compare the top-level numbers: each model at K
        **{f"kde_{name.lower()}": kde[str(net.latent)] for name, kde in scores.kde.items()
           if str(net.latent) in kde},
        **{f"kde_{name.lower()}_normalised": kde[str(net.latent)]
           for name, kde in scores.kde_normalised.items() if str(net.latent) in kde},
        "kde": scores.kde,
        "kde_normalised": scores.kde_normalised,
        f"{net.base}_test_loglik_per_code": scores.base_loglik,
        "settings": {"K": net.latent, "kde_sigma": cfg.kde_sigma,
                     "samples": cfg.eval_samples, "test_digits": test_digits},
    }
    if invertible := scores.invertible(net.latent):
        results["test_loglik"] = invertible["test_loglik"]
        results["invertible"] = invertible
        results["invertible_by_k"] = scores.implicit
        if len(scores.implicit) >= 3:
            exact, base = zip(*[(v["test_loglik"], v["base_loglik"])
                                for v in scores.implicit.values()], strict=True)
            results["exact_base_correlation"] = float(np.corrcoef(exact, base)[0, 1])
    return results


def _plot(task: IML, run: Run, scores: Scores) -> list[str]:
    """The training curves, the KDE score against K (Fig. 3 left), the log-likelihoods against
    K (Fig. 3 right, `_plot_logliks`) and the neighbour grids; returns the grids' markdown
    images."""
    from fugato.plot import plot_lines, plot_training_curves

    cfg = task.config.sample
    plots = run.path / "plots"
    latents = scores.latents()
    plot_training_curves(run.metrics(), plots / "training.png")
    plot_lines(np.array(latents),
               {name: np.array([kde.get(str(k), np.nan) for k in latents])
                for name, kde in scores.kde.items()},
               plots / "kde_vs_k.png", "K (latent size)",
               f"KDE score (nats, sigma {cfg.kde_sigma})",
               f"Held-out KDE score, {cfg.eval_samples} samples per model")
    net = task.config.net
    mlp = {k: v for k, v in scores.base_loglik.items()  # a run of its own invertible: not MLP
           if net.decoder == "mlp" or k != str(net.latent)}
    _plot_logliks(scores.implicit, mlp, plots / "loglik_vs_k.png", net.base.upper())
    return _plot_neighbours(scores.neighbours, plots, task.config.net.latent)


def _plot_logliks(implicit: Mapping[str, Mapping[str, float]], mlp: Mapping[str, float],
                  path: Path, base: str) -> bool:
    """The paper's Fig. 3 right: over K, the invertible IML's exact held-out log-likelihood
    (Eq. 6) and its base term (the base log-density of the pseudo-inverse codes, i.e. without
    the volume term) from `implicit` (`Scores.implicit`), beside the MLP IML's base
    log-likelihood of its held-out codes `mlp` (K -> nats); nats per digit. Written when there
    is any of them; returns whether it was."""
    from fugato.plot import plot_lines

    latents = sorted({int(k) for k in (*implicit, *mlp)})
    if not latents:
        return False

    def curve(values: Mapping[str, float]) -> np.ndarray:
        return np.array([values.get(str(k), np.nan) for k in latents])

    curves = {}
    if implicit:
        curves["invertible IML: exact log p(x)"] = curve(
            {k: v["test_loglik"] for k, v in implicit.items()})
        curves[f"invertible IML: {base} log p(z), z = g+(x)"] = curve(
            {k: v["base_loglik"] for k, v in implicit.items()})
    if mlp:
        curves[f"IML (MLP): {base} log p(z), z = encoder(x)"] = curve(mlp)
    plot_lines(np.array(latents), curves, path, "K (latent size)",
               "held-out log-likelihood (nats per digit)",
               "Exact (implicit) against base log-likelihood")
    return True


def _plot_neighbours(neighbours: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                     plots: Path, latent: int) -> list[str]:
    """One grid per model: samples (top row) over their nearest training digits (L2,
    bottom row); returns the markdown images."""
    from fugato.plot import plot_image_grid

    out = []
    for name, (shown, nearest) in neighbours.items():
        images = torch.cat([shown, nearest]).reshape(-1, 28, 28).numpy()
        path = plots / f"nearest-{name.lower()}.png"
        plot_image_grid(images, path, columns=len(shown),
                        title=f"{name}, K = {latent}: samples over nearest training digits")
        out.append(f"![{name} samples and nearest training digits](plots/{path.name})")
    return out


def _report(task: IML, scores: Scores, grids: list[str], test_digits: int) -> str:
    net, cfg = task.config.net, task.config.sample
    extra = []
    if scores.base_loglik:
        extra.append(f"Held-out log-likelihood of IML's codes under its {net.base.upper()} "
                     "base (nats per code): "
                     + ", ".join(f"K = {k}: {v:.1f}" for k, v in scores.base_loglik.items())
                     + ".")
    if (inv := scores.invertible(net.latent)):
        encoder = ("its pseudo-inverse g+" if "encoder_code_norm" not in inv
                   else "a separate MLP encoder")
        extra.append(f"IML with the invertible perceptron decoder (K = {inv['K']:.0f}, encoder "
                     f"{encoder}): exact held-out log-likelihood {inv['test_loglik']:.1f} nats "
                     f"per digit (of its projection onto the decoder's K-dimensional image) = "
                     f"base log-density of z = g+(x) {inv['base_loglik']:.1f} - log-volume "
                     f"{inv['log_volume']:.1f} (mean |z| {inv['code_norm']:.1f}); KDE score "
                     f"{inv['kde']:.1f}.")
    if scores.implicit or scores.base_loglik:
        extra.append("![Exact and base log-likelihood against K](plots/loglik_vs_k.png)")
    lead = (f"Kernel density score on the paper's scale (mean over {test_digits} held-out "
            f"digits of the log of the sum of Gaussian kernels, sigma {cfg.kde_sigma}, centred "
            f"on {cfg.eval_samples} samples per model; nats, larger is better; eval.json's "
            f"`kde_normalised` is the log of their mean: log {cfg.eval_samples} = "
            f"{math.log(cfg.eval_samples):.2f} lower). IML decodes draws of its "
            f"{net.base.upper()} base ({net.components} components); VAE, GAN and WGAN share "
            "its decoder and decode N(0, I) draws.")
    return report_page("IML two-stage and baselines: MNIST", lead, [
        markdown_table(kde_rows(scores.kde, scores.latents())),
        "![KDE score against K](plots/kde_vs_k.png)", *extra,
        f"## Samples (K = {net.latent}) beside their nearest training digit", *grids])


def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
    """The KDE table (models x K) as "mean ± sd" over seeds, from `compare_runs`' summary
    of eval.json paths `kde/MODEL/K`, and the invertible IML's exact log-likelihood; "" when
    the summary has no KDE score."""
    kde: dict[str, dict[str, str]] = {}
    for path in summary:
        head, _, rest = path.partition("/")
        if head == "kde" and "/" in rest:
            name, _, latent = rest.partition("/")
            kde.setdefault(name, {})[latent] = mean_sd(summary, path, DIGITS)
    if not kde:
        return ""
    latents = sorted({int(k) for scores in kde.values() for k in scores})
    text = (f"## {group}: held-out KDE score over {runs} seeds (mean ± sd, nats, the "
            "paper's scale: log of the sum of the kernels)\n\n"
            + markdown_table(kde_rows(kde, latents)))
    if "test_loglik" in summary:
        text += (f"\n\nIML with the invertible perceptron decoder: exact held-out "
                 f"log-likelihood {mean_sd(summary, 'test_loglik', DIGITS)} nats per digit.")
    return text


def kde_rows(kde: Mapping[str, Mapping[str, Any]], latents: Sequence[int]) -> list[dict[str, Any]]:
    """Table rows, one per model, one column per K (a score or a "mean ± sd" cell)."""
    return [{"model": name, **{f"K = {k}": scores.get(str(k), "") for k in latents}}
            for name, scores in kde.items()]
