"""Bach chorales rendered as separation stems: "vocals" and "accompaniment".

Each four-part chorale of music21's corpus (the `bwv*` files that parse to exactly 4 parts) is
read voice by voice (`melody_from_music21` on each part: ties merged, the top line of any
chord), then rendered with the built-in synthesizer `fugato.audio.synth.render`:

- vocals: the soprano (part 0) with one timbre (default "clarinet": odd harmonics),
- accompaniment: alto, tenor and bass (parts 1-3) with another (default "organ"),

both at 22.05 kHz at the chorale's tempo (120 quarter notes per minute where the score has no
metronome mark); the mixture is their sum. No soundfont renderer is used: none ships with
fugato's dependencies, and the built-in synthesizer makes the stems identical on every machine.

Rendering is deterministic (same chorale and `StemSpec` -> same samples). Stems are cached per
chorale as float16 (2, N) arrays in `cache_dir()/chorale-stems/<spec key>/` and written
atomically; a chorale that is not four-part (or fails to parse) leaves a `.skip` file with the
reason, so it is never parsed twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fugato.atomic import atomic_path, write_text
from fugato.errors import BadInputError, FugatoError
from fugato.music.melody import Melody

if TYPE_CHECKING:
    pass

STEMS = ("vocals", "accompaniment")
RENDER_VERSION = 1
"""Bump when rendering changes: it is part of the cache key."""


@dataclass(frozen=True)
class StemSpec:
    """How chorales become audio."""

    sample_rate: int = 22050
    vocals_program: str = "clarinet"
    accompaniment_program: str = "organ"
    vocals_gain: float = 0.25
    """Peak of one soprano note (the synthesizer's `gain`)."""
    accompaniment_gain: float = 0.2
    """Peak of one note of each lower voice: the mixture peaks below 0.25 + 3 x 0.2 < 1."""

    def key(self) -> str:
        text = json.dumps({**asdict(self), "version": RENDER_VERSION}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def chorale_files() -> list[Path]:
    """The chorale files of music21's corpus (`bwv*.mxl/.xml/.krn`), sorted by name."""
    from fugato.music.corpora import bach_chorale_files

    return bach_chorale_files()


def chorale_voices(path: str | os.PathLike[str]) -> list[Melody]:
    """The four voices of a chorale file, soprano first; `BadInputError` unless it has
    exactly four parts."""
    from fugato.music.corpora import four_part_score
    from fugato.music.io import melody_from_music21, quiet

    path = Path(path)
    with quiet():
        score = four_part_score(path)
        return [melody_from_music21(part, f"bach/{path.name}#{i}")
                for i, part in enumerate(score.parts)]


def render_stems(voices: Sequence[Melody], spec: StemSpec = StemSpec()) -> np.ndarray:
    """Stems (2, N) float32 of four voices: row 0 the soprano in `spec.vocals_program`, row 1
    the sum of the other voices in `spec.accompaniment_program`, both padded to the longer."""
    from fugato.audio.synth import render

    vocals = render(voices[0], spec.sample_rate, spec.vocals_program, spec.vocals_gain)
    lower = [render(v, spec.sample_rate, spec.accompaniment_program, spec.accompaniment_gain)
             for v in voices[1:]]
    n = max(len(vocals), *(len(x) for x in lower))
    out = np.zeros((2, n), dtype=np.float32)
    out[0, : len(vocals)] = vocals
    for x in lower:
        out[1, : len(x)] += x
    return out


def _stems_dir(spec: StemSpec) -> Path:
    from fugato.paths import cache_dir

    return cache_dir() / "chorale-stems" / spec.key()


def _render_one(args: tuple[str, StemSpec]) -> str | None:
    """Render one chorale into the cache; returns the reason it was skipped, else None."""
    path, spec = Path(args[0]), args[1]
    folder = _stems_dir(spec)
    try:
        stems = render_stems(chorale_voices(path), spec)
    except BadInputError as error:
        write_text(folder / f"{path.name}.skip", error.reason)
        return error.reason
    with atomic_path(folder / f"{path.name}.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, stems.astype(np.float16))
    return None


def chorale_stems(n: int, seed: int = 0, spec: StemSpec = StemSpec(),
                  workers: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The first `n` four-part chorales (0: all) in a seeded order of the corpus files, as
    (file name, stems (2, N) float32); rendered on first use (in `workers` processes) and read
    from the cache after that."""
    files = chorale_files()
    if not files:
        raise FugatoError("music21's corpus holds no Bach chorales")
    order = np.random.default_rng(seed).permutation(len(files))
    folder = _stems_dir(spec)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = n or len(files)
    found: list[tuple[str, np.ndarray]] = []
    position = 0
    workers = workers or os.cpu_count() or 1
    while len(found) < wanted and position < len(files):
        # render just as many as may still be needed (some turn out not to be four-part)
        chunk = [files[i] for i in order[position: position + wanted - len(found)]]
        position += len(chunk)
        todo = [p for p in chunk if not (folder / f"{p.name}.npy").is_file()
                and not (folder / f"{p.name}.skip").is_file()]
        if len(todo) > 1 and workers > 1:
            with ProcessPoolExecutor(min(workers, len(todo))) as pool:
                list(pool.map(_render_one, [(str(p), spec) for p in todo]))
        else:
            for p in todo:
                _render_one((str(p), spec))
        for p in chunk:
            stems = folder / f"{p.name}.npy"
            if stems.is_file():
                found.append((p.name, np.load(stems).astype(np.float32)))
    if n and len(found) < n:
        raise FugatoError(f"only {len(found)} four-part chorales in music21's corpus, "
                          f"{n} wanted")
    return found
