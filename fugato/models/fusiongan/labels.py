"""The automatic Table II: every window labelled genre A, genre B, mixture or neither.

FusionGAN's listeners labelled clips pure jazz / pure folk / mixture / neither (Table II);
here the run's own nets label windows, so that a **fusion** (each window blends both genres)
and a **mixture** (some windows pure A, others pure B) come apart:

- *neither*: unlike both genres. Each window's per-token negative log-likelihood under the
  genre generators G_A and G_B (trained on their genre by maximum likelihood first) is compared
  with the 99th percentile of the held-out validation windows of that genre under its own
  generator; a window above both thresholds is like neither genre.
- otherwise the genre classifier decides, on the whole window and on each half: *A* when the
  whole scores P(A) >= 0.8 and both halves lean to A, *B* when the whole scores P(A) <= 0.2
  and both halves lean to B, *mixture* in every other case (a middle score, or halves that
  disagree). Both halves lean to A when the lower of their two P(A) is at least that of 90%
  of the genre's own validation windows (its 10th percentile), to B when the higher is at
  most that of 90% of B's. (A fixed 0.5 for every half failed one real jazz window in five:
  the classifier, trained on whole windows, scores one jazz bar in ten below P(A) = 0.08.)

The halves are what let a blend count as one: a window spliced from half an A window and half
a B window scores above 0.8 as a whole in most cases (the classifier keys on a few strong
cues), but its halves disagree. `calibration` shows how the rule labels held-out real A, real
B, spliced and RM windows; the bands were fixed on those sets before any system was labelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from fugato.metrics.fusion import fusion_level
from fugato.nn.batched import batched

if TYPE_CHECKING:
    from fugato.models.fusiongan.task import FusionGAN

HIGH, LOW = 0.8, 0.2
"""The whole window's P(A) bands."""
SIDE_QUANTILE = 0.9
"""Share of a genre's validation windows whose halves both lean to it."""
NEITHER_QUANTILE = 0.99
LABELS = ("A", "B", "mixture", "neither")


def window_nll(task: FusionGAN, net: str, windows: np.ndarray) -> np.ndarray:
    """Per-token negative log-likelihood of each window (n, window) under generator `net`:
    (n,) float64, nats."""
    gen = task.nets[net].eval()
    bos = task.encoding.BOS

    def nll(x: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([torch.full_like(x[:, :1], bos), x[:, :-1]], dim=1)
        logp = torch.log_softmax(gen(inputs), dim=-1)
        return -logp.gather(-1, x[..., None])[..., 0].mean(dim=1)

    return batched(nll, torch.as_tensor(np.asarray(windows), dtype=torch.long),
                   device=task.device).double().numpy()


@dataclass(frozen=True)
class Labeller:
    """The rule of the module docstring, with its two likelihood thresholds (nats/token) and
    the P(A) at which both halves lean to A (the lower at least `side_a`) or to B (the higher
    at most `side_b`)."""

    task: FusionGAN
    nll_a: float
    nll_b: float
    side_a: float
    side_b: float

    @classmethod
    def calibrated(cls, task: FusionGAN, valid_a: np.ndarray, valid_b: np.ndarray) -> Labeller:
        """Thresholds from held-out validation windows of each genre."""
        lower_a = cls.halves(task, valid_a).min(axis=1)
        upper_b = cls.halves(task, valid_b).max(axis=1)
        return cls(task, float(np.quantile(window_nll(task, "gen_a", valid_a), NEITHER_QUANTILE)),
                   float(np.quantile(window_nll(task, "gen_b", valid_b), NEITHER_QUANTILE)),
                   float(np.quantile(lower_a, 1 - SIDE_QUANTILE)),
                   float(np.quantile(upper_b, SIDE_QUANTILE)))

    @staticmethod
    def halves(task: FusionGAN, windows: np.ndarray) -> np.ndarray:
        """P(A) of the first and second halves of each window (n, window): (n, 2)."""
        half = windows.shape[1] // 2
        return np.stack([task.p_genre_a(windows[:, :half]), task.p_genre_a(windows[:, half:])],
                        axis=1)

    def labels(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((n,) labels of `LABELS`, (n,) the whole windows' P(A)) for windows (n, window)."""
        whole = self.task.p_genre_a(windows)
        halves = self.halves(self.task, windows)
        is_a = (whole >= HIGH) & (halves.min(axis=1) >= self.side_a)
        is_b = (whole <= LOW) & (halves.max(axis=1) <= self.side_b)
        neither = ((window_nll(self.task, "gen_a", windows) > self.nll_a)
                   & (window_nll(self.task, "gen_b", windows) > self.nll_b))
        out = np.where(is_a, "A", np.where(is_b, "B", "mixture")).astype(object)
        out[neither] = "neither"
        return out, whole


def shares(labels: np.ndarray) -> dict[str, float]:
    """Share of each label (a, b, mixture, neither) among `labels`."""
    return {name.lower(): float(np.mean(labels == name)) if len(labels) else float("nan")
            for name in LABELS}


def table_two_row(labels: np.ndarray) -> dict[str, float]:
    """The four shares, the paper's FL = 1 - (|a - b| + neither) and the mixture share."""
    row = shares(labels)
    row["fl"] = fusion_level(row["a"], row["b"], row["mixture"], row["neither"])
    row["mixture_share"] = row["mixture"]
    return row


def spliced(a: np.ndarray, b: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n windows: the first half of an A window and the second half of a B window (half of
    them), and B then A (the other half); drawn with `rng`."""
    half = a.shape[1] // 2
    pa, pb = a[rng.choice(len(a), n)], b[rng.choice(len(b), n)]
    ab = np.concatenate([pa[: n // 2, :half], pb[: n // 2, half:]], axis=1)
    ba = np.concatenate([pb[n // 2:, :half], pa[n // 2:, half:]], axis=1)
    return np.concatenate([ab, ba])


def automatic_table_two(task: FusionGAN, test: Mapping[str, np.ndarray],
                        systems: Mapping[str, np.ndarray], seed: int
                        ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]],
                                   dict[str, np.ndarray], dict[str, float]]:
    """(calibration: set -> shares, table2: system -> `table_two_row`, each set's per-window
    P(A), the labeller's thresholds {nll_a, nll_b, side_a, side_b}). Calibration sets: held-out
    real A and B (test split), spliced A|B and B|A windows of the test split, and the RM
    windows; its own random stream (`seed`). Every set is labelled once (RM is a system and a
    calibration set)."""
    rng = np.random.default_rng([seed, 2])
    labeller = Labeller.calibrated(task, task.windows("A", "valid"), task.windows("B", "valid"))
    n = len(next(iter(systems.values())))
    calibration_sets = ["real A", "real B", "spliced A/B, B/A", "RM"]
    sets = {"real A": test["A"], "real B": test["B"],
            "spliced A/B, B/A": spliced(test["A"], test["B"], n, rng), **systems}
    labelled = {name: labeller.labels(w) for name, w in sets.items()}
    calibration = {name: shares(labelled[name][0]) for name in calibration_sets}
    table = {label: table_two_row(labelled[label][0]) for label in systems}
    thresholds = {k: getattr(labeller, k) for k in ("nll_a", "nll_b", "side_a", "side_b")}
    return calibration, table, {name: p for name, (_, p) in labelled.items()}, thresholds
