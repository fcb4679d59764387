"""What `Sampler.sample` returns, one type per kind of output, and how each is written.

- melodies: `list[Melody]` (MIDI, MusicXML or WAV files);
- `Images`: pixels (N, H, W) float32 in [0, 1] (`samples.npy` and a PNG grid);
- `Dances`: frames (N, T, 147) float32 at `FPS` (`fugato.motion.representation`; BVH files and
  a PNG strip each);
- `Audio`: clips (N, S) float32 in [-1, 1] at `sample_rate` Hz (WAV files and one PNG of
  their spectrograms).

`write_samples` writes any of them into a folder as `sample-000.*`, ... (images: one
`samples.npy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from fugato.atomic import atomic_path
from fugato.errors import FugatoError

if TYPE_CHECKING:
    from fugato.music.melody import Melody

MELODY_FORMATS = ("mid", "musicxml", "wav")


@dataclass(frozen=True)
class Images:
    pixels: np.ndarray
    """(N, H, W) float32 in [0, 1]."""

    def __len__(self) -> int:
        return len(self.pixels)


@dataclass(frozen=True)
class Dances:
    frames: np.ndarray
    """(N, T, 147) float32 dance frames at 25 fps (`fugato.motion.representation`)."""

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class Audio:
    clips: np.ndarray
    """(N, S) float32 in [-1, 1]."""
    sample_rate: int

    def __len__(self) -> int:
        return len(self.clips)


Samples: TypeAlias = "list[Melody] | Images | Dances | Audio"


def write_samples(samples: Samples, out: str | Path, fmt: str = "mid", prefix: str = "sample"
                  ) -> list[Path]:
    """Write `samples` into folder `out` (created) as `{prefix}-000.*`, ...; `fmt` chooses the
    file type of melodies ("mid", "musicxml" or "wav"; other kinds have one). Returns the
    paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(samples, Images):
        return _write_images(samples, out, prefix)
    if isinstance(samples, Dances):
        return _write_dances(samples, out, prefix)
    if isinstance(samples, Audio):
        return _write_audio(samples, out, prefix)
    return write_melodies(samples, out, fmt, prefix)


def write_melodies(melodies: list[Melody], out: Path, fmt: str = "mid", prefix: str = "sample"
                   ) -> list[Path]:
    """One file per melody: `{prefix}-000.{fmt}`, ... in `out`."""
    from fugato.audio.synth import write_wav
    from fugato.music.io import write_midi, write_musicxml

    writers: dict[str, Callable[[Any, Path], None]] = {
        "mid": write_midi, "musicxml": write_musicxml, "wav": write_wav}
    if fmt not in writers:
        raise FugatoError(f"melody format {fmt!r}: choose one of {', '.join(writers)}")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, melody in enumerate(melodies):
        path = out / f"{prefix}-{i:03d}.{fmt}"
        writers[fmt](melody, path)
        paths.append(path)
    return paths


def _write_images(images: Images, out: Path, prefix: str) -> list[Path]:
    """All images in one `{prefix}s.npy` and one PNG grid `{prefix}s.png`."""
    from fugato.plot import plot_image_grid

    npy, png = out / f"{prefix}s.npy", out / f"{prefix}s.png"
    with atomic_path(npy) as tmp, open(tmp, "wb") as f:
        np.save(f, images.pixels)
    plot_image_grid(images.pixels, png)
    return [npy, png]


def _write_dances(dances: Dances, out: Path, prefix: str) -> list[Path]:
    from fugato.motion.bvh import write_bvh
    from fugato.motion.plot import plot_stick_strip
    from fugato.motion.representation import dance_positions, dance_to_motion

    paths = []
    for i, dance in enumerate(dances.frames):
        path = out / f"{prefix}-{i:03d}.bvh"
        write_bvh(path, dance_to_motion(dance, path.stem))
        plot_stick_strip(dance_positions(dance), path.with_suffix(".png"))
        paths.append(path)
    return paths


def _write_audio(audio: Audio, out: Path, prefix: str) -> list[Path]:
    from fugato.audio.wav import write_audio
    from fugato.plot import plot_spectrograms

    paths = []
    for i, clip in enumerate(audio.clips):
        path = out / f"{prefix}-{i:03d}.wav"
        write_audio(clip, path, audio.sample_rate)
        paths.append(path)
    png = out / f"{prefix}-spectrograms.png"
    plot_spectrograms({p.name: c for p, c in zip(paths, audio.clips, strict=True)}, png,
                      audio.sample_rate)
    return [*paths, png]
