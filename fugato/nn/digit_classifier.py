"""A small convolutional digit classifier whose hidden layer is the feature space of the
classifier-feature FID (FactorGAN's paired-digit evaluation; the reference code's MNIST CNN),
and how it is trained (`classifier_loss` on shifted digits, `warm_cosine` learning-rate
shape): once per machine for FactorGAN's shared FID space (`fugato.metrics.digit_space`), or as
a step of a run's own training loop (AR-VAE's content preservation, FactorGAN's `own_` numbers).

Two 5x5 convolutions (10 and 20 channels), each followed by 2x2 average pooling and a leaky
ReLU, a 320 -> 50 layer (the features) and a 50 -> 10 output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

FEATURES = 50
"""Width of the hidden layer `features` returns."""


class DigitClassifier(nn.Module):
    """`forward(images) -> logits (B, 10)`; `features(images) -> (B, 50)`.

    Images are (B, 784), (B, 28, 28) or (B, 1, 28, 28) with pixels in [0, 1]."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.hidden = nn.Linear(320, FEATURES)
        self.out = nn.Linear(FEATURES, 10)
        self.drop = nn.Dropout(dropout)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = images.reshape(len(images), 1, 28, 28)
        x = F.leaky_relu(F.avg_pool2d(self.conv1(x), 2))  # (B, 10, 12, 12)
        x = F.leaky_relu(F.avg_pool2d(self.conv2(x), 2))  # (B, 20, 4, 4)
        return F.leaky_relu(self.hidden(x.flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(images)))


def shift_digits(images: torch.Tensor, pixels: float = 2.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Digits (B, 784) or (B, 28, 28) each moved by its own random offset of up to `pixels`
    pixels in x and y (bilinear, zeros shifted in), returned (B, 784): the augmentation that
    lifts the classifier trained on 8,000 digits from about 97.5% to above 98% held-out
    accuracy."""
    b, device = len(images), images.device
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / 28 of them
    offsets = torch.rand(b, 2, generator=generator, device=device) * 2 - 1
    theta[:, :, 2] = offsets * pixels * 2 / 28
    grid = F.affine_grid(theta, [b, 1, 28, 28], align_corners=False)
    moved = F.grid_sample(images.reshape(b, 1, 28, 28), grid, align_corners=False)
    return moved.reshape(b, 28 * 28)


def classifier_loss(net: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of `net` on training digits (B, 784) with classes (B,), each digit moved
    by a random shift (`shift_digits`, drawn from `generator`, default the global one); logs
    classifier_loss and classifier_accuracy."""
    logits = net(shift_digits(images, generator=generator))
    loss = F.cross_entropy(logits, labels)
    accuracy = (logits.argmax(-1) == labels).float().mean()
    return loss, {"classifier_loss": loss.item(), "classifier_accuracy": accuracy.item()}


def warm_cosine(step: int, steps: int) -> float:
    """The classifier's learning-rate factor at `step` of its `steps`: rising over the first
    30%, then a cosine down to 0 (held-out accuracy 98.5% against 97.5% at a constant rate)."""
    steps = max(1, steps)
    warm = max(1, int(0.3 * steps))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, steps - warm))))
