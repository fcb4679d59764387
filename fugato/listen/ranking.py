"""`fugato listen create --kind ranking`: per song, one dance of every source to rank.

SPEC is a dual music-dance run or shipped model (its dance for the song, from the run's start
pose), or `real:tang` (the real dance recorded to the song: the Tang `.npz` beside the song's
audio file). Every dance is stored as joint positions per frame (`clips/<id>.json`), drawn by
the listener's page as a stick figure in time with the song (`clips/<id>.wav`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.errors import FugatoError
from fugato.listen.build import load_sources, new_id, prepare
from fugato.listen.design import RANKING_QUESTIONS, Item, ListeningTest, write_json

if TYPE_CHECKING:
    from fugato.train.run import Run


def dance_of(spec: str, run: Run | None, song: Path, music: np.ndarray, seconds: float,
             seed: int) -> np.ndarray:
    """(n, 147) dance frames of one source (its loaded run, None for `real:`) for one song."""
    from fugato.models.dualdance.tools import choreograph_features, dance_task, motion_to_dance

    if run is None:
        if spec != "real:tang":
            raise FugatoError(f"{spec}: the real dances of a ranking are real:tang")
        motion = song.with_suffix(".npz")
        if not motion.is_file():
            raise FugatoError(f"{song}: no recorded dance beside it ({motion.name}) for "
                              "real:tang")
        return motion_to_dance(motion, seconds)
    task = dance_task(run)
    if task.start_pose is None:
        raise FugatoError(f"{spec}: the checkpoint holds no start pose")
    return choreograph_features(task, music, task.start_pose, seed)


def write_dance(path: Path, dance: np.ndarray) -> None:
    from fugato.atomic import atomic_path
    from fugato.motion.representation import FPS, dance_positions
    from fugato.motion.skeleton import SMPL_PARENTS

    data = {"fps": FPS, "parents": SMPL_PARENTS.tolist(),
            "positions": dance_positions(dance).round(3).tolist()}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data))


def create_ranking(root: Path, name: str, sources: dict[str, str], songs: Sequence[str],
                   seconds: float = 12.0, seed: int = 0, overwrite: bool = False,
                   progress: bool = True, min_played: float = 1.0) -> ListeningTest:
    """A dance ranking test: for every song, the first `seconds` danced by every source,
    ranked once the song has played for its share `min_played`."""
    from tqdm import tqdm

    from fugato.audio.features import SAMPLE_RATE, load_audio, music_features
    from fugato.audio.wav import write_audio

    if len(sources) < 2:
        raise FugatoError("a ranking needs at least two sources")
    if not 0 < seconds <= 60:
        raise FugatoError(f"--seconds {seconds}: between 0 and 60")
    runs = load_sources(sources)
    path = prepare(root, name, overwrite)
    manifest: dict[str, Any] = {"kind": "ranking", "sources": sources, "clips": {},
                                "items": {}}
    items = []
    for song in tqdm([Path(s) for s in songs], desc="songs", disable=not progress):
        audio = load_audio(song, duration=seconds)
        music = music_features(audio)
        song_clip = new_id()
        write_audio(audio, path / "clips" / f"{song_clip}.wav", SAMPLE_RATE)
        clips = []
        for label, spec in sources.items():
            clip = new_id()
            write_dance(path / "clips" / f"{clip}.json",
                        dance_of(spec, runs[label][0] if label in runs else None, song,
                                 music, seconds, seed)[: len(music)])
            manifest["clips"][clip] = label
            clips.append(clip)
        item = Item(new_id(), "test", clips, song_clip)
        manifest["items"][item.id] = {"song": song.name}
        items.append(item)
    test = ListeningTest(name, "ranking", RANKING_QUESTIONS, items, min_played=min_played)
    write_json(path / "manifest.json", manifest)
    write_json(path / "test.json", test.to_json())
    return test
