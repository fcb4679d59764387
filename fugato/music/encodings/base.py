"""The protocol every token encoding follows, and the decoding helper they share.

An encoding turns a `Melody` into integer tokens and back. It is a small immutable value:
its whole state is `to_dict()` (JSON-safe), so a checkpoint can embed it and
`encoding_from_dict` rebuilds the same vocabulary, token for token.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from fugato.music.melody import Melody, TimeSignature


class Encoding(ABC):
    """Base class: `encode`, `decode`, `vocab_size`, `token_names`, `to_dict` / `from_dict`.

    `token_names[i]` is the display name of token id `i`; the vocabulary depends only on the
    constructor arguments (never on data), so it is the same in every process.
    """

    kind: ClassVar[str] = ""
    """Registry key written as `to_dict()["type"]`."""

    @abstractmethod
    def encode(self, melody: Melody) -> np.ndarray:
        """Melody -> int64 tokens (shape depends on the encoding)."""

    @abstractmethod
    def decode(self, tokens: Any) -> Melody:
        """Tokens (numpy array, list or torch tensor) -> Melody."""

    @property
    @abstractmethod
    def token_names(self) -> list[str]:
        """Display name of every token id, in id order."""

    @property
    def vocab_size(self) -> int:
        return len(self.token_names)

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description; `from_dict(to_dict())` rebuilds an equal encoding."""
        return {"type": self.kind, **self._params()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Encoding:
        params = {k: v for k, v in d.items() if k != "type"}
        if d.get("type", cls.kind) != cls.kind:
            raise ValueError(f"not a {cls.kind!r} encoding: {d.get('type')!r}")
        return cls(**params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Encoding):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_dict().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


def as_numpy_tokens(tokens: Any) -> np.ndarray:
    """Tokens from a list, numpy array or torch tensor (any device) -> int64 numpy array."""
    if hasattr(tokens, "detach"):  # a torch tensor; torch itself is not imported here
        tokens = tokens.detach().cpu().numpy()
    return np.asarray(tokens, dtype=np.int64)


def melody_from_events(
    is_onset: np.ndarray, is_stop: np.ndarray, pitches: np.ndarray, ticks: np.ndarray, end: int,
    time_signature: tuple[int, int] = (4, 4),
) -> Melody:
    """Build a Melody from a flat token stream already classified.

    All arrays have shape (T,): `is_onset[t]` a note starts at tick `ticks[t]` with MIDI
    `pitches[t]`; `is_stop[t]` a rest starts there; other steps continue what sounds.
    A note lasts until the next onset or stop, or until `end` (ticks). Holds before the first
    onset or stop continue something outside the stream and give no note.
    """
    events = np.flatnonzero(is_onset | is_stop)
    # A note ends where the next event (onset or rest) begins; the last one at `end`.
    event_ticks = ticks[events]
    next_ticks = np.append(event_ticks[1:], end)
    keep = is_onset[events]
    onsets = event_ticks[keep]
    return Melody(
        pitches=pitches[events][keep],
        onsets=onsets,
        durations=next_ticks[keep] - onsets,
        time_signatures=[TimeSignature(0, *time_signature)],
    )
