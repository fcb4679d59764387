"""`Note` and `Melody`: a monophonic line with exact timing.

Time is kept in integer ticks, `TPQ` per quarter note, so that sixteenths, triplets, quintuplets
and their sums never drift; `Note` shows the same times as `Fraction`s of a quarter note.
A `Melody` stores only sounding notes as parallel numpy arrays (cheap to cache and to slice);
rests are the gaps between them (`Melody.with_rests()` lists them explicitly).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

TPQ = 960
"""Ticks per quarter note: divisible by 2^6, 3 and 5 (64ths, triplets, quintuplets)."""

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_TONIC_PC = {
    "C": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5, "F": 5, "F#": 6,
    "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11, "CB": 11, "B#": 0,
}


def to_ticks(quarters: Fraction | float | int) -> int:
    """Quarter notes -> ticks, rounded to the nearest tick."""
    return int(round(Fraction(quarters) * TPQ))


def key_tonic(key: str | None) -> int | None:
    """Pitch class (0 = C) of a key written like "G major", "f# minor", "Bb"; None if unknown."""
    if not key:
        return None
    name = key.split()[0].replace("-", "b").upper()
    if len(name) > 1 and name[1] == "B":
        name = name[0] + "B"
    return _TONIC_PC.get(name)


@dataclass(frozen=True)
class Note:
    """One note: MIDI `pitch` (None for a rest), `onset` and `duration` in quarter notes."""

    pitch: int | None
    onset: Fraction
    duration: Fraction

    @property
    def is_rest(self) -> bool:
        return self.pitch is None

    @property
    def end(self) -> Fraction:
        return self.onset + self.duration


@dataclass(frozen=True)
class TimeSignature:
    """A time signature taking effect at `tick`."""

    tick: int
    numerator: int
    denominator: int

    @property
    def bar_ticks(self) -> int:
        return self.numerator * TPQ * 4 // self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


def _int_array(values: Any, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=dtype).reshape(-1))


@dataclass(eq=False)
class Melody:
    """A monophonic melody.

    Arrays have shape (n,) and are sorted by onset; notes never overlap.
    `pitches`: MIDI numbers (int16); `onsets`, `durations`: ticks (int64, `TPQ` per quarter).
    `pickup`: ticks of anacrusis before the first bar line. `tempo` in quarter notes per minute.
    `metadata` holds free facts: region, genre, performer, `reduced_from_polyphony`, ...
    """

    pitches: np.ndarray
    onsets: np.ndarray
    durations: np.ndarray
    time_signatures: list[TimeSignature] = field(default_factory=list)
    pickup: int = 0
    key: str | None = None
    tempo: float = 120.0
    title: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pitches = _int_array(self.pitches, np.int16)
        self.onsets = _int_array(self.onsets, np.int64)
        self.durations = _int_array(self.durations, np.int64)
        n = len(self.pitches)
        if len(self.onsets) != n or len(self.durations) != n:
            raise ValueError("pitches, onsets and durations must have the same length")
        if n:
            if (self.durations <= 0).any():
                raise ValueError("note durations must be positive")
            if (np.diff(self.onsets) < 0).any():
                raise ValueError("notes must be sorted by onset")
            if (self.onsets[:-1] + self.durations[:-1] > self.onsets[1:]).any():
                raise ValueError("notes overlap: a Melody is monophonic (see `skyline`)")
            if self.pitches.min() < 0 or self.pitches.max() > 127:
                raise ValueError("pitches must be MIDI numbers in [0, 127]")

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_notes(cls, notes: Iterable[Note], **fields: Any) -> Melody:
        """Build from `Note`s (rests are dropped: they are the gaps between notes)."""
        sounding = [n for n in notes if n.pitch is not None]
        return cls(
            pitches=np.asarray([n.pitch for n in sounding], dtype=np.int64),
            onsets=np.asarray([to_ticks(n.onset) for n in sounding], dtype=np.int64),
            durations=np.asarray([to_ticks(n.duration) for n in sounding], dtype=np.int64),
            **fields,
        )

    def replace(self, **changes: Any) -> Melody:
        return dataclasses.replace(self, **changes)

    # -- views ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pitches)

    def __eq__(self, other: object) -> bool:
        """Equal notes (pitch, onset, duration); metadata is not compared."""
        if not isinstance(other, Melody):
            return NotImplemented
        return (
            np.array_equal(self.pitches, other.pitches)
            and np.array_equal(self.onsets, other.onsets)
            and np.array_equal(self.durations, other.durations)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def notes(self) -> list[Note]:
        return [
            Note(int(p), Fraction(int(o), TPQ), Fraction(int(d), TPQ))
            for p, o, d in zip(self.pitches, self.onsets, self.durations, strict=True)
        ]

    def with_rests(self) -> list[Note]:
        """Notes with explicit rests in the gaps (a leading rest when the first note is late)."""
        out: list[Note] = []
        cursor = 0
        for note in self.notes:
            start = to_ticks(note.onset)
            if start > cursor:
                out.append(Note(None, Fraction(cursor, TPQ), Fraction(start - cursor, TPQ)))
            out.append(note)
            cursor = start + to_ticks(note.duration)
        return out

    @property
    def end(self) -> int:
        """End of the last note, in ticks."""
        return int(self.onsets[-1] + self.durations[-1]) if len(self) else 0

    @property
    def time_signature(self) -> TimeSignature:
        """The first time signature (4/4 when none is known)."""
        return self.time_signatures[0] if self.time_signatures else TimeSignature(0, 4, 4)

    def bar_starts(self) -> np.ndarray:
        """Tick of every bar line up to the end: (n_bars,) int64, starting after the pickup."""
        signatures = self.time_signatures or [TimeSignature(0, 4, 4)]
        starts: list[np.ndarray] = []
        end = max(self.end, 1)
        position = self.pickup
        for i, ts in enumerate(signatures):
            stop = signatures[i + 1].tick if i + 1 < len(signatures) else end
            position = max(position, ts.tick)
            if position < stop:
                starts.append(np.arange(position, stop, ts.bar_ticks, dtype=np.int64))
                position = int(starts[-1][-1]) + ts.bar_ticks
        return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)

    def transpose(self, semitones: int) -> Melody:
        """Shift every pitch; the key name is kept in `metadata['transposed']`."""
        meta = dict(self.metadata, transposed=self.metadata.get("transposed", 0) + semitones)
        tonic = key_tonic(self.key)
        key = self.key
        if tonic is not None and self.key:
            rest = self.key.split()[1:]
            key = " ".join([PITCH_CLASS_NAMES[(tonic + semitones) % 12], *rest])
        return self.replace(pitches=self.pitches.astype(np.int64) + semitones, key=key,
                            metadata=meta)

    def slice(self, start: int, stop: int) -> Melody:
        """Notes with onsets in [start, stop) ticks, shifted to start at 0, clipped at `stop`."""
        keep = (self.onsets >= start) & (self.onsets < stop)
        onsets = self.onsets[keep] - start
        durations = np.minimum(self.durations[keep], stop - self.onsets[keep])
        return self.replace(
            pitches=self.pitches[keep], onsets=onsets, durations=durations, pickup=0,
            time_signatures=[TimeSignature(0, self.time_signature.numerator,
                                           self.time_signature.denominator)],
        )

    def __repr__(self) -> str:
        what = self.title or self.source or "untitled"
        return f"Melody({what!r}, {len(self)} notes, {self.end / TPQ:g} quarters)"


def skyline(pitches: Sequence[int] | np.ndarray, onsets: Sequence[int] | np.ndarray,
            durations: Sequence[int] | np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Reduce possibly polyphonic notes to their top line.

    At each onset the highest pitch wins; a note is cut where the next kept note starts.
    Returns (pitches, onsets, durations, was_polyphonic), arrays of shape (m,).
    """
    p = np.asarray(pitches, dtype=np.int64)
    o = np.asarray(onsets, dtype=np.int64)
    d = np.asarray(durations, dtype=np.int64)
    keep_pos = d > 0
    p, o, d = p[keep_pos], o[keep_pos], d[keep_pos]
    if len(p) == 0:
        return p, o, d, False
    order = np.lexsort((-p, o))  # by onset, highest pitch first
    p, o, d = p[order], o[order], d[order]
    first_at_onset = np.r_[True, o[1:] != o[:-1]]
    polyphonic = not first_at_onset.all()
    p, o, d = p[first_at_onset], o[first_at_onset], d[first_at_onset]
    ends = o + d
    # A sustained lower note would overlap the next onset: cut it there. A note still sounding
    # when a *higher* note starts also ends there (the top line moves up).
    if len(o) > 1:
        polyphonic = polyphonic or bool((ends[:-1] > o[1:]).any())
        ends[:-1] = np.minimum(ends[:-1], o[1:])
    return p, o, ends - o, polyphonic
