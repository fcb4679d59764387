"""The evaluation's digit classifier, trained as a phase of the run's own training loop.

AR-VAE on Morpho-MNIST (content preservation) scores each run with a `DigitClassifier` the run
trained itself, so that every setting of a run is measured in one feature space and nothing
trained elsewhere is loaded; FactorGAN's paired digits train one too, for their `own_` numbers
(their FID and dependency are measured in the shared space of `fugato.metrics.digit_space`,
one for every run and seed).
`DigitClassifierPhase` does it once for a task whose nets hold the classifier under
"classifier" and whose sample config has `classifier_steps` and `classifier_lr`: an Adam of
its own, the `warm_cosine` learning-rate shape, and a `Step` confined to the first
`classifier_steps` training steps. The task says what the classifier learns on (`_classify`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from fugato.config import ExperimentConfig
from fugato.nn.digit_classifier import warm_cosine
from fugato.train.task import Batch, Nets, Step

CLASSIFIER = "classifier"
"""The name of the classifier's net, optimizer and step."""


class DigitClassifierPhase(ABC):
    """Mixin of a `Task` (put it before `Task` among the bases: it overrides `lr_scale`)."""

    config: ExperimentConfig

    def classifier_optimizer(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        """{"classifier": Adam at `sample.classifier_lr`}, to add to the task's optimizers."""
        return {CLASSIFIER: torch.optim.Adam(nets[CLASSIFIER].parameters(),
                                             lr=self.config.sample.classifier_lr)}

    def classifier_step(self) -> Step:
        """The classifier's update, on the first `sample.classifier_steps` training steps."""
        return Step(CLASSIFIER, self._classify, stop=self.config.sample.classifier_steps)

    def lr_scale(self, optimizer: str, step: int) -> float:
        """The classifier's learning rate follows `warm_cosine` over its steps; others: 1."""
        if optimizer != CLASSIFIER:
            return 1.0
        return warm_cosine(step, self.config.sample.classifier_steps)

    @abstractmethod
    def _classify(self, nets: Nets, batch: Batch, step: int
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        """The classifier's loss and logs on this training step (`classifier_loss`)."""
