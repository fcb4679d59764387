"""AR-VAE's user tools: sweep one attribute's latent dimension (`traverse`), decode the latent
line between two bars (`interpolate`), and pick a bar of a music file to start from
(`input_bar`). Each writes one MIDI per decoded bar, all bars as one MIDI, and a PNG of piano
rolls captioned with the bars' attributes (`write_bar_sequence`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from fugato.errors import FugatoError
from fugato.paths import safe_stem

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE
    from fugato.train.run import Run

SHORT_NAMES = {"rhythmic_complexity": "rc", "pitch_range": "pr", "note_density": "nd",
               "contour": "ct"}
"""Attribute abbreviations of the interpolation captions (every attribute in one line)."""


def input_bar(task: ARVAE, path: str | Path, index: int = 0) -> np.ndarray:
    """Bar `index` among the encodable 4/4 bars of the first melody in a music file: (1, 24)."""
    from fugato.music.io import read_file

    bars = task.encoding.encode(read_file(path)[0])
    if not 0 <= index < len(bars):
        raise FugatoError(f"{path}: has {len(bars)} encodable 4/4 bars, no bar {index}")
    return bars[index : index + 1]


def attribute_dim(task: ARVAE, attribute: str) -> int:
    """The latent dimension that `attribute` is regularised on (a one-line error if none)."""
    names = list(task.config.data.attributes)
    if attribute not in names:
        raise FugatoError(f"attribute {attribute!r} is not regularised here (have {names})")
    return names.index(attribute)


def traverse(run: Run, attribute: str, out: str | Path, bars: np.ndarray | None = None,
             steps: int = 9, value_range: tuple[float, float] = (-4.0, 4.0),
             seed: int = 0) -> list[Path]:
    """Sweep the latent dimension of `attribute` for one bar (`bars` (1, 24), else a prior draw);
    write one MIDI per step, all steps as one MIDI and a PNG of piano rolls with each bar's
    attribute value (`write_bar_sequence`)."""
    task = cast("ARVAE", run.task)
    l = attribute_dim(task, attribute)
    if bars is None:
        z = torch.randn(1, task.config.net.z_dim,
                        generator=torch.Generator().manual_seed(seed)).numpy()
    else:
        z = task.encode(bars[:1])
    values = np.linspace(value_range[0], value_range[1], steps, dtype=np.float32)
    decoded = task.traversal(z, l, values)[0]  # (S, 24)
    attrs = task.attributes(decoded)[:, l]
    labels = [f"z={v:.1f}\n{attribute}={a:.2f}" for v, a in zip(values, attrs, strict=True)]
    return write_bar_sequence(task, decoded, Path(out), safe_stem(attribute), labels,
                              f"Traversal of {attribute}")


def interpolate(run: Run, bar_a: np.ndarray, bar_b: np.ndarray, out: str | Path,
                steps: int = 9) -> list[Path]:
    """Decode `steps` codes on the line between the encoder means of two bars (each (1, 24));
    write one MIDI per step, the whole path as one MIDI (a bar per step) and a PNG of piano
    rolls captioned with every attribute of each decoded bar."""
    task = cast("ARVAE", run.task)
    if steps < 2:
        raise FugatoError("interpolation needs at least 2 steps")
    za, zb = task.encode(bar_a[:1]), task.encode(bar_b[:1])  # (1, z) each
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    decoded = task.decode((1 - t) * za + t * zb)  # (S, 24)
    attrs = task.attributes(decoded)
    labels = [f"t={ti:.2f}\n" + " ".join(f"{SHORT_NAMES.get(n, n)}={v:.2f}"
                                          for n, v in zip(task.config.data.attributes, row,
                                                          strict=True))
              for ti, row in zip(t[:, 0], attrs, strict=True)]
    return write_bar_sequence(task, decoded, Path(out), "interpolation", labels,
                              "Interpolation A -> B")


def write_bar_sequence(task: ARVAE, bars: np.ndarray, out: Path, stem: str,
                       labels: list[str], title: str) -> list[Path]:
    """Bars (S, 24) -> `out/{stem}-{i:02d}.mid` per bar, `out/{stem}-all.mid` with the bars end
    to end, and `out/{stem}.png` (piano rolls captioned by `labels`); returns the paths, the
    PNG last."""
    from fugato.music.io import write_midi
    from fugato.plot import plot_piano_rolls

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (bar, label) in enumerate(zip(bars, labels, strict=True)):
        path = out / f"{stem}-{i:02d}.mid"
        write_midi(task.to_melody(bar, f"{stem} {i}: {label.replace(chr(10), ' ')}"), path)
        paths.append(path)
    whole = out / f"{stem}-all.mid"
    write_midi(task.to_melody(bars, f"{stem}: all steps"), whole)
    paths.append(whole)
    png = out / f"{stem}.png"
    plot_piano_rolls([task.to_melody(bar, "") for bar in bars], labels, png, title)
    paths.append(png)
    return paths
