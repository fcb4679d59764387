"""AR-VAE's image evaluation: disentanglement and reconstruction on held-out test images.

Metrics on the encoder means of at most `sample.eval_images` test images (a seeded subset):
the five disentanglement metrics (`fugato.metrics.disentanglement`, the reference code's way
and fugato's variants) against the attributes, per attribute the Spearman correlation of its
own dimension (`fugato.models.arvae.evaluate.attribute_dims`), and the
reconstruction accuracy: the share of pixels whose decoded probability falls on the same side
of 0.5 as the image (the paper's Fig. 5). Figures: example reconstructions (Fig. 6), one
traversal of every regularised dimension (Figs. 9, 10), and each attribute's own dimension
against the attributes and the codes coloured by them (`evaluate.plot_latents`).

Content preservation (Morpho-MNIST, the paper's Fig. 7): the run's own digit classifier on
the held-out digits, on their reconstructions, and on `sample.interpolations` variations per
attribute of each digit: its code with the attribute's dimension set to evenly spaced values
from the 1st to the 99th percentile of that dimension over the held-out codes (the range the
data occupies; the reference code sweeps -4..4), decoded. The attribute's dimension is the one
Interpretability chose, of highest mutual information with it, for both models as in the
reference code: AR-VAE's regularised dimension wherever the regulariser took hold, and for the
beta-VAE the dimension that carries the attribute, not an arbitrary one (an unused dimension
would preserve every digit). Accuracy = share of variations classified as the digit's label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fugato.metrics.disentanglement import disentanglement
from fugato.metrics.regularised import regularised_spearman
from fugato.models.arvae.evaluate import (
    LATENT_SECTION,
    SUMMARY,
    attribute_dims,
    attribute_surfaces,
    per_attribute_results,
    plot_latents,
)
from fugato.nn.batched import batched
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from fugato.models.arvae.images import ImageARVAE
    from fugato.train.run import Run

SHOWN = 10
"""Images in the reconstruction figure, and steps of each traversal."""
TRAVERSAL_RANGE = 3.0
"""Each regularised dimension is swept over [-3, 3] around a held-out code."""


def evaluate(task: ImageARVAE, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; plots go to `run.path / "plots"`."""
    rng = np.random.default_rng(seed)
    images, attrs, classes = task.split("test")
    if len(images) > task.config.sample.eval_images:
        keep = np.sort(rng.choice(len(images), task.config.sample.eval_images, replace=False))
        images, attrs, classes = images[keep], attrs[keep], classes[keep]
    codes = task.encode(images)
    metrics = disentanglement(codes, attrs, seed)
    dims = attribute_dims(task.config.net.gamma, metrics)
    decoded = task.decode(codes)
    results: dict[str, Any] = {
        "model": task.name, "dataset": task.config.data.dataset,
        "gamma": task.config.net.gamma, "beta": task.config.net.beta, "step": run.step,
        **{k: v["score"] for k, v in metrics.items()},
        "recon_accuracy": float(((decoded > 0.5) == (images > 0.5)).mean()),
        "per_attribute": per_attribute_results(task.attribute_names, metrics,
                                               regularised_spearman(codes, attrs, dims), dims),
        "eval_images": len(images)}
    draw_figures(task, run, images, decoded, codes, attrs, dims)
    if task.has_digits:  # both models along Interpretability's dimensions (module docstring)
        chosen = [int(d) for d in metrics["interpretability"]["dims"]]
        results["content"] = content_preservation(task, images, decoded, codes, classes, chosen)
        plot_content(results["content"], run.path / "plots" / "content.png")
    return Evaluation(results, report(task, run, results))


def interpolation_values(codes: np.ndarray, dim: int, steps: int) -> np.ndarray:
    """(steps,) evenly spaced values of dimension `dim` from its 1st to its 99th percentile
    over `codes` (N, z)."""
    low, high = np.percentile(codes[:, dim], [1, 99])
    return np.linspace(low, high, steps, dtype=np.float32)


def content_preservation(task: ImageARVAE, images: np.ndarray, decoded: np.ndarray,
                         codes: np.ndarray, classes: np.ndarray, dims: list[int]
                         ) -> dict[str, Any]:
    """The digit classifier's accuracy on held-out digits (N, 28, 28) ("original"), their
    reconstructions ("reconstructed") and their interpolations along `dims[l]`, attribute l's
    dimension ("interpolated": the mean; "per_attribute"; "per_step": (steps,), the mean over
    attributes at each step; "dims")."""
    classifier = task.nets["classifier"].eval()
    labels = torch.as_tensor(classes)
    steps = task.config.sample.interpolations
    hits = np.empty((len(dims), steps))
    for row, dim in enumerate(dims):
        varied = np.repeat(codes[None], steps, axis=0)  # (steps, N, z)
        varied[:, :, dim] = interpolation_values(codes, dim, steps)[:, None]
        hits[row] = accuracy_by_step(classifier, task.decode(varied.reshape(-1, codes.shape[1])),
                                     labels, steps)
    return {"original": float(accuracy_by_step(classifier, images, labels, 1)[0]),
            "reconstructed": float(accuracy_by_step(classifier, decoded, labels, 1)[0]),
            "interpolated": float(hits.mean()),
            "per_attribute": dict(zip(task.attribute_names, hits.mean(axis=1).tolist(),
                                      strict=True)),
            "per_step": hits.mean(axis=0).tolist(), "dims": dims}


@torch.no_grad()
def accuracy_by_step(classifier: torch.nn.Module, pixels: np.ndarray, labels: torch.Tensor,
                     steps: int) -> np.ndarray:
    """(steps,) accuracy of each interpolation step: `pixels` (steps * N, H, W), step-major."""
    predicted = batched(lambda x: classifier(x).argmax(-1), torch.as_tensor(pixels))
    return (predicted.reshape(steps, -1) == labels[None]).double().mean(dim=1).numpy()


def traversal_grid(task: ImageARVAE, code: np.ndarray) -> np.ndarray:
    """Every regularised dimension of one code (z,) swept over `TRAVERSAL_RANGE` in `SHOWN`
    steps: decoded images (L * SHOWN, H, W), a row per dimension."""
    n_attrs = len(task.attribute_names)
    codes = np.repeat(code[None, None, :], n_attrs * SHOWN, axis=0).reshape(n_attrs, SHOWN, -1)
    values = np.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, SHOWN, dtype=np.float32)
    codes[np.arange(n_attrs), :, np.arange(n_attrs)] = values
    return task.decode(codes.reshape(n_attrs * SHOWN, -1))


def draw_figures(task: ImageARVAE, run: Run, images: np.ndarray, decoded: np.ndarray,
                 codes: np.ndarray, attrs: np.ndarray, dims: Sequence[int]) -> None:
    """plots/{training,latents,codes,reconstructions,traversals}.png (`dims`: each attribute's
    own dimension, `attribute_dims`), and surfaces.png (Fig. 12) where the attributes can be
    measured on decoded images (Morpho-MNIST's, a user's)."""
    from fugato.plot import plot_heatmaps, plot_image_grid, plot_training_curves

    plots = run.path / "plots"
    names = task.attribute_names
    plot_training_curves(run.metrics(), plots / "training.png",
                         ("loss", "recon", "kl", "ar", "accuracy"))
    plot_latents(codes, attrs, names, dims, plots)
    pairs = np.concatenate([images[:SHOWN], decoded[:SHOWN]])
    plot_image_grid(pairs, plots / "reconstructions.png", SHOWN,
                    "Held-out images (top) and their reconstructions (Fig. 6)")
    plot_image_grid(traversal_grid(task, codes[0]), plots / "traversals.png", SHOWN,
                    "Each regularised dimension swept from -3 to 3, a row each: "
                    + ", ".join(names))
    if task.measurable:
        surfaces = attribute_surfaces(names, codes, TRAVERSAL_RANGE,
                                      lambda z: task.measured_attributes(task.decode(z)))
        plot_heatmaps(surfaces, TRAVERSAL_RANGE, plots / "surfaces.png", "regularised dim",
                      "free dim")


def plot_content(content: dict[str, Any], path: Path) -> None:
    """plots/content.png: accuracy at each interpolation step, per attribute and in the mean,
    beside the original and reconstructed digits' (flat lines)."""
    from fugato.plot import plot_lines

    steps = len(content["per_step"])
    curves = {"interpolated (mean)": np.asarray(content["per_step"]),
              "reconstructed": np.full(steps, content["reconstructed"]),
              "original": np.full(steps, content["original"])}
    plot_lines(np.arange(1, steps + 1), curves, path, "interpolation step (1st to 99th "
               "percentile of the dimension)", "digit classifier accuracy",
               "Content preservation (Fig. 7)")


def report(task: ImageARVAE, run: Run, results: dict[str, Any]) -> str:
    """report.md: the summary table, the per-attribute table and the figures."""
    rows = [{"metric": k, "value": results[k]} for k in SUMMARY if k in results]
    attr_rows = [{"attribute": name, **per} for name, per in results["per_attribute"].items()]
    kind = "AR-VAE" if task.config.net.gamma > 0 else "beta-VAE"
    lead = (f"{results['eval_images']} held-out test images; metrics on encoder means; "
            "reconstruction accuracy: pixels on the same side of 0.5 as the image.")
    return report_page(f"{kind}: {task.config.data.dataset} (step {run.step})", lead, [
        markdown_table(rows), "## Per attribute\n\n" + markdown_table(attr_rows),
        LATENT_SECTION,
        "## Reconstructions (Fig. 6)\n\n![reconstructions](plots/reconstructions.png)",
        "## Traversals (Figs. 9, 10)\n\n![traversals](plots/traversals.png)",
        *digit_sections(results.get("content"))])


def digit_sections(content: dict[str, Any] | None) -> list[str]:
    """The content-preservation table and figure and the attribute surfaces (Morpho-MNIST;
    none without digits)."""
    if content is None:
        return []
    rows = [{"digits": "original", "accuracy": content["original"]},
            {"digits": "reconstructed", "accuracy": content["reconstructed"]},
            {"digits": "interpolated (all attributes)", "accuracy": content["interpolated"]},
            *({"digits": f"interpolated along {name} (z{dim})", "accuracy": value}
              for (name, value), dim in zip(content["per_attribute"].items(), content["dims"],
                                            strict=True))]
    return ["## Content preservation (Fig. 7)\n\nThe run's digit classifier on the held-out "
            "digits, their reconstructions and their interpolations along each attribute's "
            "dimension (the one Interpretability chose).\n\n" + markdown_table(rows)
            + "\n\n![content](plots/content.png)",
            "## Attribute surfaces (Fig. 12)\n\nEach attribute measured on digits decoded over "
            "(its regularised dimension, the first free dimension) around the mean code."
            "\n\n![surfaces](plots/surfaces.png)"]
