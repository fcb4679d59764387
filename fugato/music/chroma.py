"""Frame-wise chroma and beats (what the dual music-dance system composes) -> a `Melody`.

The dance -> music net writes, per frame at `fps` (25), 12 chroma values (pitch classes C..B)
and a beat activation. `chroma_to_melody` turns them into a playable one-voice line:

- notes: one per beat interval, from each beat to the next (the stretch before the first beat
  is a note too when it lasts at least `min_frames`); with fewer than two beats, one per run
  of frames sharing the strongest pitch class, runs shorter than `min_frames` merged into the
  note before them;
- pitch: the strongest pitch class of the chroma summed over the note's frames, placed in the
  octave (within [`low`, `high`), default C4..B5) nearest the previous note, so the line moves
  by steps and small leaps; a note whose summed chroma is all zero is a rest;
- time: a beat is a quarter note, tempo = 60 * fps / the median beat interval in frames
  (120 BPM without beats); note boundaries are rounded to the nearest sixteenth note (so
  MIDI readers that quantise, like music21, read the notes back as written), and notes
  shorter than that vanish. Without beats, neighbouring notes of one pitch are joined.

No torch here: arrays are numpy.
"""

from __future__ import annotations

import numpy as np

from fugato.music.melody import TPQ, Melody, TimeSignature


def beat_peaks(activation: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(T,) beat activation -> (n,) int64 ascending frames of its peaks at or above
    `threshold`: frames not below their left neighbour and above their right one (the first
    frame of a plateau counts; the ends compare with one neighbour only)."""
    a = np.asarray(activation, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"activation of shape {a.shape}: expected (T,)")
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    left = np.concatenate([[-np.inf], a[:-1]])
    right = np.concatenate([a[1:], [-np.inf]])
    return np.flatnonzero((a >= threshold) & (a >= left) & (a > right)).astype(np.int64)


def _boundaries(chroma: np.ndarray, beats: np.ndarray, min_frames: int) -> list[int]:
    """Frame boundaries [b_0 = 0 or first beat, ..., T] of the notes."""
    t = len(chroma)
    beats = np.unique(beats[(beats >= 0) & (beats < t)])
    if len(beats) >= 2:
        cuts = beats.tolist()
        if cuts[0] >= min_frames:
            cuts = [0, *cuts]
        return [*cuts, t]
    strongest = chroma.argmax(axis=1)
    cuts = [0]
    for k in range(1, t):
        if strongest[k] != strongest[k - 1] and k - cuts[-1] >= min_frames:
            cuts.append(k)
    if t - cuts[-1] < min_frames and len(cuts) > 1:
        cuts.pop()
    return [*cuts, t]


def chroma_to_melody(chroma: np.ndarray, beats: np.ndarray | None = None, fps: float = 25.0,
                     low: int = 60, high: int = 84, min_frames: int = 3,
                     title: str = "") -> Melody:
    """`chroma` (T, 12) and beat frames `beats` (n,) (e.g. `beat_peaks` of the composed beat
    column; None or fewer than two: notes follow chroma changes) -> a 4/4 `Melody` (module
    docstring). `high - low` must be at least 12."""
    c = np.asarray(chroma, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 12:
        raise ValueError(f"chroma of shape {c.shape}: expected (T, 12)")
    if high - low < 12:
        raise ValueError(f"pitch range [{low}, {high}) holds less than an octave")
    c = np.nan_to_num(c, nan=0.0).clip(min=0.0)
    b = np.zeros(0, dtype=np.int64) if beats is None else np.asarray(beats, dtype=np.int64)
    signatures = [TimeSignature(0, 4, 4)]
    if len(c) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Melody(empty, empty, empty, time_signatures=signatures, title=title)
    cuts = _boundaries(c, b, max(1, min_frames))
    in_range = np.unique(b[(b >= 0) & (b < len(c))])
    by_beats = len(in_range) >= 2
    interval = float(np.median(np.diff(in_range))) if by_beats else fps / 2.0
    tempo = 60.0 * fps / max(interval, 1.0)
    ticks_per_frame = tempo / 60.0 / fps * TPQ
    grid = TPQ // 4

    def tick(frame: int) -> int:
        return int(round(frame * ticks_per_frame / grid)) * grid

    pitches: list[int] = []
    onsets: list[int] = []
    durations: list[int] = []
    previous = None
    for a, e in zip(cuts[:-1], cuts[1:], strict=True):
        summed = c[a:e].sum(axis=0)
        start, stop = tick(a), tick(e)
        if stop <= start or not summed.any():
            continue
        pc = int(summed.argmax())
        candidates = np.arange(low + (pc - low) % 12, high, 12)
        target = previous if previous is not None else (low + high) / 2
        pitch = int(candidates[np.abs(candidates - target).argmin()])
        if (not by_beats and pitches and pitch == pitches[-1]
                and onsets[-1] + durations[-1] == start):
            durations[-1] = stop - onsets[-1]  # one note per change of pitch
        else:
            pitches.append(pitch)
            onsets.append(start)
            durations.append(stop - start)
        previous = pitch
    return Melody(np.asarray(pitches, dtype=np.int64), np.asarray(onsets, dtype=np.int64),
                  np.asarray(durations, dtype=np.int64), time_signatures=signatures,
                  tempo=round(tempo, 3), title=title)
