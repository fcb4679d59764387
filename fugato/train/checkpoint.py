"""Checkpoints: weights, optimizer and RNG state, plus the config and encoding that rebuild the
model, so that `fugato sample RUN` needs nothing but the run folder."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from fugato.atomic import atomic_path
from fugato.errors import FugatoError

CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: a kill during the write leaves the previous checkpoint intact. The
    same payload gives the same bytes: torch.save names the zip's folder after the file it
    writes, so it writes to memory first (a temporary file's random name would differ)."""
    buffer = io.BytesIO()
    torch.save({"version": CHECKPOINT_VERSION, **payload}, buffer)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FugatoError(f"{path}: no checkpoint there")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # a corrupt or foreign file
        reason = type(e).__name__
        raise FugatoError(f"{path}: not a readable fugato checkpoint ({reason})") from None
    if not isinstance(payload, dict) or "config" not in payload:
        raise FugatoError(f"{path}: not a fugato checkpoint")
    return payload


def saved_state(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The task's saved state in a loaded checkpoint (`Task.saved_state()`); checkpoints
    written before the redesign keep it as "task_state"."""
    state = payload.get("saved_state", payload.get("task_state"))
    return None if state is None else dict(state)
