"""The paired-digit evaluation: per setting, FID per part against held-out pairs (averaged over
top and bottom) and the dependency metric, in two feature spaces: the shared digit classifier's
(`fugato.metrics.digit_space`, one space for every run and seed: the plain keys `fid`,
`fid_top`, `fid_bottom`, `dependency`, `classifier_accuracy`) and the run's own classifier's
(a space per run: the same keys prefixed `own_`, the numbers recorded before the shared space);
the same numbers for real training pairs (the sampling floor); sample grids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch

from fugato.metrics.classification import classifier_accuracy
from fugato.metrics.dependency import class_pair_frequencies, dependency_error
from fugato.metrics.digit_space import digit_space
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

OWN = "own_"
"""Prefix of the numbers measured on the run's own classifier."""


class _Scorer:
    """Features, classes and scores of digit pairs under one classifier; keys of its scores
    carry `prefix` ("" for the shared space, `OWN` for the run's own classifier)."""

    def __init__(self, task: FactorGAN, classifier: DigitClassifier, prefix: str) -> None:
        self.task, self.prefix = task, prefix
        self.classifier = classifier.to(task.device).eval()

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
        """FID per part (squared feature units) and the dependency metric of pairs (m, 1568)
        against a reference; classes (m, 2): true labels (None: the classifier's)."""
        (f_top, c_top), (f_bottom, c_bottom) = (self.read(pairs[:, :PIXELS]),
                                                self.read(pairs[:, PIXELS:]))
        if classes is not None:
            c_top, c_bottom = classes[:, 0], classes[:, 1]
        fid_top, fid_bottom = fid(f_top, reference["top"]), fid(f_bottom, reference["bottom"])
        joint = class_pair_frequencies(c_top, c_bottom)
        numbers = {"fid": 0.5 * (fid_top + fid_bottom), "fid_top": fid_top,
                   "fid_bottom": fid_bottom,
                   "dependency": dependency_error(reference["joint"], joint)}
        return {self.prefix + k: v for k, v in numbers.items()}


def real_pairs(digits: tuple[torch.Tensor, torch.Tensor], lam: float, m: int, seed: int,
               pairing: str = "paper") -> Pairs:
    """m real pairs (m, 1568) of a split's (images, labels) at dependency `lam` (and
    `data.pairing`), and their true classes (m, 2)."""
    images, labels = digits
    g = torch.Generator().manual_seed(seed + 1)
    tops = torch.randperm(len(images), generator=g).repeat(-(-m // len(images)))[:m]
    bottoms = pair_partners(labels, lam, g, pairing)[tops]
    return (torch.cat([images[tops], images[bottoms]], 1),
            torch.stack([labels[tops], labels[bottoms]], 1))


def scorers(task: FactorGAN, splits: dict[str, Pairs]
            ) -> tuple[list[_Scorer], dict[str, Any]]:
    """The shared space's scorer (its classifier trained on the "train" digits of `splits`)
    and the run's own classifier's; the accuracies of both on the "test" digits and what names
    the shared space, for eval.json."""
    setting = task.config.sample.fid_space
    if setting == "auto":
        setting = "tiny" if task.config.data.limit else "standard"
    space = digit_space(*splits["train"], setting)
    both = [_Scorer(task, space.classifier, ""),
            _Scorer(task, cast(DigitClassifier, task.nets["classifier"]), OWN)]
    about: dict[str, Any] = {
        s.prefix + "classifier_accuracy": classifier_accuracy(s.classifier, *splits["test"],
                                                              batch_size=CHUNK) for s in both}
    about["fid_space"] = {"setting": space.setting, "key": space.key}
    return both, about


def evaluate(task: FactorGAN, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; grids and curves in `run.path / "plots"`."""
    m, splits = task.config.sample.eval_samples, task.splits()
    both, about = scorers(task, splits)
    references, floor, real_shown = {}, {}, {}
    pairing = task.config.data.pairing
    for lam in task.config.data.lambdas:
        pairs = real_pairs(splits["test"], lam, m, seed, pairing)
        references[lam] = [s.reference(pairs) for s in both]
        real_shown[lam] = pairs[0][: task.config.sample.grid]
        train_pairs = real_pairs(splits["train"], lam, m, seed, pairing)
        floor[f"{lam:g}"] = {k: v for s, r in zip(both, references[lam], strict=True)
                             for k, v in s.scores(*train_pairs, r).items()}
    rows, shown = [], {}
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for s in task.settings:
        generated = task.generate(s, m, seed)
        shown[s] = generated[: task.config.sample.grid]
        numbers = {k: v for sc, r in zip(both, references[s.lam], strict=True)
                   for k, v in sc.scores(generated, None, r).items()}
        rows.append({"model": s.variant, "lambda": s.lam, "paired": s.paired or "all",
                     **numbers})
        table.setdefault(s.variant, {}).setdefault(f"{s.lam:g}", {})[
            str(s.paired or "all")] = numbers
    results: dict[str, Any] = {
        "model": task.name, "step": run.step, **about,
        **{f"mean_{p}fid_{v}": sum(r[f"{p}fid"] for r in rows if r["model"] == v)
           / sum(r["model"] == v for r in rows)
           for p in ("", OWN) for v in task.config.net.variants},
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
                    "FID bottom": r["fid_bottom"], "dependency": r["dependency"],
                    "own FID": r[f"{OWN}fid"], "own dependency": r[f"{OWN}dependency"]}
                   for r in results["digits"]]
    floor_rows = [{"lambda": lam, **numbers} for lam, numbers in results["floor"].items()]
    space = results["fid_space"]
    lead = (f"{sizes['train_digits']} training digits; {m} generated pairs per setting "
            f"against {m} pairs of the {sizes['test_digits']} held-out digits. FID on the "
            "hidden features of the shared digit classifier (setting "
            f"{space['setting']!r}, space {space['key']}, one for every run and seed; "
            f"held-out accuracy {results['classifier_accuracy']:.4f}), per part, averaged "
            "over top and bottom; dependency = mean over the 10 x 10 class pairs of "
            "|c_real - c_gen|, c(i, j) = P(i, j) / (P_top(i) P_bottom(j) + 0.001), generated "
            "classes from that classifier. \"own\": the same on the run's own classifier "
            f"(held-out accuracy {results[OWN + 'classifier_accuracy']:.4f}), a feature space "
            "of this run only (the numbers recorded before the shared space).")
    return report_page(f"FactorGAN: paired digits, step {run.step}", lead, [
        "## Digits\n\n" + markdown_table(report_rows),
        "## Floor: real training pairs against the held-out pairs\n\n"
        + markdown_table(floor_rows),
        "## Samples\n\n" + "\n\n".join(grids)])
