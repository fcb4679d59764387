"""AR-VAE's evaluation: disentanglement, reconstruction and traversals on held-out bars.

All numbers are computed on the unique bars of the held-out test tunes (at most
`sample.eval_bars`, a seeded subset), encoded to their encoder means:

- the five disentanglement metrics (`fugato.metrics.disentanglement`) of the means against the
  attributes, the reference code's way under the plain names and fugato's variants beside them
  (`*_heldout`, `*_histogram`, `scc_unfiltered`), and per attribute the Spearman correlation of
  its own dimension (`scc_regularised_dim`);
- an attribute's own dimension (`attribute_dim`): dimension l for AR-VAE, whose regulariser
  puts attribute l there; for the beta-VAE (gamma 0), which puts it nowhere in particular, the
  dimension of highest mutual information with it (Interpretability's choice), as the paper's
  Fig. 11 does: sweeping dimension l of a beta-VAE would measure an arbitrary dimension;
- reconstruction: free-running argmax decoding of the means, token accuracy over all tokens
  and over the onsets (tokens that are not holds: a pitch or a rest starts there);
- traversals: attribute l's own dimension of `sample.traversal_bars` held-out codes swept over
  [-traversal_range, traversal_range] in `traversal_steps` steps; the Spearman correlation of
  the latent value with the decoded bar's attribute l, averaged over bars;
- attribute surfaces (a figure): attribute l decoded over a grid of (dimension l, the first
  free dimension) values around the mean code;
- each attribute's own dimension (two figures, `plot_latents`, shared with the image path):
  every attribute against every attribute's own dimension (latents.png), and the codes in the
  plane of two attributes' own dimensions coloured by one attribute (codes.png, the reference
  code's `plot_data_dist`). The paper's Fig. 4 is another figure: its metrics against each other
  over runs, from `fugato compare --pairs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from fugato.metrics.disentanglement import PER_FACTOR, disentanglement
from fugato.metrics.regularised import regularised_spearman, traversal_spearman
from fugato.models.bar_codec import reconstruction_accuracy
from fugato.plot import (
    plot_code_pairs,
    plot_heatmaps,
    plot_lines,
    plot_scatter_grid,
    plot_training_curves,
)
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from pathlib import Path

    from fugato.models.arvae.task import ARVAE
    from fugato.train.run import Run

SUMMARY = ("interpretability", "mig", "modularity", "sap", "scc", "interpretability_heldout",
           "mig_histogram", "modularity_histogram", "sap_heldout", "scc_unfiltered",
           "recon_accuracy", "recon_accuracy_onsets", "traversal_spearman")
"""The eval.json numbers of the report's first table, in its order."""
SURFACE_GRID = 9
"""Grid points per axis of the attribute surfaces."""
LATENT_SECTION = (
    "## Each attribute's own dimension\n\nRow: each attribute's own dimension (`attribute_dim`: "
    "the regularised dimension l for AR-VAE, the one of highest mutual information for the "
    "beta-VAE); column: each attribute.\n\n![latents](plots/latents.png)\n\n"
    "The codes in the plane of two attributes' own dimensions, row l coloured by attribute l "
    "(its dimension across): a dimension that orders its attribute changes colour across "
    "only.\n\n![codes](plots/codes.png)")
"""The report's section on `plot_latents`' figures (both AR-VAE paths)."""


class Traversals(NamedTuple):
    """The traversal of every regularised dimension over held-out codes."""

    values: np.ndarray
    """(S,) latent values swept."""
    spearman: list[float]
    """Per attribute: Spearman of value with decoded attribute, averaged over bars."""
    curves: dict[str, np.ndarray]
    """Per attribute: (S,) decoded attribute at each value, averaged over bars."""


def evaluate(task: ARVAE, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; plots go to `run.path / "plots"`."""
    rng = np.random.default_rng(seed)
    bars = eval_bars(task, rng)
    attrs = task.attributes(bars)
    codes = task.encode(bars)
    metrics = disentanglement(codes, attrs, seed)
    dims = attribute_dims(task.config.net.gamma, metrics)
    recon = reconstruction_accuracy(task.decode(codes, temperature=0.0), bars,
                                    task.encoding.HOLD)
    traversals = traverse_dimensions(task, codes, rng, dims)
    results = eval_results(task, run, metrics, recon, traversals,
                           regularised_spearman(codes, attrs, dims), len(bars))
    draw_figures(task, run, codes, attrs, traversals, dims)
    return Evaluation(results, report(task, run, results))


# -- numbers -------------------------------------------------------------------------------------
def eval_bars(task: ARVAE, rng: np.random.Generator) -> np.ndarray:
    """The unique held-out test bars (N, 24), at most `sample.eval_bars` of them (a subset
    drawn with `rng`, kept in sorted order)."""
    bars = task.unique_bars("test")
    limit = task.config.sample.eval_bars
    if len(bars) > limit:
        bars = bars[np.sort(rng.choice(len(bars), limit, replace=False))]
    return bars


def attribute_dims(gamma: float, metrics: dict[str, Any]) -> list[int]:
    """Attribute l's own dimension, for each l: l where the attributes are regularised
    (`gamma` > 0), else the dimension of highest mutual information with it that
    Interpretability chose in `metrics` (`disentanglement`'s result)."""
    chosen = [int(d) for d in metrics["interpretability"]["dims"]]
    return list(range(len(chosen))) if gamma > 0 else chosen


def traverse_dimensions(task: ARVAE, codes: np.ndarray, rng: np.random.Generator,
                        dims: Sequence[int]) -> Traversals:
    """Sweep dimension `dims[l]` of `sample.traversal_bars` codes of `codes` (N, z) (drawn
    with `rng`) and read attribute l of each decoded bar."""
    cfg = task.config.sample
    values = np.linspace(-cfg.traversal_range, cfg.traversal_range, cfg.traversal_steps)
    chosen = codes[rng.choice(len(codes), min(cfg.traversal_bars, len(codes)), replace=False)]
    spearman, curves = [], {}
    for l, name in enumerate(task.config.data.attributes):
        decoded = task.traversal(chosen, dims[l], values.astype(np.float32))
        attribute = task.attributes(decoded)[..., l]  # (N, S)
        spearman.append(traversal_spearman(attribute, values))
        curves[name] = attribute.mean(axis=0)
    return Traversals(values, spearman, curves)


def attribute_surfaces(names: Sequence[str], codes: np.ndarray, extent: float,
                       decoded_attributes: Callable[[np.ndarray], np.ndarray],
                       grid: int = SURFACE_GRID) -> dict[str, np.ndarray]:
    """Per attribute l of `names`: `decoded_attributes` (codes (M, z) -> the decoded data's
    attributes (M, L)) over a grid of (dim l, first free dim) values in [-extent, extent]
    around the mean of `codes` (N, z): {name: (grid, grid)}, rows = free dim, columns = dim l
    (the paper's Figs. 12, 13)."""
    values = np.linspace(-extent, extent, grid, dtype=np.float32)
    free = min(len(names), codes.shape[1] - 1)
    out = {}
    for l, name in enumerate(names):
        grid_codes = np.repeat(codes.mean(axis=0, keepdims=True), grid * grid, axis=0)
        grid_codes[:, l] = np.tile(values, grid)
        grid_codes[:, free] = np.repeat(values, grid)
        out[name] = decoded_attributes(grid_codes)[:, l].reshape(grid, grid)
    return out


def eval_results(task: ARVAE, run: Run, metrics: dict[str, Any], recon: dict[str, float],
                 traversals: Traversals, own_dim_spearman: np.ndarray, n_bars: int
                 ) -> dict[str, Any]:
    """The eval.json dict: the run, the metrics' scores, reconstruction, traversals and the
    per-attribute numbers."""
    per_attribute = per_attribute_results(task.config.data.attributes, metrics,
                                          own_dim_spearman,
                                          attribute_dims(task.config.net.gamma, metrics))
    for l, per in enumerate(per_attribute.values()):
        per["traversal_spearman"] = traversals.spearman[l]
    return {
        "model": task.name, "corpora": list(task.config.data.corpora),
        "gamma": task.config.net.gamma, "beta": task.config.net.beta, "step": run.step,
        **{k: v["score"] for k, v in metrics.items()},
        "recon_accuracy": recon["all"],
        "recon_accuracy_onsets": recon["onsets"],
        "traversal_spearman": float(np.mean(traversals.spearman)),
        "per_attribute": per_attribute,
        "eval_bars": n_bars,
    }


def per_attribute_results(names: Sequence[str], metrics: dict[str, Any],
                          own_dim_spearman: np.ndarray, dims: Sequence[int]
                          ) -> dict[str, dict[str, Any]]:
    """Per attribute l (in `names`' order): every metric of `PER_FACTOR` (both ways), the
    dimension each Interpretability picks, its own dimension `dims[l]` (`attribute_dim`) and
    that dimension's Spearman correlation with it (`own_dim_spearman[l]`)."""
    return {
        name: {**{key: float(metrics[key]["per_factor"][l]) for key in PER_FACTOR},
               "interpretability_dim": int(metrics["interpretability"]["dims"][l]),
               "interpretability_heldout_dim":
                   int(metrics["interpretability_heldout"]["dims"][l]),
               "attribute_dim": int(dims[l]),
               "scc_regularised_dim": float(own_dim_spearman[l])}
        for l, name in enumerate(names)}


# -- plots and report ----------------------------------------------------------------------------
def plot_latents(codes: np.ndarray, attrs: np.ndarray, names: Sequence[str],
                 dims: Sequence[int], plots: Path) -> None:
    """plots/latents.png: each attribute of `attrs` (N, L) against each attribute's own
    dimension `dims` of `codes` (N, z); plots/codes.png: the codes in the plane of two own
    dimensions, coloured by an attribute (`fugato.plot.plot_code_pairs`)."""
    plot_scatter_grid(codes[:, list(dims)], attrs, [f"z{d}" for d in dims], names,
                      plots / "latents.png")
    plot_code_pairs(codes, dims, attrs, names, plots / "codes.png")


def draw_figures(task: ARVAE, run: Run, codes: np.ndarray, attrs: np.ndarray,
                 traversals: Traversals, dims: Sequence[int]) -> None:
    """plots/{training,latents,codes,traversal,surfaces}.png; `dims`: each attribute's own
    dimension (`attribute_dims`)."""
    names = list(task.config.data.attributes)
    plots = run.path / "plots"
    plot_training_curves(run.metrics(), plots / "training.png",
                         ("loss", "recon", "kl", "ar", "accuracy"))
    plot_latents(codes, attrs, names, dims, plots)
    plot_lines(traversals.values, traversals.curves, plots / "traversal.png", "latent value",
               "mean decoded attribute", "Traversal of each regularised dimension")
    extent = task.config.sample.traversal_range
    plot_heatmaps(attribute_surfaces(names, codes, extent,
                                     lambda z: task.attributes(task.decode(z))),
                  extent, plots / "surfaces.png", "regularised dim", "free dim")


def report(task: ARVAE, run: Run, results: dict[str, Any]) -> str:
    """report.md: the summary table, the per-attribute table and the figures."""
    rows = [{"metric": k, "value": results[k]} for k in SUMMARY]
    attr_rows = [{"attribute": name, **{k: round(v, 4) if isinstance(v, float) else v
                                         for k, v in per.items()}}
                 for name, per in results["per_attribute"].items()]
    kind = "AR-VAE" if task.config.net.gamma > 0 else "beta-VAE"
    lead = (f"{results['eval_bars']} unique held-out test bars; metrics on encoder means; "
            "reconstruction free-running (argmax) from the means; onsets = tokens that are not "
            "holds.")
    return report_page(f"{kind}: {', '.join(task.config.data.corpora)} (step {run.step})", lead, [
        markdown_table(rows),
        "## Per attribute\n\n" + markdown_table(attr_rows),
        LATENT_SECTION,
        "## Traversals\n\n![traversal](plots/traversal.png)",
        "## Attribute surfaces (regularised dim x the first free dim, decoded attribute)"
        "\n\n![surfaces](plots/surfaces.png)",
    ])
