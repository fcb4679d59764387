"""AR-VAE's image evaluation: disentanglement and reconstruction on held-out test images.

Metrics on the encoder means of at most `sample.eval_images` test images (a seeded subset):
the five disentanglement metrics (`fugato.metrics.disentanglement`) against the attributes,
per attribute the Spearman correlation of its own regularised dimension, and the
reconstruction accuracy: the share of pixels whose decoded probability falls on the same side
of 0.5 as the image (the paper's Fig. 5). Figures: example reconstructions (Fig. 6) and one
traversal of every regularised dimension (Figs. 9, 10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.metrics.disentanglement import disentanglement
from fugato.metrics.regularised import regularised_spearman
from fugato.models.arvae.evaluate import SUMMARY, per_attribute_results
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from fugato.models.arvae.images import ImageARVAE
    from fugato.train.run import Run

SHOWN = 10
"""Images in the reconstruction figure, and steps of each traversal."""
TRAVERSAL_RANGE = 3.0
"""Each regularised dimension is swept over [-3, 3] around a held-out code."""


def evaluate(task: ImageARVAE, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; plots go to `run.path / "plots"`."""
    rng = np.random.default_rng(seed)
    images, attrs = task.split("test")
    if len(images) > task.config.sample.eval_images:
        keep = np.sort(rng.choice(len(images), task.config.sample.eval_images, replace=False))
        images, attrs = images[keep], attrs[keep]
    codes = task.encode(images)
    metrics = disentanglement(codes, attrs, seed)
    decoded = task.decode(codes)
    results: dict[str, Any] = {
        "model": task.name, "dataset": task.config.data.dataset,
        "gamma": task.config.net.gamma, "beta": task.config.net.beta, "step": run.step,
        **{k: v["score"] for k, v in metrics.items()},
        "recon_accuracy": float(((decoded > 0.5) == (images > 0.5)).mean()),
        "per_attribute": per_attribute_results(task.attribute_names, metrics,
                                               regularised_spearman(codes, attrs)),
        "eval_images": len(images)}
    draw_figures(task, run, images, decoded, codes, attrs)
    return Evaluation(results, report(task, run, results))


def traversal_grid(task: ImageARVAE, code: np.ndarray) -> np.ndarray:
    """Every regularised dimension of one code (z,) swept over `TRAVERSAL_RANGE` in `SHOWN`
    steps: decoded images (L * SHOWN, H, W), a row per dimension."""
    n_attrs = len(task.attribute_names)
    codes = np.repeat(code[None, None, :], n_attrs * SHOWN, axis=0).reshape(n_attrs, SHOWN, -1)
    values = np.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, SHOWN, dtype=np.float32)
    codes[np.arange(n_attrs), :, np.arange(n_attrs)] = values
    return task.decode(codes.reshape(n_attrs * SHOWN, -1))


def draw_figures(task: ImageARVAE, run: Run, images: np.ndarray, decoded: np.ndarray,
                 codes: np.ndarray, attrs: np.ndarray) -> None:
    """plots/{training,latents,reconstructions,traversals}.png."""
    from fugato.plot import plot_image_grid, plot_scatter_grid, plot_training_curves

    plots = run.path / "plots"
    names = task.attribute_names
    plot_training_curves(run.metrics(), plots / "training.png",
                         ("loss", "recon", "kl", "ar", "accuracy"))
    plot_scatter_grid(codes[:, : len(names)], attrs, [f"z{l}" for l in range(len(names))],
                      names, plots / "latents.png")
    pairs = np.concatenate([images[:SHOWN], decoded[:SHOWN]])
    plot_image_grid(pairs, plots / "reconstructions.png", SHOWN,
                    "Held-out images (top) and their reconstructions (Fig. 6)")
    plot_image_grid(traversal_grid(task, codes[0]), plots / "traversals.png", SHOWN,
                    "Each regularised dimension swept from -3 to 3, a row each: "
                    + ", ".join(names))


def report(task: ImageARVAE, run: Run, results: dict[str, Any]) -> str:
    """report.md: the summary table, the per-attribute table and the figures."""
    rows = [{"metric": k, "value": results[k]} for k in SUMMARY if k in results]
    attr_rows = [{"attribute": name, **per} for name, per in results["per_attribute"].items()]
    kind = "AR-VAE" if task.config.net.gamma > 0 else "beta-VAE"
    lead = (f"{results['eval_images']} held-out test images; metrics on encoder means; "
            "reconstruction accuracy: pixels on the same side of 0.5 as the image.")
    return report_page(f"{kind}: {task.config.data.dataset} (step {run.step})", lead, [
        markdown_table(rows), "## Per attribute\n\n" + markdown_table(attr_rows),
        "## Regularised dimensions against attributes\n\n![latents](plots/latents.png)",
        "## Reconstructions (Fig. 6)\n\n![reconstructions](plots/reconstructions.png)",
        "## Traversals (Figs. 9, 10)\n\n![traversals](plots/traversals.png)"])
