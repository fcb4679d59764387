"""TextCNN (Kim 2014) as used by SeqGAN's discriminator: FusionGAN's critics and its genre
classifier.

Tokens are embedded, convolved over time with several window widths, max-pooled over time,
passed through a highway layer and dropout, and mapped to `outputs` scores. The embedding is a
bias-free linear map of one-hot vectors, so the net also takes token *distributions* (B, T, V),
e.g. the interpolates of a gradient penalty. `spectral_norm=True` puts spectral normalisation
on every weight (embedding included): a Lipschitz critic for the Wasserstein objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn


class TextCNN(nn.Module):
    """`forward(tokens (B, T) int64 | probabilities (B, T, V)) -> scores (B, outputs)`.

    Windows wider than T are skipped (zero features), so any T >= 1 is accepted.
    """

    def __init__(self, vocab_size: int, embed: int = 32,
                 windows: Sequence[int] = (2, 3, 4, 6, 8, 12, 16), filters: int = 32,
                 outputs: int = 1, dropout: float = 0.25, spectral_norm: bool = False) -> None:
        super().__init__()
        norm = _sn if spectral_norm else (lambda m: m)
        self.vocab_size = vocab_size
        self.windows = tuple(int(w) for w in windows)
        self.embed = norm(nn.Linear(vocab_size, embed, bias=False))
        self.convs = nn.ModuleList(norm(nn.Conv1d(embed, filters, w)) for w in self.windows)
        features = filters * len(self.windows)
        self.highway = norm(nn.Linear(features, 2 * features))
        self.drop = nn.Dropout(dropout)
        self.out = norm(nn.Linear(features, outputs))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) ids or (B, T, V) probabilities -> pooled features (B, filters * windows)."""
        if x.dtype in (torch.int64, torch.int32):
            weight = cast(torch.Tensor, self.embed.weight)
            h = F.embedding(x, weight.t())  # (B, T, E): a row of W^T per token
        else:
            h = self.embed(x)
        h = h.transpose(1, 2)  # (B, E, T)
        pooled = []
        for width, conv in zip(self.windows, self.convs, strict=True):
            if width > h.shape[-1]:
                pooled.append(h.new_zeros(len(h), cast(int, conv.out_channels)))
            else:
                pooled.append(F.relu(conv(h)).amax(dim=-1))
        f = torch.cat(pooled, dim=-1)
        transform, gate = self.highway(f).chunk(2, dim=-1)
        gate = torch.sigmoid(gate)
        return gate * F.relu(transform) + (1 - gate) * f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))
