"""Accuracy of a classifier on labelled examples (the evaluations' own digit classifier)."""

from __future__ import annotations

import torch
from torch import nn

from fugato.nn.batched import INFERENCE_BATCH, batched


@torch.no_grad()
def classifier_accuracy(net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
                        batch_size: int = INFERENCE_BATCH) -> float:
    """Share of `inputs` (N, ...) whose argmax class under `net` is `labels` (N,) (run in
    chunks on the net's device)."""
    device = next(net.parameters()).device
    predicted = batched(lambda x: net(x).argmax(-1), inputs, device=device,
                        batch_size=batch_size)
    return float((predicted == labels).double().mean())
