"""Paired music and dance of the Tang et al. 2018 ballroom set for the dual music-dance system.

`DanceDataset.load()` turns every `DANCE_<G>_<n>.npz` with its `.mp3` into frame-aligned pairs:

1. the motion is cut where the audio ends: frames later than the last music frame are left
   out, never padded with invented music (several Tango mp3s are shorter than their motion:
   `DANCE_T_5` has 109 s of audio for 234 s of dance);
2. frames with NaN are cut out (`split_valid`; `DANCE_R_1` ends in 606 such frames), leaving
   one or more valid segments per dance;
3. each kept frame k gets the 53 music features of its time k / 25 s
   (`fugato.audio.features.music_features` of the whole song, so a segment's features equal
   the song's at the same time).

The result is cached per dance under `paths.cache_dir()/dance/` (one `.npz` per dance, each
written atomically with `fugato.atomic.atomic_path`, so a killed build keeps the dances it
finished and never leaves half a file). The entry folder is keyed by the data folder, the
settings (`max_seconds`), `FORMAT_VERSION` and the source of the feature extractor; each
dance's file by the size and modification time of its `.npz` and `.mp3`.

Splits are by dance, never by window (`dance_split`): no test window's dance, and no test
dance's music, was seen in training. `DANCE_T_1` and `DANCE_T_9` share one mp3 (identical
md5) with different dances, so they always share a split (`SAME_MUSIC`; a loaded dataset also
groups any other dances whose audio bytes are identical).

Windows (`DanceDataset.windows`): music (N, L, 53) float32 and dance (N, L, 147) float32, the
dance columns being 24 joints x 6D rotation (`DANCE_ROT6D`: joint j in columns 6j..6j+5, the
first two columns of its local rotation matrix as `fugato.motion.rotations` orders them; joint
0 is the global orientation, not normalised) and the root translation in metres
(`DANCE_TRANS`), normalised per window:

- x and z (the floor plane) relative to the window's first frame, so every window starts at
  the origin of the floor plane (where the dancer stands in the room carries no information
  the music could predict);
- y relative to the dance's floor: the median over its kept frames of the lowest foot joint
  (ankles and toes, 7, 8, 10, 11) on the mean-shape skeleton. The raw height of the root
  differs by tens of centimetres between dances (each fit put the floor elsewhere), while the
  pelvis height above the feet (about 0.9 m standing, less when the knees bend) is part of
  the dance;
- the heading (`heading`: where the root's z axis, the body's front, points on the floor) is
  turned (`turn`, about the vertical axis through the first frame's root) so that every window
  starts facing +z. A dancer's heading in the room is as arbitrary as where they stand, and a
  model that must carry it through 75 frames of its own output loses it (measured: the root
  orientation of free-running dances was 0.9 rad off by frame 10 and 1.5 rad by frame 50).

`fugato.motion.representation` holds the frame's layout and turns it back into rotation
matrices and joint positions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import shutil
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fugato import paths
from fugato.atomic import atomic_path
from fugato.errors import BadInputError, FugatoError
from fugato.motion.data import load_tang, split_valid
from fugato.motion.representation import (
    DANCE_DIM,
    DANCE_ROT6D,
    FPS,
    encode_dance,
    heading,
    turn,
)
from fugato.motion.skeleton import forward_kinematics

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when what a cached dance holds changes: every cached dance is then rebuilt."""

FOLDER_NAME = "dance_tang2018"
"""The Tang 2018 set's folder inside the shared data folder (`paths.data_dir()`)."""

WINDOW = 75
"""Frames per window in the paper (3 s at 25 fps)."""

N_MUSIC = 53
FOOT_JOINTS = (7, 8, 10, 11)
"""Ankles and toes: the joints whose lowest point per frame estimates the floor height."""

GENRES = {"C": "cha-cha", "R": "rumba", "T": "tango", "W": "waltz"}
SPLITS = ("train", "valid", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
SAME_MUSIC: tuple[tuple[str, ...], ...] = (("DANCE_T_1", "DANCE_T_9"),)
"""Dances that share one audio file (identical md5): always in the same split."""

_NAME = re.compile(r"^DANCE_([A-Za-z]+)_(\d+)$")


# -- names and the split --------------------------------------------------------------------------
def dance_genre(name: str) -> str:
    """"C", "R", "T" or "W" for `DANCE_<G>_<n>` (see `GENRES`); the whole name for others."""
    match = _NAME.match(name)
    return match.group(1).upper() if match else name


def _natural(name: str) -> tuple[str, int, str]:
    match = _NAME.match(name)
    return (match.group(1), int(match.group(2)), "") if match else ("~", 0, name)


def dance_split(names: Iterable[str], seed: int = 0,
                together: Iterable[Sequence[str]] = SAME_MUSIC) -> dict[str, list[str]]:
    """Split dances (not windows) into "train" / "valid" / "test", about 80/10/10 within each
    genre (the letter of `DANCE_<G>_<n>`).

    Dances named together in one group of `together` (default `SAME_MUSIC`: T_1 and T_9 share
    their music) land in the same split. Per genre of n dances, valid and test each get
    round(n / 10) dances (0.5 rounds up): groups are visited in an order shuffled by `seed`
    (and the genre), and each goes to test, else valid, while it fits in their quota, else to
    train; a group of two therefore never overfills a quota of one. The 61 Tang dances give
    49 / 6 / 6. Lists are in natural order (C_2 before C_10); the same names and seed give the
    same split whatever their order.
    """
    names = sorted(set(names), key=_natural)
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for group in together:
        members = [m for m in group if m in parent]
        for m in members[1:]:
            parent[root(m)] = root(members[0])
    units: dict[str, list[str]] = {}
    for n in names:
        units.setdefault(root(n), []).append(n)
    by_genre: dict[str, list[list[str]]] = {}
    for unit in units.values():
        by_genre.setdefault(dance_genre(unit[0]), []).append(unit)
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for genre, genre_units in sorted(by_genre.items()):
        genre_units.sort(key=lambda u: _natural(u[0]))
        size = sum(len(u) for u in genre_units)
        quota = {part: int(math.floor(frac * size + 0.5))
                 for part, frac in zip(SPLITS, SPLIT_FRACTIONS, strict=True)}
        count = dict.fromkeys(SPLITS, 0)
        rng = np.random.default_rng([seed, zlib.crc32(genre.encode())])
        for i in rng.permutation(len(genre_units)):
            unit = genre_units[int(i)]
            part = next((s for s in ("test", "valid") if count[s] + len(unit) <= quota[s]),
                        "train")
            count[part] += len(unit)
            out[part].extend(unit)
    return {s: sorted(v, key=_natural) for s, v in out.items()}


# -- one dance ------------------------------------------------------------------------------------
@dataclass(eq=False)
class DanceRecord:
    """One dance's kept frames (within its audio, without NaN), segment by segment.

    `poses` (n, 24, 3) float32 axis-angle, `trans` (n, 3) float32 metres (raw, as in the file),
    `music` (n, 53) float32 features of the same frames; `seg_starts` / `seg_lengths` (k,) give
    each valid segment's first frame in the source file and its length (the rows above are the
    segments one after another). `frames`: motion frames considered (the file's, or the first
    `max_seconds`); `audio_frames`: music frames of the audio; `audio_cut`: motion frames left
    out for lying after the audio's end; `nan_cut`: frames with NaN left out within the audio;
    `floor`: the floor height in metres (see the module docstring); `audio_md5` of the mp3.
    """

    name: str
    poses: np.ndarray
    trans: np.ndarray
    music: np.ndarray
    seg_starts: np.ndarray
    seg_lengths: np.ndarray
    frames: int
    audio_frames: int
    audio_cut: int
    nan_cut: int
    floor: float
    audio_md5: str

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def seg_offsets(self) -> np.ndarray:
        """(k,) row of each segment's first frame in `poses` / `music`."""
        return np.concatenate([[0], np.cumsum(self.seg_lengths)[:-1]]).astype(np.int64)

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """(row in `poses`, first frame in the source file, length) of each valid segment."""
        return zip(self.seg_offsets.tolist(), self.seg_starts.tolist(),
                   self.seg_lengths.tolist(), strict=True)

    @functools.cached_property
    def rotation_6d(self) -> np.ndarray:
        """(n, 144) float32 6D rotations of the kept frames (computed once, then kept)."""
        return encode_dance(self.poses, np.zeros((len(self), 3)))[:, DANCE_ROT6D].astype(
            np.float32)

    def encode(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows `index` (N, L) of the kept frames, each row one contiguous run within a
        segment -> music (N, L, 53) and dance (N, L, 147) float32, normalised per row (x, z
        from the row's first frame, y above the floor, first frame facing +z)."""
        trans = self.trans[index].astype(np.float64)
        trans[..., [0, 2]] -= trans[..., :1, [0, 2]]
        trans[..., 1] -= self.floor
        dance = np.concatenate([self.rotation_6d[index], trans], axis=-1)
        dance = turn(dance, -heading(dance[..., :1, :]))
        return self.music[index], dance.astype(np.float32)

    def arrays(self) -> dict[str, Any]:
        """What the cache file holds (scalars as numpy scalars, saved without pickle)."""
        return {
            "poses": self.poses, "trans": self.trans, "music": self.music,
            "seg_starts": self.seg_starts, "seg_lengths": self.seg_lengths,
            "frames": np.int64(self.frames), "audio_frames": np.int64(self.audio_frames),
            "audio_cut": np.int64(self.audio_cut), "nan_cut": np.int64(self.nan_cut),
            "floor": np.float64(self.floor), "audio_md5": np.str_(self.audio_md5),
            "format": np.int64(FORMAT_VERSION),
        }

    @classmethod
    def from_arrays(cls, name: str, a: Any) -> DanceRecord:
        if int(a["format"]) != FORMAT_VERSION:
            raise ValueError(f"format {int(a['format'])}, expected {FORMAT_VERSION}")
        return cls(name, a["poses"], a["trans"], a["music"], a["seg_starts"],
                   a["seg_lengths"], int(a["frames"]), int(a["audio_frames"]),
                   int(a["audio_cut"]), int(a["nan_cut"]), float(a["floor"]),
                   str(a["audio_md5"]))


def build_dance(npz: str | Path, max_seconds: float | None = None) -> DanceRecord:
    """Read one dance and its music and align them (steps 1-3 of the module docstring).
    `max_seconds`: only the first seconds of both (tests, quick looks). Raises
    `BadInputError` naming the file for a missing or unreadable motion or audio file, a frame
    rate other than 25 fps, or no valid frame within the audio."""
    from fugato.audio.features import music_features

    npz = Path(npz)
    motion = load_tang(npz)
    if motion.fps != FPS:
        raise BadInputError(npz, f"{motion.fps:g} fps; the music features are at {FPS} fps")
    audio = motion.audio
    if audio is None:
        raise BadInputError(npz.with_suffix(".mp3"), "no such file (the dance's music)")
    if max_seconds is not None:
        motion = motion[:int(round(max_seconds * FPS))]
    music = music_features(audio, duration=max_seconds)
    frames = len(motion)
    audio_frames = len(music)
    audio_cut = max(0, frames - audio_frames)
    segments = split_valid(motion[:frames - audio_cut])
    if not segments:
        raise BadInputError(npz, f"no valid frame within the audio ({audio_frames} music "
                                 f"frames, {frames} motion frames)")
    poses = np.concatenate([s.poses for s in segments])
    trans = np.concatenate([s.trans for s in segments])
    feats = np.concatenate([music[s.start:s.start + len(s)] for s in segments])
    feet = forward_kinematics(poses, trans)[:, FOOT_JOINTS, 1]
    return DanceRecord(
        name=npz.stem, poses=poses, trans=trans, music=feats.astype(np.float32),
        seg_starts=np.array([s.start for s in segments], dtype=np.int64),
        seg_lengths=np.array([len(s) for s in segments], dtype=np.int64),
        frames=frames, audio_frames=audio_frames, audio_cut=audio_cut,
        nan_cut=segments.dropped, floor=float(np.median(feet.min(axis=1))),
        audio_md5=hashlib.md5(audio.read_bytes(), usedforsecurity=False).hexdigest())


def _build_task(npz: str, max_seconds: float | None) -> tuple[str, dict[str, Any] | str]:
    """Worker: (name, arrays) or (name, the reason it failed); never raises."""
    name = Path(npz).stem
    try:
        return name, build_dance(npz, max_seconds).arrays()
    except BadInputError as error:
        return name, str(error)
    except Exception as error:  # a build never dies on one dance
        return name, f"{npz}: {type(error).__name__}: {str(error)[:200]}"


# -- windows --------------------------------------------------------------------------------------
@dataclass(eq=False)
class DanceWindows:
    """Aligned windows: `music` (N, L, 53) float32, `dance` (N, L, 147) float32 (layout in the
    module docstring), `names` (N,) the dance of each window, `starts` (N,) int64 the frame of
    the source file where it begins (`starts / 25` seconds into the audio); `uncovered`: kept
    frames of these dances that no window covers (segments shorter than L, tails)."""

    music: np.ndarray
    dance: np.ndarray
    names: np.ndarray
    starts: np.ndarray
    uncovered: int = 0

    def __len__(self) -> int:
        return len(self.music)


@dataclass(eq=False)
class DanceSegment:
    """One whole valid segment: `music` (n, 53), `dance` (n, 147) normalised as a window
    starting at the segment's first frame, `start` its first frame in the source file."""

    name: str
    start: int
    music: np.ndarray
    dance: np.ndarray


# -- the dataset ----------------------------------------------------------------------------------
@dataclass(eq=False)
class DanceDataset:
    """The aligned dances of one data folder, their split and where they are cached.

    `dances`: name -> `DanceRecord` in natural name order; `skipped`: (name, reason) for dances
    that could not be read; `split`: `dance_split` of the loaded names (with identical audio
    kept together); `max_seconds`: None for whole dances.
    """

    folder: Path
    dances: dict[str, DanceRecord]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seed: int = 0
    max_seconds: float | None = None
    cache_path: Path | None = None
    split: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.split = dance_split(self.dances, self.seed,
                                 together=[*SAME_MUSIC, *self.same_music()])

    @property
    def names(self) -> list[str]:
        return list(self.dances)

    def __len__(self) -> int:
        return len(self.dances)

    def same_music(self) -> list[list[str]]:
        """Groups of two or more dances whose mp3 files are byte for byte identical."""
        groups: dict[str, list[str]] = {}
        for name, record in self.dances.items():
            groups.setdefault(record.audio_md5, []).append(name)
        return [g for g in groups.values() if len(g) > 1]

    def _names_of(self, split: str) -> list[str]:
        if split == "all":
            return self.names
        if split not in SPLITS:
            raise FugatoError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)} "
                              "or all")
        return self.split[split]

    @classmethod
    def load(cls, folder: str | Path | None = None, names: Iterable[str] | None = None,
             max_seconds: float | None = None, workers: int = 2, seed: int = 0,
             progress: bool = True, rebuild: bool = False, max_skipped: float = 0.5
             ) -> DanceDataset:
        """The dances of `folder` (default: `dance_tang2018/` in the shared data folder), from
        the cache where it is up to date; the others are built in `workers` processes (each
        dance's music features cost about 10 s) with a progress bar over dances.

        `names`: only these dances (file stems, e.g. "DANCE_C_1"); `max_seconds`: only the
        first seconds of each dance and its audio (an excerpt's features are computed from the
        excerpt alone, so its last frames differ slightly from the whole song's). A dance that
        cannot be read is skipped with its reason in `skipped`. Raises `FugatoError` (one line)
        for a missing folder, a folder without dances, an unknown name, or when more than the
        fraction `max_skipped` of the dances fails (training on what is left would be training
        on another data set).
        """
        if folder is None:
            data = paths.data_dir(required=True)
            assert data is not None
            folder = data / FOLDER_NAME
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise FugatoError(f"{folder}: no such folder (expected the Tang 2018 dances, "
                              "DANCE_<G>_<n>.npz with their .mp3)")
        if max_seconds is not None and not max_seconds > 0:
            raise FugatoError(f"max_seconds {max_seconds} is not positive")
        available, wanted = _dance_files(folder, names)
        entry = _entry_dir(folder, max_seconds)
        files = {n: entry / f"{n}-{_file_key(available[n])}.npz" for n in wanted}
        records: dict[str, DanceRecord] = {}
        todo = []
        for name in wanted:
            if files[name].is_file() and not rebuild:
                try:
                    with np.load(files[name], allow_pickle=False) as arrays:
                        records[name] = DanceRecord.from_arrays(name, arrays)
                    continue
                except (OSError, ValueError, KeyError) as error:
                    log.warning("cached dance %s unreadable (%s): rebuilding", files[name], error)
            todo.append(name)
        skipped: list[tuple[str, str]] = []
        for name, result in _build_all([available[n] for n in todo], max_seconds, workers,
                                       progress):
            if isinstance(result, str):
                skipped.append((name, result))
                continue
            _write_dance(files[name], result)
            records[name] = DanceRecord.from_arrays(name, result)
        if not records:
            raise FugatoError(f"{folder}: no dance could be read ({len(skipped)} failed; "
                              f"first: {skipped[0][1] if skipped else 'none'})")
        if len(skipped) > max_skipped * len(wanted):
            raise FugatoError(f"{folder}: {len(skipped)} of {len(wanted)} dances could not be "
                              f"read (first: {skipped[0][1]}); more than the {max_skipped:.0%} "
                              "allowed (data.max_skipped)")
        for name, reason in skipped:
            log.warning("skipped %s: %s", name, reason)
        ordered = {n: records[n] for n in wanted if n in records}
        return cls(folder, ordered, skipped, seed, max_seconds, entry)

    def windows(self, split: str = "train", length: int = WINDOW,
                stride: int | None = None) -> DanceWindows:
        """Windows of `length` frames from the dances of `split` ("train", "valid", "test" or
        "all"), every `stride` frames (default `length`: no overlap) from the start of each
        valid segment; a window never crosses a NaN cut or the end of the audio. Arrays in
        `DanceWindows`; empty (0, length, ...) arrays when the split has no window."""
        if length < 2 or (stride is not None and stride < 1):
            raise ValueError(f"length {length} must be >= 2 and stride {stride} >= 1")
        stride = stride or length
        music, dance, names, starts = [], [], [], []
        uncovered = 0
        steps = np.arange(length)
        for name in self._names_of(split):
            record = self.dances[name]
            for offset, start, n in record.spans():
                if n < length:
                    uncovered += n
                    continue
                first = np.arange(0, n - length + 1, stride)
                uncovered += n - ((len(first) - 1) * min(stride, length) + length)
                m, d = record.encode(offset + first[:, None] + steps)
                music.append(m)
                dance.append(d)
                names += [name] * len(first)
                starts.append(start + first)
        if not music:
            return DanceWindows(np.zeros((0, length, N_MUSIC), np.float32),
                                np.zeros((0, length, DANCE_DIM), np.float32),
                                np.zeros(0, dtype=str), np.zeros(0, np.int64), uncovered)
        return DanceWindows(np.concatenate(music), np.concatenate(dance), np.array(names),
                            np.concatenate(starts).astype(np.int64), uncovered)

    def segments(self, split: str = "test") -> list[DanceSegment]:
        """Every valid segment of the dances of `split` whole (for evaluation on long
        sequences), normalised as one window from the segment's first frame."""
        out = []
        for name in self._names_of(split):
            record = self.dances[name]
            for offset, start, n in record.spans():
                m, d = record.encode(offset + np.arange(n)[None])
                out.append(DanceSegment(name, start, m[0], d[0]))
        return out

    def stats(self) -> dict[str, Any]:
        """Counts for a report: frames considered, kept, cut for lying after the audio's end
        and for NaN (in total and per dance), dances and kept frames per split, skipped."""
        records = self.dances.values()
        return {
            "folder": str(self.folder),
            "dances": len(self.dances),
            "max_seconds": self.max_seconds,
            "frames": sum(r.frames for r in records),
            "kept_frames": sum(len(r) for r in records),
            "audio_cut_frames": sum(r.audio_cut for r in records),
            "nan_cut_frames": sum(r.nan_cut for r in records),
            "audio_cut": {r.name: r.audio_cut for r in records if r.audio_cut},
            "nan_cut": {r.name: r.nan_cut for r in records if r.nan_cut},
            "same_music": self.same_music(),
            "splits": {s: {"dances": len(v), "frames": sum(len(self.dances[n]) for n in v)}
                       for s, v in self.split.items()},
            "skipped": [list(s) for s in self.skipped],
        }


# -- building and the cache -----------------------------------------------------------------------
def _dance_files(folder: Path, names: Iterable[str] | None
                 ) -> tuple[dict[str, Path], list[str]]:
    """The .npz dances of `folder` by name, and the names asked for (default: all) in natural
    order; raises `FugatoError` for a folder without dances or an unknown name."""
    available = {p.stem: p for p in folder.glob("*.npz") if not p.name.startswith(".")}
    if not available:
        raise FugatoError(f"{folder}: no .npz dance files")
    if names is None:
        return available, sorted(available, key=_natural)
    wanted = sorted({Path(n).stem for n in names}, key=_natural)
    missing = [n for n in wanted if n not in available]
    if missing:
        raise FugatoError(f"{folder}: no dance {', '.join(missing[:3])}"
                          f"{' ...' if len(missing) > 3 else ''} (.npz)")
    if not wanted:
        raise FugatoError("no dance names given")
    return available, wanted


def _build_all(paths_: list[Path], max_seconds: float | None, workers: int, progress: bool
               ) -> Iterable[tuple[str, dict[str, Any] | str]]:
    """Build dances in a process pool (inline for one worker or one dance), yielding each as
    it finishes under a tqdm bar over dances."""
    if not paths_:
        return
    from tqdm import tqdm

    bar = tqdm(total=len(paths_), desc="dance music features", unit="dance",
               disable=not progress)
    try:
        if workers <= 1 or len(paths_) == 1:
            for p in paths_:
                yield _build_task(str(p), max_seconds)
                bar.update(1)
            return
        from fugato.audio.features import warm_up

        warm_up()
        crashed = []
        with ProcessPoolExecutor(max_workers=min(workers, len(paths_))) as pool:
            futures = {pool.submit(_build_task, str(p), max_seconds): p for p in paths_}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:  # a dead worker is no verdict on its dances
                    crashed.append(futures[future])
                    continue
                bar.update(1)
                yield result
        if crashed:
            log.warning("a feature worker died: building its %d dances in this process",
                        len(crashed))
        for p in crashed:
            yield _build_task(str(p), max_seconds)
            bar.update(1)
    finally:
        bar.close()


def _file_key(npz: Path) -> str:
    """Size and modification time of a dance's .npz and .mp3 (an edited file rebuilds)."""
    parts = []
    for p in (npz, npz.with_suffix(".mp3")):
        try:
            st = p.stat()
            parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{p.name}:missing")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _entry_dir(folder: Path, max_seconds: float | None) -> Path:
    """`cache_dir()/dance/<folder name>-<full|Ns>-<folder hash>-<key>`; the key hashes the
    settings, `FORMAT_VERSION` and the feature extractor's source. Older entries of the same
    folder and span (an edited extractor, a new format) are removed."""
    from fugato.audio import features

    # 45 and 45.0 are one span (one folder name): keyed alike, or each would remove the other
    settings = {"format": FORMAT_VERSION, "folder": str(folder.resolve()),
                "max_seconds": None if max_seconds is None else float(max_seconds),
                "fps": FPS, "sample_rate": features.SAMPLE_RATE,
                "features": hashlib.sha256(Path(features.__file__).read_bytes()).hexdigest()}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    span = "full" if max_seconds is None else f"{max_seconds:g}s"
    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{folder.name[:40]}-{span}-{where}")
    root = paths.cache_dir() / "dance"
    entry = root / f"{slug}-{key}"
    entry.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old != entry and old.is_dir() and old.name.rsplit("-", 1)[0] == slug:
            shutil.rmtree(old, ignore_errors=True)
    return entry


def _write_dance(path: Path, arrays: dict[str, Any]) -> None:
    """Write one dance atomically and remove its files for older versions of the source."""
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    stem = path.name.rsplit("-", 1)[0]
    for old in path.parent.glob(f"{stem}-*.npz"):
        if old != path and old.name.rsplit("-", 1)[0] == stem:
            old.unlink(missing_ok=True)
