"""The studio's five views as plain functions: a loaded run and request values in, JSON-ready
dicts out (files go to the session's store). `fugato.studio.app` only does HTTP around them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fugato.errors import FugatoError
from fugato.paths import safe_stem
from fugato.studio import render
from fugato.studio.store import FileStore
from fugato.studio.tune import TuneEditor, encodable_bars

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE
    from fugato.models.dualdance.task import DualDance
    from fugato.models.fusiongan.task import FusionGAN
    from fugato.models.iml.melody import IMLMelody
    from fugato.train.run import Run

MAX_DRAWS = 32
"""Most melodies one Fusion or Sequences request writes."""
MAX_DANCE_SECONDS = 60.0


def check_count(name: str, value: int, high: int) -> int:
    if not 1 <= value <= high:
        raise FugatoError(f"{name} must be between 1 and {high}, not {value}")
    return value


# -- attributes ----------------------------------------------------------------------------------
def tune_state(editor: TuneEditor, store: FileStore, session: str) -> dict[str, Any]:
    """The current tune as the page draws it: bars with their attributes and slider offsets,
    notes, the WAV and MIDI ids, and whether undo and redo can go further."""
    tune = editor.tune
    names = list(editor.task.config.data.attributes)
    attributes = editor.attributes()
    sliders = editor.sliders
    bars = [{"attributes": dict(zip(names, row.round(4).tolist(), strict=True)),
             "offsets": dict(zip(sliders, tune.offsets[i, : len(sliders)].round(4).tolist(),
                                 strict=True))}
            for i, row in enumerate(attributes)]
    return {**render.piece(store, session, editor.melody()), "bars": bars,
            "bar_quarters": 4, "undo": editor.at > 0, "redo": editor.at < len(editor.history) - 1,
            "kept": editor.kept.title if editor.kept is not None else None,
            "key": editor.key}


def read_tune(task: ARVAE, path: Path, shown_name: str) -> np.ndarray:
    """The encodable bars of the first melody of an uploaded music file."""
    from fugato.music.io import read_file

    melodies = read_file(path)
    return encodable_bars(task, melodies[0], shown_name)


class Corpora:
    """The corpora a studio loads: every named corpus, and the folders it was started with
    (`fugato studio --corpus NAME_OR_FOLDER`), nothing else. Issue 29: `folder:/any/path` in a
    request read any folder the server could, its errors told which folders exist, and each
    one tried left a cache entry; now a folder not given is refused before anything is read,
    with the same words whether it exists or not."""

    def __init__(self, given: Sequence[str] = ()) -> None:
        from fugato.music.corpora import list_corpora

        self.named = [name for name, _ in list_corpora() if not name.startswith("folder:")]
        self.shown = list(self.named)
        self.folders: dict[str, str] = {}
        """Each spelling of a folder given (as given, absolute, resolved) -> its load name."""
        for entry in given:
            base, _, path = entry.partition(":")
            if base.lower() in self.named:
                continue
            path = path if base.lower() == "folder" else entry
            folder = Path(path).expanduser()
            if not folder.is_dir():
                raise FugatoError(f"--corpus {entry}: not a folder, nor a named corpus "
                                  f"({', '.join(self.named)})")
            load = f"folder:{folder.resolve()}"
            for spelling in (path, os.path.abspath(folder), folder.resolve()):
                self.folders[os.path.normpath(spelling)] = load
            self.shown.append(f"folder:{path}")

    def load_name(self, corpus: str) -> str:
        """`corpus` as `load_corpus` reads it; FugatoError for a folder not given."""
        base, _, path = corpus.strip().partition(":")
        if base.lower() != "folder":
            return corpus  # load_corpus knows the named ones and names them all when it doesn't
        spellings = (os.path.normpath(path), os.path.abspath(os.path.expanduser(path)))
        load = next((self.folders[s] for s in spellings if s in self.folders), None)
        if load is None:
            raise FugatoError(f"corpus {corpus!r} is not served here: name a corpus "
                              f"({', '.join(self.named)}) or a folder the studio was started "
                              "with (fugato studio --corpus FOLDER)")
        return load


def corpus_tune(task: ARVAE, corpus: str, index: int) -> tuple[np.ndarray, str]:
    """The encodable bars of tune `index` of a corpus (`Corpora.load_name`), and its title."""
    from fugato.music.corpora import corpus_label, load_corpus

    tunes = load_corpus(corpus, progress=False)
    label = corpus_label(corpus)
    if not 0 <= index < len(tunes):
        raise FugatoError(f"{label}: has {len(tunes)} tunes, no tune {index}")
    melody = tunes[index]
    title = f"{label} {index}: {melody.title or 'untitled'}"
    return encodable_bars(task, melody, title), title


# -- fusion and sequences ------------------------------------------------------------------------
def fusion_samples(run: Run, store: FileStore, session: str, generator: str | None, n: int,
                   temperature: float, seed: int) -> dict[str, Any]:
    """`n` windows of one FusionGAN generator, each with P(genre A) by the genre classifier."""
    task = cast("FusionGAN", run.task)
    check_count("n", n, MAX_DRAWS)
    if not 0 <= temperature <= 5:
        raise FugatoError(f"temperature must be in [0, 5], not {temperature}")
    name, windows = task.sample_windows(n, seed, generator, temperature)
    p_a = task.p_genre_a(windows)
    melodies = [render.piece(store, session, task.to_melody(w, f"{name} {seed}-{i}"),
                             p_genre_a=round(float(p), 4))
                for i, (w, p) in enumerate(zip(windows, p_a, strict=True))]
    return {"generator": name, "genres": [task.config.data.genre_a, task.config.data.genre_b],
            "melodies": melodies}


def sequence_samples(run: Run, store: FileStore, session: str, n: int, seed: int
                     ) -> dict[str, Any]:
    """`n` HMM tunes and `n` tunes of i.i.d. GMM bars, side by side."""
    task = cast("IMLMelody", run.task)
    check_count("n", n, MAX_DRAWS // 2)
    out: dict[str, Any] = {"bars": task.config.sample.bars}
    for base in ("hmm", "gmm"):
        tunes = task.sample_bars(n, seed, base)
        out[base] = [render.piece(store, session,
                                  task.to_melody(bars, f"{base.upper()} {seed}-{i}"))
                     for i, bars in enumerate(tunes)]
    return out


# -- dance -------------------------------------------------------------------------------------
def choreograph(run: Run, store: FileStore, session: str, song: Path, shown_name: str,
                seconds: float, seed: int) -> dict[str, Any]:
    """A dance for a song: joint positions per frame for the canvas, the skeleton's parents,
    the song as WAV (what the dance was made for, to play in sync) and a BVH."""
    from fugato.audio.features import SAMPLE_RATE, load_audio, music_features
    from fugato.audio.wav import write_audio
    from fugato.models.dualdance.tools import choreograph_features, dance_task
    from fugato.motion.bvh import write_bvh
    from fugato.motion.representation import FPS, dance_positions, dance_to_motion
    from fugato.motion.skeleton import SMPL_PARENTS

    task: DualDance = dance_task(run)
    if task.start_pose is None:
        raise FugatoError(f"{run.path}: the checkpoint holds no start pose")
    if not 0 < seconds <= MAX_DANCE_SECONDS:
        raise FugatoError(f"seconds must be in (0, {MAX_DANCE_SECONDS:g}], not {seconds}")
    audio = load_audio(song, duration=seconds)
    dance = choreograph_features(task, music_features(audio), task.start_pose, seed)
    stem = safe_stem(Path(shown_name).stem)
    positions = dance_positions(dance)  # (n, joints, 3) metres
    return {
        "fps": FPS, "parents": SMPL_PARENTS.tolist(),
        "positions": positions.round(3).tolist(),
        "wav": store.add(session, f"{stem}.wav", render.WAV,
                         lambda p: write_audio(audio, p, SAMPLE_RATE)),
        "bvh": store.add(session, f"{stem}.bvh", "text/plain",
                         lambda p: write_bvh(p, dance_to_motion(dance, stem))),
        "seconds": len(audio) / SAMPLE_RATE}


def compose(run: Run, store: FileStore, session: str, motion: Path, shown_name: str,
            seed: int) -> dict[str, Any]:
    """Music for an uploaded dance (Tang .npz or BVH): the composed melody."""
    from fugato.models.dualdance.task import chord_index
    from fugato.models.dualdance.tools import compose_frames, dance_task, motion_to_dance
    from fugato.motion.representation import FPS
    from fugato.music.chroma import beat_peaks, chroma_to_melody

    task = dance_task(run)
    dance = motion_to_dance(motion, MAX_DANCE_SECONDS)
    composed = compose_frames(task, dance, chord_index(task.config.sample.chord), seed)
    beats = beat_peaks(composed[:, 12], task.config.sample.beat_threshold)
    melody = chroma_to_melody(composed[:, :12], beats, fps=FPS,
                              title=f"music for {Path(shown_name).stem}")
    return render.piece(store, session, melody)


# -- separate ----------------------------------------------------------------------------------
def separate(run: Run, store: FileStore, session: str, mixture: Path, shown_name: str,
             seed: int) -> dict[str, Any]:
    """The vocals and accompaniment of an uploaded WAV (32-bit float WAVs at its rate)."""
    from fugato.audio.wav import read_wav, write_audio
    from fugato.models.factorgan.tools import separate_audio

    audio, rate = read_wav(mixture)
    stem = safe_stem(Path(shown_name).stem)
    out: dict[str, Any] = {"seconds": audio.shape[1] / rate}
    def writer(x: np.ndarray) -> Callable[[Path], None]:
        return lambda path: write_audio(x[0] if len(x) == 1 else x, path, rate, float32=True)

    for label, x in zip(("vocals", "accompaniment"), separate_audio(run, audio, rate, None, seed),
                        strict=True):
        out[label] = store.add(session, f"{stem}-{label}.wav", render.WAV, writer(x))
    return out
