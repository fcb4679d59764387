"""The Attributes view's tune editor: a whole tune of 4/4 bars under AR-VAE sliders, with undo.

A tune is its bars' latent codes (the encoder means of the bars loaded, or prior draws) plus a
latent offset per bar, set by the sliders: dimension l for regularised attribute l, and the two
dimensions after the last attribute as free sliders. A bar whose offset is zero shows the bars
loaded, token for token; any other bar is the argmax decoding of code + offset (deterministic:
the same slider position always gives the same bar). Consecutive moves of one slider on one
selection are one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from fugato.errors import FugatoError

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE
    from fugato.music.melody import Melody

FREE_SLIDERS = 2
"""Unregularised latent dimensions with a slider each (`free_0`, `free_1`)."""
HISTORY = 200
"""Undo steps kept."""
MAX_BARS = 256
"""The longest tune the editor holds (an interpolation of long tunes would pass it)."""


@dataclass(frozen=True)
class Tune:
    """`codes` (n, z) float32, `offsets` (n, z) float32, `source` (n, 24) the bars loaded,
    `bars` (n, 24) the bars shown."""

    title: str
    codes: np.ndarray
    offsets: np.ndarray
    source: np.ndarray
    bars: np.ndarray

    def __len__(self) -> int:
        return len(self.bars)


class TuneEditor:
    """A session's tune under one AR-VAE task, with undo and redo."""

    def __init__(self, task: ARVAE) -> None:
        self.task = task
        self.history: list[Tune] = []
        self.at = -1
        self.tempo = float(task.config.sample.tempo)
        self.kept: Tune | None = None
        """Tune B of a tune-to-tune interpolation (`keep`)."""
        self.key: str | None = None
        """A key whose scale every shown note is moved into (None: as decoded)."""
        self._last_edit: tuple[tuple[int, ...], tuple[str, ...]] | None = None

    # -- sliders -------------------------------------------------------------------------------
    @property
    def sliders(self) -> list[str]:
        """Slider names in latent-dimension order: the attributes, then `free_0`, `free_1`."""
        names = list(self.task.config.data.attributes)
        free = min(FREE_SLIDERS, self.task.config.net.z_dim - len(names))
        return names + [f"free_{i}" for i in range(free)]

    def dimension(self, slider: str) -> int:
        if slider not in self.sliders:
            raise FugatoError(f"unknown slider {slider!r} (have {', '.join(self.sliders)})")
        return self.sliders.index(slider)

    # -- state ---------------------------------------------------------------------------------
    @property
    def tune(self) -> Tune:
        if self.at < 0:
            raise FugatoError("no tune loaded yet: upload one, pick a corpus tune or draw bars")
        return self.history[self.at]

    def _push(self, tune: Tune) -> Tune:
        if len(tune) > MAX_BARS:
            raise FugatoError(f"{len(tune)} bars: the studio holds at most {MAX_BARS}")
        del self.history[self.at + 1:]
        self.history.append(tune)
        del self.history[:-HISTORY]
        self.at = len(self.history) - 1
        self._last_edit = None
        return tune

    def load(self, bars: np.ndarray, title: str, codes: np.ndarray | None = None) -> Tune:
        """A new tune of `bars` (n, 24); `codes` (n, z) default to the bars' encoder means."""
        if len(bars) == 0:
            raise FugatoError("no bars to load")
        codes = self.task.encode(bars) if codes is None else codes.astype(np.float32)
        return self._push(Tune(title, codes, np.zeros_like(codes), bars.copy(), bars.copy()))

    def draw(self, n: int, temperature: float = 0.0, seed: int = 0) -> Tune:
        """`n` bars decoded from prior draws N(0, I) at `temperature` (0: argmax)."""
        import torch

        g = torch.Generator().manual_seed(seed)
        codes = torch.randn(n, self.task.config.net.z_dim, generator=g).numpy()
        bars = self.task.decode(codes, temperature, seed)
        return self.load(bars, f"prior draw (seed {seed}, temperature {temperature:g})", codes)

    def undo(self) -> Tune:
        self.at = max(0, self.at - 1) if self.history else -1
        self._last_edit = None
        return self.tune

    def redo(self) -> Tune:
        self.at = min(len(self.history) - 1, self.at + 1)
        self._last_edit = None
        return self.tune

    # -- edits ---------------------------------------------------------------------------------
    def selection(self, bars: list[int] | None) -> np.ndarray:
        """Bar indices (None: the whole tune), checked."""
        n = len(self.tune)
        chosen = np.arange(n) if not bars else np.unique(np.asarray(bars, dtype=np.int64))
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= n):
            raise FugatoError(f"bar {int(chosen.max())} does not exist (the tune has {n} bars)")
        return chosen

    def edit(self, bars: list[int] | None, offsets: dict[str, float]) -> Tune:
        """Set the latent offsets of sliders `offsets` (name -> value) on the selected bars and
        decode them; a repeat of the last edit's selection and sliders replaces it in the
        history (one drag, one undo step)."""
        chosen = self.selection(bars)
        dims = np.asarray([self.dimension(name) for name in offsets], dtype=np.int64)
        values = np.asarray(list(offsets.values()), dtype=np.float32)
        if not np.isfinite(values).all():
            raise FugatoError("slider values must be finite numbers")
        tune = self.tune
        new_offsets = tune.offsets.copy()
        new_offsets[np.ix_(chosen, dims)] = values[None, :]
        shown = tune.bars.copy()
        moved = chosen[np.abs(new_offsets[chosen]).max(axis=1) > 0]
        still = np.setdiff1d(chosen, moved)
        shown[still] = tune.source[still]  # back at zero: the bar as loaded, exactly
        if len(moved):
            shown[moved] = self.task.decode(tune.codes[moved] + new_offsets[moved], 0.0)
        key = (tuple(chosen.tolist()), tuple(sorted(offsets)))
        edited = replace(tune, offsets=new_offsets, bars=shown)
        if key == self._last_edit:
            self.history[self.at] = edited
            return edited
        self._push(edited)
        self._last_edit = key
        return edited

    def keep(self) -> Tune:
        """Keep the current tune as B, the far end of `interpolate_tunes`."""
        self.kept = self.tune
        return self.kept

    def interpolate_bars(self, first: int, last: int, steps: int) -> Tune:
        """Replace bars first..last by `steps` bars on the latent line from bar `first` to bar
        `last` (both ends included as they are)."""
        tune = self.tune
        first, last = (int(i) for i in self.selection([first, last])[[0, -1]])
        if first == last or steps < 2:
            raise FugatoError("interpolation needs two different bars and at least 2 steps")
        start, end = (tune.codes[i] + tune.offsets[i] for i in (first, last))
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        codes = (1 - t) * start + t * end
        path = self.task.decode(codes, 0.0)
        path[0], path[-1] = tune.bars[first], tune.bars[last]

        def spliced(old: np.ndarray, new: np.ndarray) -> np.ndarray:
            return np.concatenate([old[:first], new, old[last + 1:]])

        zeros = np.zeros_like(codes)
        return self._push(Tune(f"{tune.title}, bars {first + 1}-{last + 1} interpolated",
                               spliced(tune.codes, codes), spliced(tune.offsets, zeros),
                               spliced(tune.source, path), spliced(tune.bars, path)))

    def interpolate_tunes(self, steps: int) -> Tune:
        """The kept tune B and the current tune A, bar by bar: `steps` versions from A to B
        (each as long as the shorter tune), one after the other."""
        if self.kept is None:
            raise FugatoError("keep a tune as B first, then load tune A")
        if steps < 2:
            raise FugatoError("interpolation needs at least 2 steps")
        a, b = self.tune, self.kept
        n = min(len(a), len(b))
        za, zb = a.codes[:n] + a.offsets[:n], b.codes[:n] + b.offsets[:n]
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None]
        codes = ((1 - t) * za + t * zb).reshape(steps * n, -1)
        bars = self.task.decode(codes, 0.0)
        bars[:n], bars[-n:] = a.bars[:n], b.bars[:n]
        return self._push(Tune(f"{a.title} -> {b.title} in {steps} steps", codes,
                               np.zeros_like(codes), bars, bars.copy()))

    # -- views of the tune ---------------------------------------------------------------------
    def set_key(self, key: str | None) -> None:
        """Constrain the shown notes to a key's scale (None or "": no constraint)."""
        if key:
            from fugato.music.keys import scale_pitch_classes

            scale_pitch_classes(key)  # FugatoError for a key it cannot read
        self.key = key or None

    def shown(self) -> np.ndarray:
        """(n, 24) the bars shown: the tune's bars, with every pitch moved into the key's
        scale when a key is set (within the model's pitch range)."""
        bars = self.tune.bars
        if self.key is None:
            return bars
        from fugato.music.keys import snap_to_key

        encoding = self.task.encoding
        pitched = bars >= 2  # tokens 0 and 1 are hold and rest
        out = bars.copy()
        pitches = bars[pitched] - 2 + encoding.low
        snapped = snap_to_key(pitches, self.key, encoding.low, encoding.high)
        out[pitched] = snapped - encoding.low + 2
        return out

    def attributes(self) -> np.ndarray:
        """(n, L) attribute values of the bars shown."""
        return np.asarray(self.task.attributes(self.shown()), dtype=np.float64)

    def melody(self) -> Melody:
        """The bars shown as one 4/4 melody at the editor's tempo."""
        return self.task.to_melody(self.shown(), self.tune.title).replace(tempo=self.tempo)


def encodable_bars(task: ARVAE, melody: Melody, source: str) -> np.ndarray:
    """The 4/4 bars (n, 24) of `melody` that the model encodes, the melody moved by whole
    octaves into the model's pitch range where that keeps more bars (only by octaves that keep
    every pitch a MIDI number); bars with a note the model cannot hold are left out.

    FugatoError when no bar is left (naming why each was left out), or when more than
    `MAX_BARS` are: checked here, before the model encodes a single bar.
    """
    encoding = task.encoding
    low, high = int(melody.pitches.min()), int(melody.pitches.max())
    shifts = [k for k in (0, -1, 1, -2, 2) if low + 12 * k >= 0 and high + 12 * k <= 127]
    best, skipped = max((encoding.encode_bars(melody.transpose(12 * k)) for k in shifts),
                        key=lambda pair: len(pair[0]))
    if len(best) > MAX_BARS:
        raise FugatoError(f"{source}: {len(best)} bars: the studio holds at most {MAX_BARS}")
    if len(best) == 0:
        metres = sorted({str(ts) for ts in melody.time_signatures}) or ["no time signature"]
        why = {"time_signature": "not whole bars of 4/4", "off_grid": "off the "
               "sixteenth/triplet grid", "pitch_range": f"with a pitch outside {encoding.low}-"
               f"{encoding.high} in every octave"}
        reasons = "; ".join(f"{n} bars {why[r]}" for r, n in skipped.items() if n)
        raise FugatoError(f"{source}: no bar the model reads (in {', '.join(metres)}: "
                          f"{reasons or 'no bar'})")
    return np.asarray(best)
