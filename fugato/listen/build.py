"""`fugato listen create`: render a listening test's clips and write its two files.

Sources are `LABEL=SPEC`: SPEC is `MODEL_OR_RUN[:GENERATOR]` (a shipped model or a run folder)
or `real:CORPUS` (held-out real clips, cut into the same windows as the FusionGAN source's). A
`genre` test takes `--clips` clips of every source (balanced) and a qualification stage of real
clips of each genre; a `ranking` test takes one dance of every dance source per song.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fugato.errors import FugatoError
from fugato.listen.design import (
    Item,
    ListeningTest,
    folder,
    genre_questions,
    write_json,
)
from fugato.music.melody import Melody

if TYPE_CHECKING:
    from fugato.models.fusiongan.task import FusionGAN
    from fugato.train.run import Run

MAX_CLIPS = 500


def new_id() -> str:
    return secrets.token_hex(8)


def parse_sources(pairs: Sequence[str], option: str = "--source") -> dict[str, str]:
    """`LABEL=SPEC` pairs -> {label: spec}, labels unique."""
    sources: dict[str, str] = {}
    for pair in pairs:
        label, sep, spec = pair.partition("=")
        if not sep or not label or not spec:
            example = "F=fusion-jazz-folk:F" if option == "--source" else "jazz=wjazzd"
            raise FugatoError(f"{option} {pair!r}: write LABEL=SPEC, e.g. {example}")
        if label in sources:
            raise FugatoError(f"{option} {label}: the label is given twice")
        sources[label] = spec
    if not sources:
        raise FugatoError(f"give at least one {option} LABEL=SPEC")
    return sources


def load_sources(sources: dict[str, str]) -> dict[str, tuple[Run, str | None]]:
    """label -> (the run of its `MODEL_OR_RUN[:GENERATOR]`, the generator or None), for every
    source that is not `real:`; each model is loaded once, however many sources use it."""
    from fugato.train.run import load_run

    runs: dict[str, Run] = {}
    out = {}
    for label, spec in sources.items():
        if spec.startswith("real:"):
            continue
        model, _, generator = spec.partition(":")
        if Path(spec).exists():  # a run folder whose name holds ':'
            model, generator = spec, ""
        if model not in runs:
            runs[model] = load_run(model, device="cpu")
        out[label] = (runs[model], generator or None)
    return out


@dataclass
class Clips:
    """Melodies of one source, with their FusionGAN windows when there are any."""

    melodies: list[Melody]
    windows: np.ndarray | None


def real_clips(task: FusionGAN, corpus: str, n: int, rng: np.random.Generator) -> Clips:
    """`n` held-out (test split) windows of a corpus, in the FusionGAN task's encoding."""
    from fugato.music.corpora import load_corpus
    from fugato.music.keys import with_key

    data = task.config.data
    melodies = [with_key(m) for m in load_corpus(corpus, progress=False).split("test")]
    windows, _ = task.encoding.encode_corpus(melodies, data.window, data.stride)
    if len(windows) < n:
        raise FugatoError(f"real:{corpus}: {len(windows)} held-out windows, fewer than {n}")
    chosen = windows[rng.choice(len(windows), n, replace=False)]
    return Clips([task.to_melody(w, f"{corpus}") for w in chosen], chosen)


def source_clips(spec: str, loaded: tuple[Run, str | None] | None, n: int, seed: int,
                 fusion: FusionGAN | None, rng: np.random.Generator) -> Clips:
    """`n` melodies of one source (`loaded` by `load_sources`, None for `real:`): a
    generator's draws or real held-out windows."""
    from fugato.models.fusiongan.task import FusionGAN

    if loaded is None:
        if fusion is None:
            raise FugatoError(f"{spec}: real clips are cut like a FusionGAN source's windows; "
                              "add one (e.g. --source F=fusion-jazz-folk:F)")
        return real_clips(fusion, spec[5:], n, rng)
    run, generator = loaded
    if isinstance(run.task, FusionGAN):
        _, windows = run.task.sample_windows(n, seed, generator)
        return Clips([run.task.to_melody(w, "") for w in windows], windows)
    samples = run.sample(n, seed=seed, generator=generator)
    if not isinstance(samples, list) or not all(isinstance(m, Melody) for m in samples):
        raise FugatoError(f"{spec}: a {run.config.model!r} model does not write melodies")
    return Clips(cast("list[Melody]", samples), None)


def write_melody_clip(clips: Path, melody: Melody) -> str:
    """Render a melody to `clips/<id>.wav` and keep its MIDI; returns the id."""
    from fugato.audio.synth import write_wav
    from fugato.music.io import write_midi

    clip = new_id()
    anonymous = melody.replace(title="", metadata={})  # the MIDI names no source
    write_wav(anonymous, clips / f"{clip}.wav")
    write_midi(anonymous, clips / f"{clip}.mid")
    return clip


def first_fusion(runs: dict[str, tuple[Run, str | None]]) -> FusionGAN | None:
    from fugato.models.fusiongan.task import FusionGAN

    return next((run.task for run, _ in runs.values() if isinstance(run.task, FusionGAN)), None)


def prepare(root: Path, name: str, overwrite: bool) -> Path:
    """The test's new folder (with `clips/`); FugatoError when it exists, unless `overwrite`."""
    path = folder(root, name)
    if path.exists():
        if not overwrite:
            raise FugatoError(f"{path}: a test of that name exists (--overwrite replaces it, "
                              "answers included)")
        shutil.rmtree(path)
    (path / "clips").mkdir(parents=True)
    return path


def create_genre(root: Path, name: str, sources: dict[str, str], clips: int, seed: int = 0,
                 genres: Sequence[str] = ("jazz", "folk"), qualify: dict[str, str] | None = None,
                 qualification: int = 2, min_accuracy: float = 0.0, overwrite: bool = False,
                 progress: bool = True, min_played: float = 1.0) -> ListeningTest:
    """A FusionGAN-style genre test: `clips` clips of every source, `qualification` real clips
    of each genre first (`qualify`: genre -> corpus, default the FusionGAN source's), each
    played for its share `min_played` before it is answered."""
    from tqdm import tqdm

    if not 1 <= clips * len(sources) <= MAX_CLIPS:
        raise FugatoError(f"--clips {clips}: at most {MAX_CLIPS} clips in all")
    runs = load_sources(sources)
    fusion = first_fusion(runs)
    a, b = genres
    if qualify is None:
        if fusion is None and qualification:
            raise FugatoError("name the qualification corpora (--qualify jazz=CORPUS ...) or "
                              "add a FusionGAN source")
        qualify = {} if fusion is None else {a: fusion.config.data.genre_a,
                                             b: fusion.config.data.genre_b}
    rng = np.random.default_rng(seed)
    made = {label: source_clips(spec, runs.get(label), clips, seed, fusion, rng)
            for label, spec in tqdm(sources.items(), desc="sources", disable=not progress)}
    real = {genre: real_clips(_need(fusion), corpus, qualification, rng)
            for genre, corpus in qualify.items()} if qualification else {}
    path = prepare(root, name, overwrite)
    manifest: dict[str, Any] = {"kind": "genre", "sources": sources, "qualify": qualify,
                                "items": {}, "automatic": automatic(fusion, made)}
    items = []
    jobs = [(label, "test", m) for label, c in made.items() for m in c.melodies]
    jobs += [(genre, "qualify", m) for genre, c in real.items() for m in c.melodies]
    for label, stage, melody in tqdm(jobs, desc="clips", disable=not progress):
        clip = write_melody_clip(path / "clips", melody)
        item = Item(new_id(), stage, [clip])
        items.append(item)
        manifest["items"][item.id] = ({"source": label} if stage == "test"
                                      else {"truth": label})
    test = ListeningTest(name, "genre", genre_questions(a, b), items, [a, b], min_accuracy,
                         min_played)
    write_json(path / "manifest.json", manifest)
    write_json(path / "test.json", test.to_json())
    return test


def _need(fusion: FusionGAN | None) -> FusionGAN:
    if fusion is None:
        raise FugatoError("qualification clips are cut like a FusionGAN source's windows; "
                          "add one, or --qualification 0")
    return fusion


def automatic(fusion: FusionGAN | None, made: dict[str, Clips]) -> dict[str, dict[str, float]]:
    """The genre classifier on the same clips: mean P(genre A) and the genre balance."""
    from fugato.metrics.fusion import genre_balance

    if fusion is None:
        return {}
    out = {}
    for label, clips in made.items():
        if clips.windows is not None:
            p = float(fusion.p_genre_a(clips.windows).mean())
            out[label] = {"p_genre_a": p, "balance": genre_balance(p)}
    return out
