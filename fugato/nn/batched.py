"""Inference over many items in chunks: one helper and one chunk-size rule for every model.

Evaluations and samplers run nets over thousands of bars, windows or images. `batched` cuts
the inputs along their first dimension into chunks of `INFERENCE_BATCH` items (fewer where a
caller's items are large), runs `fn` on each under `torch.no_grad()` on the given device, and
concatenates the outputs on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fugato import threads

INFERENCE_BATCH = 1024
"""Items per chunk. Bars, windows and digits of every model here fit it in a few hundred MB."""


@torch.no_grad()
def batched(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor,
            device: torch.device | str = "cpu", batch_size: int = INFERENCE_BATCH,
            empty: torch.Tensor | None = None) -> torch.Tensor:
    """`fn(*chunks)` over chunks of `inputs` (tensors sharing their first dimension N), moved
    to `device`; the outputs, concatenated along dimension 0 on the CPU. With N = 0, `fn` is
    not called: `empty` is returned (default: a (0,) float tensor)."""
    n = len(inputs[0])
    if any(len(x) != n for x in inputs):
        raise ValueError(f"inputs differ in length: {[len(x) for x in inputs]}")
    if n == 0:
        return torch.zeros(0) if empty is None else empty
    outputs = []
    for i in range(0, n, batch_size):
        threads.adapt()
        outputs.append(fn(*(x[i:i + batch_size].to(device) for x in inputs)).cpu())
    return torch.cat(outputs)
