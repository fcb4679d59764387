"""The paired-digit evaluation: per setting, FID per part on the run's digit classifier's
features against held-out pairs (averaged over top and bottom) and the dependency metric; the
same numbers for real training pairs (the sampling floor); sample grids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch

from fugato.metrics.classification import classifier_accuracy
from fugato.metrics.dependency import class_pair_frequencies, dependency_error
from fugato.metrics.fid import fid
from fugato.models.factorgan.core import VARIANT_NAMES
from fugato.models.factorgan.digits import CHUNK, PIXELS, pair_partners
from fugato.nn.batched import batched
from fugato.nn.digit_classifier import DigitClassifier
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from fugato.models.factorgan.digits import FactorGAN, Setting
    from fugato.train.run import Run

Pairs = tuple[torch.Tensor, torch.Tensor]
"""Pairs (m, 1568) and their true classes (m, 2)."""


class _Scorer:
    """Features, classes and scores of digit pairs under the run's classifier."""

    def __init__(self, task: FactorGAN) -> None:
        self.task = task
        self.classifier = cast(DigitClassifier, task.nets["classifier"]).eval()

    def read(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, 50), predicted classes (N,)) of digits (N, 784)."""
        feats = batched(self.classifier.features, images, device=self.task.device,
                        batch_size=CHUNK)
        with torch.no_grad():
            classes = self.classifier.out(feats.to(self.task.device)).argmax(-1).cpu()
        return feats, classes

    def reference(self, pairs: Pairs) -> dict[str, Any]:
        """Features of each part and the class-pair table of held-out pairs."""
        images, classes = pairs
        return {"top": self.read(images[:, :PIXELS])[0],
                "bottom": self.read(images[:, PIXELS:])[0],
                "joint": class_pair_frequencies(classes[:, 0], classes[:, 1])}

    def scores(self, pairs: torch.Tensor, classes: torch.Tensor | None,
               reference: dict[str, Any]) -> dict[str, float]:
        """FID per part and the dependency metric of pairs (m, 1568) against a reference;
        classes (m, 2): true labels (None: the classifier's)."""
        (f_top, c_top), (f_bottom, c_bottom) = (self.read(pairs[:, :PIXELS]),
                                                self.read(pairs[:, PIXELS:]))
        if classes is not None:
            c_top, c_bottom = classes[:, 0], classes[:, 1]
        fid_top, fid_bottom = fid(f_top, reference["top"]), fid(f_bottom, reference["bottom"])
        joint = class_pair_frequencies(c_top, c_bottom)
        return {"fid": 0.5 * (fid_top + fid_bottom), "fid_top": fid_top,
                "fid_bottom": fid_bottom, "dependency": dependency_error(reference["joint"], joint)}


def real_pairs(digits: tuple[torch.Tensor, torch.Tensor], lam: float, m: int, seed: int
               ) -> Pairs:
    """m real pairs (m, 1568) of a split's (images, labels) at dependency `lam`, and their
    true classes (m, 2)."""
    images, labels = digits
    g = torch.Generator().manual_seed(seed + 1)
    tops = torch.randperm(len(images), generator=g).repeat(-(-m // len(images)))[:m]
    bottoms = pair_partners(labels, lam, g)[tops]
    return (torch.cat([images[tops], images[bottoms]], 1),
            torch.stack([labels[tops], labels[bottoms]], 1))


def evaluate(task: FactorGAN, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; grids and curves in `run.path / "plots"`."""
    m, scorer = task.config.sample.eval_samples, _Scorer(task)
    splits = task.splits()
    accuracy = classifier_accuracy(scorer.classifier, *splits["test"],
                                   batch_size=CHUNK)
    references, floor, real_shown = {}, {}, {}
    for lam in task.config.data.lambdas:
        pairs = real_pairs(splits["test"], lam, m, seed)
        references[lam] = scorer.reference(pairs)
        real_shown[lam] = pairs[0][: task.config.sample.grid]
        floor[f"{lam:g}"] = scorer.scores(*real_pairs(splits["train"], lam, m, seed),
                                          references[lam])
    rows, shown = [], {}
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for s in task.settings:
        generated = task.generate(s, m, seed)
        shown[s] = generated[: task.config.sample.grid]
        numbers = scorer.scores(generated, None, references[s.lam])
        rows.append({"model": s.variant, "lambda": s.lam, "paired": s.paired or "all",
                     **numbers})
        table.setdefault(s.variant, {}).setdefault(f"{s.lam:g}", {})[
            str(s.paired or "all")] = numbers
    results: dict[str, Any] = {
        "model": task.name, "step": run.step, "classifier_accuracy": accuracy,
        **{f"mean_fid_{v}": sum(r["fid"] for r in rows if r["model"] == v)
           / sum(r["model"] == v for r in rows) for v in task.config.net.variants},
        "digits": rows, "table": table, "floor": floor,
        "sizes": {"eval_samples": m, "test_digits": len(splits["test"][0]),
                  "train_digits": len(splits["train"][0])},
    }
    grids = _plot(task, run, real_shown, shown)
    return Evaluation(results, _report(run, results, grids))


def _plot(task: FactorGAN, run: Run, real_shown: dict[float, torch.Tensor],
          shown: dict[Setting, torch.Tensor]) -> list[str]:
    """Training curves and one grid per (lambda, N): a row of real pairs, then a row per
    variant; returns the report's image links."""
    from fugato.plot import plot_image_grid, plot_training_curves

    plots, data, grid = run.path / "plots", task.config.data, task.config.sample.grid
    plot_training_curves(run.metrics(), plots / "training.png",
                         [f"{k}_{v}" for k in ("d_loss", "g_loss")
                          for v in task.config.net.variants] + ["classifier_accuracy"])
    links = []
    for lam in data.lambdas:
        for n in data.paired:
            of = [s for s in task.settings if s.lam == lam and s.paired == n]
            images = torch.cat([real_shown[lam], *[shown[s] for s in of]])
            name = f"samples-l{lam:g}-n{n or 'all'}.png"
            plot_image_grid(images.reshape(-1, 56, 28).numpy(), plots / name, columns=grid,
                            title=f"lambda {lam:g}, N = {n or 'all'}; rows: real, "
                            + ", ".join(VARIANT_NAMES[s.variant] for s in of))
            links.append(f"![lambda {lam:g}, N {n or 'all'}](plots/{name})")
    return links


def _report(run: Run, results: dict[str, Any], grids: list[str]) -> str:
    sizes, m = results["sizes"], results["sizes"]["eval_samples"]
    report_rows = [{"model": VARIANT_NAMES[r["model"]], "lambda": r["lambda"],
                    "N": r["paired"], "FID": r["fid"], "FID top": r["fid_top"],
                    "FID bottom": r["fid_bottom"], "dependency": r["dependency"]}
                   for r in results["digits"]]
    floor_rows = [{"lambda": lam, **numbers} for lam, numbers in results["floor"].items()]
    lead = (f"{sizes['train_digits']} training digits; {m} generated pairs per setting "
            f"against {m} pairs of the {sizes['test_digits']} held-out digits. FID on the "
            "hidden features of a digit classifier (held-out accuracy "
            f"{results['classifier_accuracy']:.4f}), per part, averaged over top and bottom; "
            "dependency = mean over the 10 x 10 class pairs of |c_real - c_gen|, c(i, j) = "
            "P(i, j) / (P_top(i) P_bottom(j) + 0.001), generated classes from the classifier.")
    return report_page(f"FactorGAN: paired digits, step {run.step}", lead, [
        "## Digits\n\n" + markdown_table(report_rows),
        "## Floor: real training pairs against the held-out pairs\n\n"
        + markdown_table(floor_rows),
        "## Samples\n\n" + "\n\n".join(grids)])
