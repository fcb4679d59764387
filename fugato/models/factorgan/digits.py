"""FactorGAN (Stoller, Ewert, Dixon, "Training Generative Networks with Incomplete
Observations", ICLR 2020): the paired-digit experiment. The factorised discriminators and
the lockstep frame it shares with source separation are in `fugato.models.factorgan.core`.

The paired-digit experiment (`FactorGAN`, model "factorgan"): two stacked MNIST digits (top
28x28, bottom 28x28: parts [0, 784) and [784, 1568)); with probability lambda the bottom digit
has the top one's class, else another class (`data.pairing`: the paper's text by default, or
the reference code's draw from all the class frequencies). Of the 8,000 training
digits only N pairs are observed jointly; every top digit and every bottom digit is observed as
a single part. One run trains a generator per (variant, lambda, N) in lockstep (disjoint
parameters, summed losses: each setting trains exactly as if alone) so that one run gives the
whole table; `fugato seeds` repeats it over seeds. Evaluation: FID on a small digit
classifier's hidden features per part (averaged over the two parts) against held-out pairs,
and the dependency metric (`fugato.metrics.dependency`) from the classifier's labels. The
classifier is the shared one of `fugato.metrics.digit_space` (trained once per machine and
cached, as the paper's pretrained classifier), so every run and seed is scored in one feature
space. The run also trains a classifier of its own (a step of its own on the training digits),
kept for the `own_` numbers: those of the results recorded before the shared space (each seed
in its own space) and of checkpoints trained before it.

The source-separation experiment (model "factorgan-separation", Bach chorales) lives beside
this one in `fugato.models.factorgan.separation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.models.classifier_phase import DigitClassifierPhase
from fugato.models.factorgan.core import (
    VARIANT_NAMES,
    VARIANTS,
    FactorDiscriminators,
    LockstepNetConfig,
    LockstepSettings,
)
from fugato.nn.batched import batched
from fugato.nn.digit_classifier import DigitClassifier, classifier_loss
from fugato.nn.mlp import MLP
from fugato.nn.spectral import SpectralLinear
from fugato.report import Evaluation, markdown_table, mean_sd
from fugato.samples import Images
from fugato.train.run import Run
from fugato.train.task import Batch, Evaluator, Nets, Sampler, SeedsReport, Step, Task, TensorData

PIXELS = 784
CHUNK = 2000
"""Pairs or digits per forward pass (and per noise draw) when generating and classifying: the
recorded numbers were computed in chunks of this size (float sums and noise draws follow it)."""
DIGIT_PARTS = (slice(0, PIXELS), slice(PIXELS, 2 * PIXELS))
"""The two parts of a paired-digit sample (B, 1568): top digit, bottom digit."""


# -- paired digits -----------------------------------------------------------------------------
PAIRINGS = ("paper", "reference")
"""How the bottom digit's class is drawn when it is not the top digit's (`data.pairing`)."""


def pair_partners(labels: torch.Tensor, lam: float, generator: torch.Generator,
                  pairing: str = "paper") -> torch.Tensor:
    """For each digit (a top digit) the index (N,) of its bottom partner among the same digits:
    with probability `lam` a digit of the same class, else (`pairing` "paper", the paper's
    text) of another class drawn from the frequencies of the other classes, or ("reference",
    the reference code) of a class drawn from the frequencies of all classes, the same one
    included; then a uniformly drawn digit of that class."""
    if not 0.0 <= lam <= 1.0:
        raise FugatoError(f"data.lambdas: {lam} is not a probability")
    if pairing not in PAIRINGS:
        raise FugatoError(f"data.pairing: unknown pairing {pairing!r} ({', '.join(PAIRINGS)})")
    n = len(labels)
    counts = torch.bincount(labels, minlength=10)
    same = torch.rand(n, generator=generator) < lam
    if pairing == "reference":
        drawn = torch.multinomial(counts.double(), n, replacement=True, generator=generator)
    else:  # each top digit's own class masked out of its draw
        others = counts.double().expand(n, -1).clone()
        others[torch.arange(n), labels] = 0.0
        if bool((others.sum(1) == 0).any()):
            raise FugatoError("data.pairing 'paper': the digits need two classes or more")
        drawn = torch.multinomial(others, 1, generator=generator).squeeze(1)
    classes = torch.where(same, labels, drawn)
    by_class = torch.argsort(labels, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    offset = (torch.rand(n, generator=generator) * counts[classes]).long()
    return by_class[starts[classes] + offset.clamp(max=counts[classes] - 1)]


@dataclass
class DataConfig:
    dataset: str = "mnist"
    n_test: int = 2000
    """Held-out digits (classifier accuracy, FID reference, real class pairs)."""
    split_seed: int = 0
    lambdas: list[float] = field(default_factory=lambda: [0.1, 0.9])
    """Probabilities that the bottom digit has the top digit's class."""
    pairing: str = "paper"
    """The bottom digit's class otherwise (`pair_partners`): "paper" (the paper's text:
    another class, drawn from the other classes' frequencies; P(same class) = lambda) or
    "reference" (the reference code: a class drawn from all the classes' frequencies, the same
    one included; P(same class) = lambda + (1 - lambda) sum_c p_c^2). Runs saved before this
    field were trained with "reference" and load with it (`SAVED_DEFAULTS`)."""
    paired: list[int] = field(default_factory=lambda: [10, 100, 1000, 0])
    """N: jointly observed pairs (0: all training digits)."""
    limit: int | None = None
    """Use only this many training digits (smoke tests)."""


@dataclass
class NetConfig(LockstepNetConfig):
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    """Which of "gan", "factorgan", "no-cp" to train (each at every lambda and N)."""
    noise: int = 50
    """Generator input: uniform noise in [-1, 1]^noise."""
    hidden: int = 128
    """Generator: noise -> hidden -> hidden -> 1568 (ReLU, sigmoid output)."""
    disc_hidden: int = 128
    """Every discriminator: in -> disc_hidden -> disc_hidden -> 1 (leaky ReLU, spectral norm)."""


@dataclass
class SampleConfig:
    eval_samples: int = 10000
    """Generated pairs per setting, and real held-out pairs, of the evaluation."""
    classifier_steps: int = 1500
    """Training steps (the first ones) in which the run's own digit classifier learns (Adam
    at `classifier_lr`, `classifier_batch` random training digits shifted by up to 2 pixels)."""
    classifier_lr: float = 3e-3
    """The classifier's peak learning rate (`fugato.models.classifier_phase`)."""
    classifier_batch: int = 256
    fid_space: str = "auto"
    """The shared classifier of the FID and dependency numbers (`fugato.metrics.digit_space`
    `SPACES`): "standard", "tiny" (smoke tests), or "auto": "tiny" when `data.limit` is set
    (a smoke test, scored in a space of its own digits anyway), else "standard"."""
    grid: int = 10
    """Samples per variant in the report's grids."""


@dataclass(frozen=True)
class Setting:
    variant: str
    lam: float
    paired: int
    """0: all training digits."""

    @property
    def key(self) -> str:
        return f"{self.variant}/{self.lam:g}/{self.paired or 'all'}"


class FactorGAN(LockstepSettings, DigitClassifierPhase, Sampler, Evaluator, SeedsReport, Task):
    name = "factorgan"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig
    SAVED_DEFAULTS = {"data": {"pairing": "reference"}}  # runs saved before data.pairing

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        net: NetConfig = config.net
        if data.dataset != "mnist":
            raise FugatoError(f"data.dataset: unknown dataset {data.dataset!r} (mnist)")
        self.check_net(net)
        if any(n < 0 for n in data.paired):
            raise FugatoError("data.paired: N must be >= 0 (0: all)")
        if data.pairing not in PAIRINGS:
            raise FugatoError(f"data.pairing: unknown pairing {data.pairing!r} "
                              f"({', '.join(PAIRINGS)})")
        self.settings = [Setting(v, float(lam), n) for v in net.variants for lam in data.lambdas
                         for n in data.paired]
        if not self.settings:
            raise FugatoError("nothing to train: net.variants, data.lambdas or data.paired empty")
        self.generators = tuple(s.key for s in self.settings)
        self._digits: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    # -- data ----------------------------------------------------------------------------------
    def splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """(images (N, 784) in [0, 1], labels (N,)) of "train" (8,000 unless data.limit) and
        "test" (2,000)."""
        from fugato.images import load_mnist, split_mnist

        data: DataConfig = self.config.data
        images, labels = load_mnist()
        train, test = split_mnist(images, labels, data.n_test, data.split_seed)
        if data.limit:
            train = (train[0][: data.limit], train[1][: data.limit])
        return {"train": train, "test": test}

    def _columns(self) -> list[str]:
        data: DataConfig = self.config.data
        return ["top", *[f"bottom/{lam:g}" for lam in data.lambdas],
                *[f"{side}/{lam:g}/{n}" for lam in data.lambdas for n in data.paired
                  for side in ("pair_top", "pair_bottom")]]

    def build_data(self) -> tuple[TensorData, TensorData]:
        """Index columns into the training digits, all of length N_train: "top" (every digit,
        the top part's observations), per lambda "bottom/l" (every top digit's partner, the
        bottom part's observations), and per (lambda, N) "pair_top/l/N", "pair_bottom/l/N":
        the N jointly observed pairs (the first N digits of a seeded order), repeated to
        N_train rows (the trainer shuffles them every epoch)."""
        data: DataConfig = self.config.data
        images, labels = self.splits()["train"]
        self._digits = {torch.device("cpu"): (images, labels)}
        n = len(images)
        g = torch.Generator().manual_seed(self.config.train.seed)
        observed = torch.randperm(n, generator=g)  # the paired digits: a prefix of this order
        columns = [torch.arange(n)]
        partners = {lam: pair_partners(labels, lam, g, data.pairing)
                    for lam in data.lambdas}
        columns += [partners[lam] for lam in data.lambdas]
        for lam in data.lambdas:
            for count in data.paired:
                chosen = observed[: count or n]
                tiled = chosen.repeat(-(-n // len(chosen)))[:n]
                columns += [tiled, partners[lam][tiled]]
        return TensorData(tuple(columns)), TensorData((torch.empty(0, dtype=torch.long),))

    def _training_digits(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(images (N, 784), labels (N,)) of the training digits on `device`."""
        if device not in self._digits:
            images, labels = self._digits[torch.device("cpu")]
            self._digits[device] = (images.to(device), labels.to(device))
        return self._digits[device]

    def _images(self, index: torch.Tensor) -> torch.Tensor:
        """Training digits (B, 784) at index (B,), on the index's device."""
        return self._training_digits(index.device)[0][index]

    def _labels(self, index: torch.Tensor) -> torch.Tensor:
        """Classes (B,) of the training digits at index (B,), on the index's device."""
        return self._training_digits(index.device)[1][index]

    # -- nets ----------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        net: NetConfig = self.config.net
        nets: Nets = {"classifier": DigitClassifier(dropout=0.2)}
        for s in self.settings:
            nets[f"G:{s.key}"] = MLP([net.noise, net.hidden, net.hidden, 2 * PIXELS], "relu",
                                     output="sigmoid")
            nets[f"D:{s.key}"] = FactorDiscriminators.build(
                DIGIT_PARTS, s.variant,
                lambda d: MLP([d, net.disc_hidden, net.disc_hidden, 1], "leaky_relu",
                              linear=SpectralLinear))
        return nets

    def optimizers(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(nets), **self.classifier_optimizer(nets)}

    def steps(self) -> list[Step]:
        # the run's own classifier (the `own_` numbers) trains in the same loop
        return [self.classifier_step(), *super().steps()]

    def _noise(self, n: int, device: torch.device,
               generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(n, self.config.net.noise, device=device, generator=generator) * 2 - 1

    def fake(self, nets: Nets, setting: Setting, batch: Batch) -> torch.Tensor:
        """Generated pairs (B, 1568) of `setting`, B the batch's size, from new noise."""
        return nets[f"G:{setting.key}"](self._noise(len(batch[0]), batch[0].device))

    def _discriminator_loss(self, nets: Nets, batch: Batch, step: int
                            ) -> tuple[torch.Tensor, dict[str, float]]:
        cols = dict(zip(self._columns(), batch, strict=True))
        top = self._images(cols["top"])
        # gathered once, shared by the settings of the same lambda (and N)
        bottoms = {s.lam: self._images(cols[f"bottom/{s.lam:g}"]) for s in self.settings}
        joints = {(s.lam, s.paired): torch.cat(
            [self._images(cols[f"pair_top/{s.lam:g}/{s.paired}"]),
             self._images(cols[f"pair_bottom/{s.lam:g}/{s.paired}"])], dim=1)
            for s in self.settings}
        losses = []
        for s in self.settings:
            with torch.no_grad():  # new fakes in every discriminator round
                fake = self.fake(nets, s, batch)
            d = cast(FactorDiscriminators, nets[f"D:{s.key}"])
            losses.append(d.loss([top, bottoms[s.lam]], joints[s.lam, s.paired], fake))
        return self.sum_losses(losses, "d_loss")

    # -- sampling ------------------------------------------------------------------------------
    def _setting(self, key: str | None) -> Setting:
        """The setting of generator `key` (None: the first trained)."""
        return self.find_setting(str(self.pick_generator(key)), "generator")

    def generate(self, setting: Setting, n: int, seed: int = 0) -> torch.Tensor:
        """(n, 1568) generated pairs of `setting`, pixels in [0, 1] (on CPU)."""
        g = torch.Generator(device=self.device).manual_seed(seed)
        gen = self.nets[f"G:{setting.key}"].eval()
        # the row indices only size each chunk: its noise is drawn with it
        return batched(lambda rows: gen(self._noise(len(rows), self.device, g)),
                       torch.arange(n), device=self.device, batch_size=CHUNK,
                       empty=torch.zeros(0, 2 * PIXELS))

    def sample(self, n: int, seed: int | None = None, generator: str | None = None
               ) -> Images:
        """(n, 56, 28) stacked digit pairs in [0, 1] of the generator of setting `generator`
        ("variant/lambda/N", e.g. "factorgan/0.1/10"; default the first trained)."""
        pixels = self.generate(self._setting(generator), n, 0 if seed is None else seed)
        return Images(pixels.reshape(n, 56, 28).cpu().numpy())

    # -- evaluation ----------------------------------------------------------------------------
    def _classify(self, nets: Nets, batch: Batch, step: int
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of the run's own digit classifier on `sample.classifier_batch`
        training digits drawn at random (the trainer's batch is too small for it to learn in
        the quick run's steps), each moved by a random shift (`shift_digits`)."""
        digits = len(self._training_digits(batch[0].device)[0])
        index = torch.randint(digits, (self.config.sample.classifier_batch,),
                              device=batch[0].device)
        return classifier_loss(nets["classifier"], self._images(index), self._labels(index))

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """FID and dependency per setting (`fugato.models.factorgan.digits_evaluate`)."""
        from fugato.models.factorgan.digits_evaluate import evaluate

        return evaluate(self, run, seed)

    @staticmethod
    def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
        """The digits table over seeds: FID and dependency in the shared feature space, and
        the FID on each run's own classifier ("own FID", a space per seed), as "mean ± sd" per
        (model, lambda, N), from `compare_runs`' summary of the eval.json paths
        `table/VARIANT/LAMBDA/N/...`."""
        def cell(path: str) -> str:
            return mean_sd(summary, path, 4)

        keys = sorted({tuple(k.split("/")[1:4]) for k in summary if k.startswith("table/")},
                      key=lambda k: (VARIANTS.index(k[0]) if k[0] in VARIANTS else 9,
                                     float(k[1]), int(k[2]) if k[2].isdigit() else 10**9))
        rows = [{"model": VARIANT_NAMES.get(v, v), "lambda": lam, "N": n,
                 "FID": cell(f"table/{v}/{lam}/{n}/fid"),
                 "dependency": cell(f"table/{v}/{lam}/{n}/dependency"),
                 "own FID": cell(f"table/{v}/{lam}/{n}/own_fid")} for v, lam, n in keys]
        floors = sorted({k.split("/")[1] for k in summary if k.startswith("floor/")}, key=float)
        rows += [{"model": "real training pairs (floor)", "lambda": lam, "N": "",
                  "FID": cell(f"floor/{lam}/fid"), "dependency": cell(f"floor/{lam}/dependency"),
                  "own FID": cell(f"floor/{lam}/own_fid")} for lam in floors]
        return (f"## {group}: paired digits over {runs} seeds (mean ± sd)\n\n"
                + markdown_table(rows)
                + "\n\nFID and dependency on the shared digit classifier "
                "(`fugato.metrics.digit_space`, one feature space for every seed), held-out "
                f"accuracy {cell('classifier_accuracy')}; own FID on each run's own classifier "
                f"(a space per seed), held-out accuracy {cell('own_classifier_accuracy')}.")

