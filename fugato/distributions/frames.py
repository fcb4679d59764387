"""What both base distributions share: the forms their input takes and the covariance kinds.

`x` is a (B, T, D) tensor or array of sequences (with optional `lengths` (B,)), or a list of
(T_i, D) arrays of variable lengths; `pad_sequences` brings either to one padded (B, T, D)
tensor, and `frame_mask` says which of its frames are real.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

Sequences = torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray]

COVARIANCE_TYPES = ("diag", "full")
"""Emission / component covariances: diagonal (saved as (S, D) variances) or unrestricted
((S, D, D) matrices)."""


def pad_sequences(x: Sequences, lengths: torch.Tensor | None = None,
                  dtype: torch.dtype = torch.float64,
                  device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, D) padded sequences and their (B,) int64 lengths.

    A (B, T, D) array is taken as is (all of length T unless `lengths` says otherwise); a list
    of (T_i, D) arrays is zero-padded to the longest.
    """
    if isinstance(x, torch.Tensor | np.ndarray) and np.ndim(x) == 3:
        out = torch.as_tensor(x, dtype=dtype, device=device)
        if lengths is None:
            lengths = torch.full((out.shape[0],), out.shape[1], dtype=torch.long)
        return out, torch.as_tensor(lengths, dtype=torch.long, device=out.device)
    items = [torch.as_tensor(s, dtype=dtype, device=device) for s in x]
    if not items or any(s.ndim != 2 for s in items):
        raise ValueError("expected (B, T, D) or a non-empty list of (T_i, D) sequences")
    out = nn.utils.rnn.pad_sequence(items, batch_first=True)
    return out, torch.tensor([len(s) for s in items], dtype=torch.long, device=out.device)


def frame_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(T, B) bool: frame t of sequence b is real (sequences are left-aligned)."""
    return torch.arange(steps, device=lengths.device)[:, None] < lengths[None, :]


def check_covariance_type(covariance_type: str) -> None:
    """Raise ValueError unless `covariance_type` is one of `COVARIANCE_TYPES`."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, "
                         f"not {covariance_type!r}")
