"""A small convolutional digit classifier whose hidden layer is the feature space of the
classifier-feature FID (FactorGAN's paired-digit evaluation; the reference code's MNIST CNN).

Two 5x5 convolutions (10 and 20 channels), each followed by 2x2 average pooling and a leaky
ReLU, a 320 -> 50 layer (the features) and a 50 -> 10 output.
"""

from __future__ import annotations

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
