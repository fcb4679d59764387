"""AR-VAE on images (Pati & Lerch 2020, sections 4-5): dSprites and Morpho-MNIST.

The same losses as the music model (`fugato.losses.attribute`: KL, the attribute
regulariser) with a Bernoulli reconstruction term (binary cross-entropy summed over pixels,
averaged over images), the paper's image VAEs (`fugato.nn.image_vae`), beta 4, gamma 10 and
delta 1 as the paper sets them for images (`net.gamma = 0`: the beta-VAE), and the same trainer
and disentanglement metrics.

Data: `data.dataset = "dsprites"` draws a seeded subset of `data.images` of the 737,280
dSprites (`fugato.images.dsprites`) with its five factors as attributes (shape as its index 0,
1, 2; scale, orientation in radians, position x and y as values); `"morpho-mnist"` takes the
10,000 shipped MNIST digits (the paper: 70,000) with the six Morpho-MNIST attributes measured
here (`fugato.images.morpho`). Both are split by a seeded permutation into train, valid and
test. On Morpho-MNIST the run also trains the evaluation's digit classifier, a step of its own
in the same loop (`fugato.nn.digit_classifier`, as FactorGAN's), for content preservation
(the paper's Fig. 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.images import morpho
from fugato.images.dsprites import ORIENTATIONS, POSITIONS, SCALES, dsprites
from fugato.losses.attribute import attribute_regularization, kl_divergence
from fugato.metrics.classification import classifier_accuracy
from fugato.models.classifier_phase import DigitClassifierPhase
from fugato.nn.batched import batched
from fugato.nn.digit_classifier import DigitClassifier, classifier_loss
from fugato.nn.image_vae import ImageVAE
from fugato.registry import load_function, one_value_each
from fugato.report import Evaluation
from fugato.samples import Images
from fugato.train.task import Batch, Evaluator, Nets, Sampler, Step, Task, TensorData

if TYPE_CHECKING:
    from fugato.train.run import Run

DATASETS = {"dsprites": ("shape", "scale", "orientation", "position_x", "position_y"),
            "morpho-mnist": morpho.ATTRIBUTES}
"""Data set -> the attributes it offers, in their default order."""
Z_DIM = {"dsprites": 10, "morpho-mnist": 16}
"""The paper's latent size of each data set's VAE (Table 2)."""


@dataclass
class DataConfig:
    dataset: str = "dsprites"
    """"dsprites" or "morpho-mnist"."""
    images: int = 50_000
    """Images in the set: a seeded subset of dSprites' 737,280, or the first of the 10,000
    MNIST digits."""
    attributes: list[str] = field(default_factory=list)
    """Attribute l is regularised on latent dimension l (empty: all of the data set's): the
    data set's own (`DATASETS`) or a user's "package.module:function", which takes images
    (N, H, W) float32 in [0, 1] and returns (N,) values (`user_image_attribute`)."""
    split_seed: int = 0
    valid_share: float = 0.05
    test_share: float = 0.1


@dataclass
class NetConfig:
    z_dim: int = 0
    """0: the paper's (10 for dSprites, 16 for Morpho-MNIST)."""
    beta: float = 4.0
    gamma: float = 10.0
    """Weight of the attribute term; 0 gives the beta-VAE."""
    delta: float = 1.0
    attribute_reduction: str = "sum"


@dataclass
class SampleConfig:
    eval_images: int = 4000
    """At most this many held-out test images for the metrics (a seeded subset)."""
    interpolations: int = 10
    """Content preservation: codes per regularised dimension (the paper's 10)."""
    classifier_steps: int = 2000
    """Morpho-MNIST: training steps (the first ones) in which the evaluation's digit
    classifier learns on the trainer's batches (Adam at `classifier_lr`, digits shifted by up
    to 2 pixels, `warm_cosine` schedule)."""
    classifier_lr: float = 3e-3


class ImageARVAE(DigitClassifierPhase, Sampler, Evaluator, Task):
    name = "arvae-images"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        if data.dataset not in DATASETS:
            raise FugatoError(f"data.dataset must be one of {sorted(DATASETS)}, "
                              f"not {data.dataset!r}")
        offered = DATASETS[data.dataset]
        self.attribute_names = list(data.attributes) or list(offered)
        unknown = sorted(n for n in self.attribute_names if n not in offered and ":" not in n)
        if unknown:
            raise FugatoError(f"data.attributes: {unknown} are not attributes of "
                              f"{data.dataset} ({', '.join(offered)}), nor module:function")
        for name in self.attribute_names:
            if ":" in name:
                load_function(name, "data.attributes")
        self.z_dim = config.net.z_dim or Z_DIM[data.dataset]
        self._dataset: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if len(self.attribute_names) > self.z_dim:
            raise FugatoError("net.z_dim must be at least the number of attributes")

    # -- data ----------------------------------------------------------------------------------
    @property
    def has_digits(self) -> bool:
        """Whether the images are digits (and the run trains a digit classifier)."""
        return bool(self.config.data.dataset == "morpho-mnist")

    @property
    def measurable(self) -> bool:
        """Whether every attribute can be measured on any image (Morpho-MNIST's and a user's
        can, dSprites' factors cannot), decoded ones too: attribute surfaces (Fig. 12)."""
        return self.has_digits or all(":" in name for name in self.attribute_names)

    def dataset(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images (N, H, W) float32 in [0, 1], attributes (N, L) float64, classes (N,) int64:
        the digit, or dSprites' shape) of the whole set (drawn or measured once per task)."""
        if self._dataset is None:
            self._dataset = self._load()
        return self._dataset

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        data: DataConfig = self.config.data
        if data.dataset == "dsprites":
            images, factors = dsprites(data.images, seed=data.split_seed)
            values = {"shape": factors["shape"].astype(np.float64),
                      "scale": SCALES[factors["scale"]],
                      "orientation": ORIENTATIONS[factors["orientation"]],
                      "position_x": POSITIONS[factors["position_x"]],
                      "position_y": POSITIONS[factors["position_y"]]}
            pixels, classes = images.astype(np.float32), factors["shape"].astype(np.int64)
        else:
            from fugato.images import load_mnist

            digits, labels = load_mnist()
            pixels = digits.numpy().reshape(-1, 28, 28)[: data.images]
            classes = labels.numpy()[: data.images]
            values = (morpho.morpho_mnist(pixels, progress=self.progress)
                      if self._needs_morpho else {})
        return pixels, self._attributes(pixels, values), classes

    @property
    def _needs_morpho(self) -> bool:
        return any(":" not in name for name in self.attribute_names)

    def _attributes(self, images: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
        """Attributes (N, L) of images (N, H, W): the data set's by name from `values`, a
        user's measured on the images."""
        return np.stack([user_image_attribute(name, images) if ":" in name else values[name]
                         for name in self.attribute_names], axis=1)

    def measured_attributes(self, images: np.ndarray) -> np.ndarray:
        """Attributes (N, L) measured on images (N, H, W), decoded ones too (`measurable`)."""
        return self._attributes(images, morpho.measure(images) if self._needs_morpho else {})

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images, attributes, classes) of split "train", "valid" or "test" (a seeded
        permutation)."""
        data: DataConfig = self.config.data
        images, attrs, classes = self.dataset()
        order = np.random.default_rng(data.split_seed).permutation(len(images))
        n_test, n_valid = int(len(order) * data.test_share), int(len(order) * data.valid_share)
        chosen = {"test": order[:n_test], "valid": order[n_test:n_test + n_valid],
                  "train": order[n_test + n_valid:]}[name]
        return images[chosen], attrs[chosen], classes[chosen]

    def build_data(self) -> tuple[TensorData, TensorData]:
        def tensors(split: str) -> TensorData:
            images, attrs, classes = self.split(split)
            return TensorData((torch.as_tensor(images),
                               torch.as_tensor(attrs, dtype=torch.float32),
                               torch.as_tensor(classes)))

        return tensors("train"), tensors("valid")

    # -- model ---------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        kind = "mnist" if self.has_digits else "dsprites"
        nets: Nets = {"vae": ImageVAE(kind, self.z_dim)}
        if self.has_digits:
            nets["classifier"] = DigitClassifier(dropout=0.2)
        return nets

    def optimizers(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        """The task's "main" over the VAE; "classifier" for the digit classifier."""
        optimizers = super().optimizers({"vae": nets["vae"]})
        if "classifier" in nets:
            optimizers.update(self.classifier_optimizer(nets))
        return optimizers

    def _loss(self, nets: Nets, batch: Batch, step: int | None
              ) -> tuple[torch.Tensor, dict[str, float]]:
        images, attrs = batch[0], batch[1]
        n: NetConfig = self.config.net
        logits, mu, logvar, z = nets["vae"](images)
        recon = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
        recon = recon.flatten(1).sum(dim=1).mean()
        kl = kl_divergence(mu, logvar)
        ar, per = attribute_regularization(z[:, : attrs.shape[1]], attrs, n.delta,
                                           n.attribute_reduction)
        loss = recon + n.beta * kl + n.gamma * ar
        with torch.no_grad():
            accuracy = ((logits > 0) == (images > 0.5)).float().mean()
        logs = {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(), "ar": ar.item(),
                "accuracy": accuracy.item()}
        logs.update({f"ar_{name}": float(v)
                     for name, v in zip(self.attribute_names, per.tolist(), strict=True)})
        return loss, logs

    def steps(self) -> list[Step]:
        if not self.has_digits:
            return [Step("main", self._loss)]
        return [self.classifier_step(), Step("main", self._loss)]

    def _classify(self, nets: Nets, batch: Batch, step: int | None
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        return classifier_loss(nets["classifier"], batch[0], batch[2])

    @torch.no_grad()
    def validate(self, nets: Nets, batch: Batch) -> dict[str, float]:
        logs = self._loss(nets, batch, None)[1]
        if "classifier" in nets:
            logs["classifier_accuracy"] = classifier_accuracy(nets["classifier"], batch[0],
                                                              batch[2])
        return logs

    # -- codes, images and samples -------------------------------------------------------------
    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W) -> encoder means (N, z)."""
        vae = cast(ImageVAE, self.nets["vae"].eval())
        return batched(lambda x: vae.encode(x)[0], torch.as_tensor(np.asarray(images)),
                       device=self.device).numpy()

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes (N, z) -> pixel probabilities (N, H, W) float32."""
        vae = cast(ImageVAE, self.nets["vae"].eval())
        return batched(lambda z: torch.sigmoid(vae.decode(z)),
                       torch.as_tensor(np.asarray(codes, dtype=np.float32)),
                       device=self.device).numpy()

    def sample(self, n: int, seed: int | None = None, generator: str | None = None) -> Images:
        """(n, H, W) images decoded from draws of the prior N(0, I)."""
        self.pick_generator(generator)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        return Images(self.decode(torch.randn(n, self.z_dim, generator=g).numpy()))

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Disentanglement and reconstruction on held-out test images
        (`fugato.models.arvae.image_evaluate`)."""
        from fugato.models.arvae.image_evaluate import evaluate

        return evaluate(self, run, seed)


def user_image_attribute(name: str, images: np.ndarray) -> np.ndarray:
    """A user's attribute "package.module:function" of images (N, H, W) float32 in [0, 1]:
    (N,) float64. The function is vectorised over the images (it also runs on every batch of
    decoded images that the attribute surfaces measure)."""
    return one_value_each(name, load_function(name, "data.attributes")(images), len(images),
                          "image")
