"""`MeasureEncoding`: one 4/4 bar as 24 tokens (the AR-VAE / MeasureVAE representation).

Each beat has 6 ticks at 0, 1/4, 1/3, 1/2, 2/3 and 3/4 of a quarter note (sixteenths and
eighth-note triplets), i.e. Melody ticks 0, 240, 320, 480, 640, 720 after each beat.
On each tick: the MIDI pitch of a note starting there, `rest` where a rest starts, `__` (hold)
otherwise. Pitches are MIDI numbers (not note names, whose vocabulary in the reference code
depends on the data and splits enharmonics).

Bar lines: a rest running across a bar line is written again as `rest` on the new bar's first
tick (rests are not tied in notation), while a note tied across a bar line continues as `__`
(the reference code's choice: one note, one onset). A bar on its own therefore decodes to the
notes *starting* in it, cut at its end: exactly `melody.slice(bar_start, bar_start + 3840)`;
bars decoded together rejoin the tied note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

import numpy as np

from fugato.music.encodings.base import Encoding, as_numpy_tokens, melody_from_events
from fugato.music.melody import TPQ, Melody

BEAT_TICKS = (0, 240, 320, 480, 640, 720)
"""Tick offsets (Melody ticks, `TPQ` = 960 per quarter) of the 6 grid points in a beat."""
BEATS_PER_BAR = 4
STEPS_PER_BAR = BEATS_PER_BAR * len(BEAT_TICKS)  # 24
BAR_TICKS = BEATS_PER_BAR * TPQ
GRID_TICKS = np.array([b * TPQ + t for b in range(BEATS_PER_BAR) for t in BEAT_TICKS],
                      dtype=np.int64)
"""(24,) tick offset of every token within its bar."""

# slot of every tick offset within a bar, -1 off the grid: one table lookup tests a whole array
_SLOT_OF_TICK = np.full(BAR_TICKS, -1, dtype=np.int64)
_SLOT_OF_TICK[GRID_TICKS] = np.arange(STEPS_PER_BAR)

FOUR_FOUR_SIGNATURES = frozenset({(4, 4), (2, 2)})
"""(numerator, denominator) whose bar is four quarters: 4/4 and C (both read as 4/4), 2/2 = C|."""

SKIP_REASONS = ("time_signature", "off_grid", "pitch_range")
"""Why `encode_bars` drops a bar: not a whole four-quarter bar of 4/4, C or C|; a note or rest
starting between grid ticks; a note outside the pitch range."""


def _grid_slots(offsets: np.ndarray) -> np.ndarray:
    """Tick offsets within a bar -> slot in [0, 24), or -1 when off the grid or outside the bar."""
    inside = (offsets >= 0) & (offsets < BAR_TICKS)
    return np.where(inside, _SLOT_OF_TICK[np.clip(offsets, 0, BAR_TICKS - 1)], -1)


class MeasureEncoding(Encoding):
    """4/4 bars of 24 tokens; vocabulary `__` (hold, id 0), `rest` (id 1), then MIDI pitches
    `pitch_range[0]..pitch_range[1]` (ids 2..).

    `include_pickup`: also encode an anacrusis as a whole bar that starts with a rest
    (the reference pads pick-up bars with rests the same way).
    """

    kind = "measure"
    HOLD = 0
    REST = 1
    first_pitch_token = 2
    steps_per_bar = STEPS_PER_BAR

    def __init__(self, pitch_range: Sequence[int] = (55, 84), include_pickup: bool = True) -> None:
        low, high = (int(p) for p in pitch_range)
        if not 0 <= low <= high <= 127:
            raise ValueError(f"pitch_range must satisfy 0 <= low <= high <= 127, got {pitch_range}")
        self.low, self.high = low, high
        self.include_pickup = bool(include_pickup)

    def _params(self) -> dict[str, Any]:
        return {"pitch_range": [self.low, self.high], "include_pickup": self.include_pickup}

    @property
    def token_names(self) -> list[str]:
        return ["__", "rest", *(str(p) for p in range(self.low, self.high + 1))]

    @property
    def last_pitch_token(self) -> int:
        return self.first_pitch_token + self.high - self.low

    def pitch_token(self, pitch: Any) -> Any:
        """MIDI pitch(es) -> token id(s) (no range check)."""
        return pitch - self.low + self.first_pitch_token

    def token_pitch(self, token: Any) -> Any:
        """Token id(s) -> MIDI pitch(es); meaningful only for pitch tokens."""
        return token - self.first_pitch_token + self.low

    # -- encoding --------------------------------------------------------------------------
    def bar_starts(self, melody: Melody) -> tuple[np.ndarray, np.ndarray]:
        """Candidate bars: (starts (n,) ticks, four_four (n,) bool: a whole 4/4-equivalent bar)."""
        starts = melody.bar_starts()
        signatures = melody.time_signatures or [melody.time_signature]
        sig_ticks = np.array([s.tick for s in signatures], dtype=np.int64)
        sig_ok = np.array([(s.numerator, s.denominator) in FOUR_FOUR_SIGNATURES
                           for s in signatures])
        if self.include_pickup and 0 < melody.pickup < BAR_TICKS and sig_ok[0]:
            starts = np.concatenate([[melody.pickup - BAR_TICKS], starts])
        which = np.clip(np.searchsorted(sig_ticks, starts, side="right") - 1, 0, None)
        # a bar cut short by a signature change is not a whole bar; the last bar may run past
        # the melody's end (it is padded with rest)
        lengths = np.append(np.diff(starts), BAR_TICKS)
        return starts, sig_ok[which] & (lengths == BAR_TICKS)

    def _encode_arrays(self, starts: np.ndarray, ok_sig: np.ndarray, on: np.ndarray,
                       end: np.ndarray, pitch: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Core of `encode_bars`, on plain arrays so that a whole corpus runs in one pass.

        `starts`, `ok_sig`: (n,) candidate bars, increasing; `on`, `end`, `pitch`: (m,) notes
        sorted by onset, monophonic. Returns (tokens (n, 24) for every candidate bar,
        keep (n,) bool, {reason: (n,) bool} over `SKIP_REASONS`).
        """
        n_bars = len(starts)
        if n_bars == 0 or len(on) == 0:  # nothing to index: all rest (or no bar at all)
            tokens = np.full((n_bars, STEPS_PER_BAR), self.HOLD, dtype=np.int64)
            tokens[:, 0] = self.REST
            no = np.zeros(n_bars, dtype=bool)
            return tokens, ok_sig.copy(), {"time_signature": ~ok_sig, "off_grid": no,
                                           "pitch_range": no}
        bar_end = starts + BAR_TICKS
        # onsets: which bar, which slot; a note before every bar, or past the end of a longer
        # (not 4/4) bar, belongs to no candidate
        on_bar = np.searchsorted(starts, on, side="right") - 1
        inside = (on_bar >= 0) & (on < bar_end[np.clip(on_bar, 0, None)])
        on_bar, on_pitch = on_bar[inside], pitch[inside]
        on_slot = _grid_slots(on[inside] - starts[on_bar])
        # rest starts: the end of a note followed by a gap (or by nothing); one on a bar line
        # that begins no bar (the melody's end) is no rest
        gap = np.append(end[:-1] < on[1:], True)
        rest_at = end[gap]
        rest_bar = np.searchsorted(starts, rest_at, side="right") - 1
        in_bar = (rest_bar >= 0) & (rest_at < bar_end[np.clip(rest_bar, 0, None)])
        rest_bar = rest_bar[in_bar]
        rest_slot = _grid_slots(rest_at[in_bar] - starts[rest_bar])

        off_grid = np.zeros(n_bars, dtype=bool)
        off_grid[on_bar[on_slot < 0]] = True
        off_grid[rest_bar[rest_slot < 0]] = True
        out_of_range = np.zeros(n_bars, dtype=bool)
        out_of_range[on_bar[(on_pitch < self.low) | (on_pitch > self.high)]] = True

        tokens = np.full((n_bars, STEPS_PER_BAR), self.HOLD, dtype=np.int64)
        # first tick: hold when a note from an earlier bar still sounds, else rest
        last_before = np.searchsorted(on, starts, side="left") - 1
        sounding = (last_before >= 0) & (end[np.clip(last_before, 0, None)] > starts)
        tokens[~sounding, 0] = self.REST
        good = rest_slot >= 0
        tokens[rest_bar[good], rest_slot[good]] = self.REST
        good = on_slot >= 0
        tokens[on_bar[good], on_slot[good]] = self.pitch_token(on_pitch[good])

        bad = {"time_signature": ~ok_sig, "off_grid": off_grid & ok_sig,
               "pitch_range": out_of_range & ok_sig & ~off_grid}
        return tokens, ok_sig & ~off_grid & ~out_of_range, bad

    @overload
    def encode_bars(self, melody: Melody, return_starts: Literal[False] = False
                    ) -> tuple[np.ndarray, dict[str, int]]: ...

    @overload
    def encode_bars(self, melody: Melody, return_starts: Literal[True]
                    ) -> tuple[np.ndarray, dict[str, int], np.ndarray]: ...

    @overload
    def encode_bars(self, melody: Melody, return_starts: bool = False
                    ) -> tuple[np.ndarray, dict[str, int]] | tuple[np.ndarray, dict[str, int],
                                                                    np.ndarray]: ...

    def encode_bars(self, melody: Melody, return_starts: bool = False
                    ) -> tuple[np.ndarray, dict[str, int]] | tuple[np.ndarray, dict[str, int],
                                                                    np.ndarray]:
        """Encode every whole 4/4 bar of `melody`.

        Returns (bars (n_bars, 24) int64, skipped {reason: count} over `SKIP_REASONS`), plus the
        start tick of each kept bar, (n_bars,) int64, when `return_starts`.
        """
        starts, ok_sig = self.bar_starts(melody)
        tokens, keep, bad = self._encode_arrays(
            starts, ok_sig, melody.onsets, melody.onsets + melody.durations,
            melody.pitches.astype(np.int64))
        skipped = {reason: int(mask.sum()) for reason, mask in bad.items()}
        if return_starts:
            return tokens[keep], skipped, starts[keep]
        return tokens[keep], skipped

    def encode(self, melody: Melody) -> np.ndarray:
        """Melody -> (n_bars, 24) int64: its encodable 4/4 bars (see `encode_bars`)."""
        return self.encode_bars(melody)[0]

    def encode_corpus(self, melodies: Iterable[Melody]
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Encode many melodies in one vectorised pass.

        The melodies are laid end to end on one time line, each at least two bars after the
        previous one ends (so no note, rest or pickup bar reaches a neighbour), and encoded
        together; only finding each melody's bar lines loops over melodies.
        Returns (bars (N, 24) int64, tune_index (N,) int64: position of each bar's melody in
        `melodies`, stats: skipped bars by reason plus `tunes`, `tunes_with_bars`, `bars`).
        Equal to concatenating `encode_bars` of each melody.
        """
        starts, ok_sig, on, end, pitch, tune_of_bar = [], [], [], [], [], []
        offset = 0
        n_tunes = 0
        for i, melody in enumerate(melodies):
            n_tunes += 1
            bar_starts, ok = self.bar_starts(melody)
            # a pickup bar starts up to one bar before tick 0: start this melody a bar later
            offset += BAR_TICKS
            starts.append(bar_starts + offset)
            ok_sig.append(ok)
            tune_of_bar.append(np.full(len(bar_starts), i, dtype=np.int64))
            on.append(melody.onsets + offset)
            end.append(melody.onsets + melody.durations + offset)
            pitch.append(melody.pitches.astype(np.int64))
            last = max(melody.end, int(bar_starts[-1]) + BAR_TICKS if len(bar_starts) else 0)
            offset += last + BAR_TICKS
        stats = dict.fromkeys(SKIP_REASONS, 0)
        if n_tunes == 0:
            stats.update(tunes=0, tunes_with_bars=0, bars=0)
            return (np.zeros((0, STEPS_PER_BAR), dtype=np.int64), np.zeros(0, dtype=np.int64),
                    stats)
        tokens, keep, bad = self._encode_arrays(
            *(np.concatenate(a) for a in (starts, ok_sig, on, end, pitch)))
        tune_index = np.concatenate(tune_of_bar)[keep]
        stats.update({reason: int(mask.sum()) for reason, mask in bad.items()})
        stats.update(tunes=n_tunes, tunes_with_bars=len(np.unique(tune_index)),
                     bars=int(keep.sum()))
        return tokens[keep], tune_index, stats

    # -- augmentation ----------------------------------------------------------------------
    @overload
    def transpositions(self, bars: np.ndarray, groups: np.ndarray | None = None,
                       return_index: Literal[False] = False) -> np.ndarray: ...

    @overload
    def transpositions(self, bars: np.ndarray, groups: np.ndarray | None = None, *,
                       return_index: Literal[True]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    @overload
    def transpositions(self, bars: np.ndarray, groups: np.ndarray | None = None,
                       return_index: bool = False
                       ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def transpositions(self, bars: np.ndarray, groups: np.ndarray | None = None,
                       return_index: bool = False
                       ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every transposition (the original included) that keeps all notes in the pitch range.

        `bars`: (N, 24) tokens. `groups`: optional (N,) ids (e.g. tune_index): the allowed shifts
        are then those that keep the whole group in range (the reference transposes whole
        tunes); by default each bar is shifted on its own. A bar without notes appears once.
        Returns the augmented bars (M, 24) int64, ordered by source bar then by shift upwards;
        with `return_index` also source (M,) (row of `bars`) and shift (M,) semitones.
        """
        bars = as_numpy_tokens(bars)
        is_pitch = bars >= self.first_pitch_token
        lowest = np.where(is_pitch, bars, self.last_pitch_token).min(axis=1)
        highest = np.where(is_pitch, bars, self.first_pitch_token).max(axis=1)
        if groups is not None:
            _, inverse = np.unique(np.asarray(groups), return_inverse=True)
            group_low = np.full(inverse.max(initial=-1) + 1, self.last_pitch_token)
            group_high = np.full_like(group_low, self.first_pitch_token)
            np.minimum.at(group_low, inverse, lowest)
            np.maximum.at(group_high, inverse, highest)
            lowest, highest = group_low[inverse], group_high[inverse]
        down = self.first_pitch_token - lowest  # <= 0
        up = self.last_pitch_token - highest  # >= 0
        has_notes = lowest <= highest  # False for a bar (or group) without notes
        down = np.where(has_notes, down, 0)
        counts = np.where(has_notes, up - down + 1, 1)
        source = np.repeat(np.arange(len(bars)), counts)
        first_row = np.repeat(np.cumsum(counts) - counts, counts)
        shift = np.repeat(down, counts) + np.arange(len(source)) - first_row
        out = bars[source] + shift[:, None] * is_pitch[source]
        if return_index:
            return out, source, shift
        return out

    # -- decoding --------------------------------------------------------------------------
    def decode(self, tokens: Any) -> Melody:
        """Bars (n, 24) or (24,) -> one 4/4 Melody of n bars laid end to end.

        A leading `__` with nothing before it continues a note from outside: it gives no note.
        """
        flat = as_numpy_tokens(tokens).reshape(-1)
        if len(flat) % STEPS_PER_BAR:
            raise ValueError(f"expected a multiple of {STEPS_PER_BAR} tokens, got {len(flat)}")
        if len(flat) and (flat.min() < 0 or flat.max() > self.last_pitch_token):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        n_bars = len(flat) // STEPS_PER_BAR
        ticks = (np.arange(n_bars)[:, None] * BAR_TICKS + GRID_TICKS).reshape(-1)
        return melody_from_events(
            is_onset=flat >= self.first_pitch_token, is_stop=flat == self.REST,
            pitches=self.token_pitch(flat), ticks=ticks, end=n_bars * BAR_TICKS,
        )
