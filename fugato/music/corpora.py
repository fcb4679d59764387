"""Named corpora, parsed once in parallel and cached.

`load_corpus("essen:china")` resolves a name to source files, parses every tune (music21 for
ABC / MusicXML / Humdrum, symusic for MIDI, numpy for the Weimar Jazz Database CSVs) in a
process pool, skips and counts tunes that fail, and caches the result in `paths.cache_dir()`:

    corpora/<name>-<key>/melodies.npz   concatenated pitches/onsets/durations + per-tune offsets
    corpora/<name>-<key>/index.json     per-tune fields, skipped tunes with reasons, the split

The key hashes the bytes of the source files, `PARSER_VERSION` and the name with its options,
so an edited file or a parser change rebuilds. An entry is written into a temporary folder and
renamed into place in one step: a killed build never leaves a visible half-written entry.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fugato import paths
from fugato.errors import BadInputError, FugatoError
from fugato.music.io import (
    MUSIC_EXTENSIONS,
    abc_tune_headers,
    abc_tunes_with_ids,
    origin_region,
    parse_abc_tune,
    read_file,
)
from fugato.music.melody import TPQ, Melody, TimeSignature

if TYPE_CHECKING:
    from music21 import stream

log = logging.getLogger(__name__)

PARSER_VERSION = 2
"""Bump when parsing changes what a tune becomes: every cached corpus is then rebuilt."""

SPLITS = ("train", "valid", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
DEFAULT_JAZZ_GRID = 12
"""Steps per quarter note the Weimar Jazz Database onsets and ends are quantised to."""

_CORPORA = {
    "essen": "Essen folk songs (EsAC, music21 essenFolksong): 8,514 tunes, European and "
             "Chinese; essen:REGION selects by origin (china, europe, germany, ...)",
    "oneills": "O'Neill's Music of Ireland (1850), music21 oneills1850: Irish dance tunes",
    "ryans": "Ryan's Mammoth Collection (1883), music21 ryansMammoth: reels, jigs, hornpipes",
    "bach-soprano": "Soprano lines of the 4-part Bach chorales in music21's corpus",
    "wjazzd": "Weimar Jazz Database solos (shared data folder), quantised to 12 steps per "
              "quarter; wjazzd:N for N steps",
    "folder:PATH": "every readable music file under PATH (.abc .mid .midi .xml .musicxml .mxl "
                   ".krn), recursively",
}

# English region names -> the German spelling of the EsAC `O:` field.
_REGION_ALIASES = {
    "germany": "deutschland", "luxembourg": "luxemburg", "lorraine": "lothringen",
    "ireland": "irland", "austria": "oesterreich", "switzerland": "schweiz",
    "netherlands": "niederlande", "hungary": "ungarn", "poland": "polen", "russia": "russland",
    "sweden": "schweden", "france": "frankreich", "yugoslavia": "jugoslawien",
    "romania": "rumaenien", "czechoslovakia": "tschechoslowakei", "mexico": "mexiko",
    "denmark": "daenemark", "italy": "italien", "ukraine": "ukraine", "silesia": "schlesien",
    "alsace": "elsass", "bohemia": "boehmen", "tyrol": "tirol", "styria": "steiermark",
}


# -- the Corpus -----------------------------------------------------------------------------------
@dataclass(eq=False)
class Corpus:
    """Melodies of a named corpus with what was skipped and a train/valid/test split.

    `seen`: tunes tried (= loaded + skipped); `skipped`: (source id, reason) per failed tune;
    `assignment`: (n,) int8, 0 train / 1 valid / 2 test per melody.
    """

    name: str
    melodies: list[Melody]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seen: int = 0
    seed: int = 0
    assignment: np.ndarray | None = None
    cache_path: Path | None = None

    def __post_init__(self) -> None:
        if self.assignment is None:
            self.assignment = assign_splits(self.melodies, self.seed)

    def split(self, part: str) -> list[Melody]:
        """The melodies of `part` ('train', 'valid' or 'test')."""
        if part not in SPLITS:
            raise FugatoError(f"unknown split {part!r}: choose one of {', '.join(SPLITS)}")
        code = SPLITS.index(part)
        assert self.assignment is not None
        return [m for m, a in zip(self.melodies, self.assignment.tolist(), strict=True)
                if a == code]

    def __len__(self) -> int:
        return len(self.melodies)

    def __iter__(self) -> Iterator[Melody]:
        return iter(self.melodies)

    def __getitem__(self, index: int) -> Melody:
        return self.melodies[index]

    def __repr__(self) -> str:
        return (f"Corpus({self.name!r}, {len(self)} melodies, {self.seen} seen, "
                f"{len(self.skipped)} skipped)")


def assign_splits(melodies: Sequence[Melody], seed: int = 0) -> np.ndarray:
    """Deterministic 80/10/10 split by tune: (n,) int8, 0 train / 1 valid / 2 test.

    A tune's split comes from a hash of its source id and `seed`, so it does not depend on
    the order or the other tunes. Tunes with identical notes (collections repeat tunes: the
    Essen test files copy others) share the split of the first one, so no tune is both
    trained on and tested.
    """
    out = np.zeros(len(melodies), dtype=np.int8)
    first_source: dict[bytes, str] = {}
    bounds = np.cumsum(SPLIT_FRACTIONS)[:-1]
    for i, melody in enumerate(melodies):
        content = hashlib.sha1(melody.pitches.tobytes() + melody.onsets.tobytes()
                               + melody.durations.tobytes()).digest()
        source = first_source.setdefault(content, melody.source or str(i))
        digest = hashlib.sha256(f"{seed}\0{source}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        out[i] = int(np.searchsorted(bounds, u, side="right"))
    return out


# -- tasks: what a worker parses ------------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    """One unit of parsing: an ABC tune, a file, a chorale or a jazz solo."""

    kind: str  # "abc" | "file" | "bach" | "wjazzd"
    source: str  # stable id, e.g. "essenFolksong/han1.abc#X12"
    payload: Any
    meta: dict[str, Any]


Outcome = tuple[str, "Melody | str"]  # (source id, melody or the reason it was skipped)


def _run_task(task: _Task) -> list[Outcome]:
    try:
        if task.kind == "abc":
            melodies = [parse_abc_tune(task.payload, task.source)]
        elif task.kind == "file":
            melodies = read_file(task.payload)
        elif task.kind == "bach":
            melodies = [_parse_chorale(Path(task.payload), task.source)]
        elif task.kind == "wjazzd":
            payload = cast("tuple[str, dict[str, str], int]", task.payload)
            melodies = [_wjazzd_melody(*payload, source=task.source)]
        else:
            raise ValueError(f"unknown task kind {task.kind!r}")
    except BadInputError as error:
        return [(task.source, error.reason)]
    except Exception as error:  # a build never dies on one tune
        return [(task.source, f"{type(error).__name__}: {str(error)[:200]}")]
    out: list[Outcome] = []
    for i, melody in enumerate(melodies):
        source = task.source if len(melodies) == 1 else f"{task.source}#{i + 1}"
        melody.source = source
        melody.metadata = {**task.meta, **melody.metadata}
        out.append((source, melody))
    return out


def _run_chunk(tasks: Sequence[_Task]) -> list[Outcome]:
    return [outcome for task in tasks for outcome in _run_task(task)]


def four_part_score(path: str | os.PathLike[str], source: str | None = None) -> stream.Score:
    """A chorale file parsed by music21; `BadInputError` naming `source` (default: the path)
    unless it is readable and has exactly four parts. Call it inside `io.quiet()`."""
    from music21 import converter

    name = source or str(path)
    try:
        score = cast("stream.Score", converter.parse(Path(path), forceSource=True))
    except Exception as error:  # music21 raises many types for unreadable scores
        raise BadInputError(name, f"unreadable ({type(error).__name__})") from None
    if len(score.parts) != 4:
        raise BadInputError(name, f"{len(score.parts)} parts, not a 4-part chorale")
    return score


def _parse_chorale(path: Path, source: str) -> Melody:
    from fugato.music.io import melody_from_music21, quiet

    with quiet():
        melody = melody_from_music21(four_part_score(path, source), source)
    melody.metadata.update(voice="soprano", composer="J. S. Bach")
    return melody


def _wjazzd_melody(csv_text: str, row: dict[str, str], grid: int, source: str) -> Melody:
    """One Weimar Jazz Database solo: seconds -> beats at the solo's average tempo, first onset
    at 0, onsets and ends quantised to `grid` steps per quarter, overlaps cut, empty notes
    dropped. The database has no bar lines: 4/4 is assumed."""
    data = np.loadtxt(io.StringIO(csv_text), delimiter=",", ndmin=2)
    if data.size == 0:
        raise BadInputError(source, "no notes in the solo CSV")
    tempo = float(row["avgtempo"])
    if not tempo > 0:
        raise BadInputError(source, f"average tempo {row['avgtempo']!r} is not positive")
    pitches = np.rint(data[:, 0]).astype(np.int64)
    start = data[:, 1].min()
    beats_on = (data[:, 1] - start) * tempo / 60.0
    beats_end = (data[:, 1] + data[:, 2] - start) * tempo / 60.0
    step = TPQ // grid
    onsets = np.rint(beats_on * grid).astype(np.int64) * step
    ends = np.rint(beats_end * grid).astype(np.int64) * step
    order = np.argsort(onsets, kind="stable")
    pitches, onsets, ends = pitches[order], onsets[order], ends[order]
    ends[:-1] = np.minimum(ends[:-1], onsets[1:])  # a monophonic line: cut at the next onset
    keep = (ends > onsets) & (pitches >= 0) & (pitches <= 127)
    if not keep.any():
        raise BadInputError(source, "every note vanished when quantised")
    meta: dict[str, Any] = {
        "performer": row.get("performer", ""), "instrument": row.get("instrument", ""),
        "recording_year": row.get("recording_year", ""), "grid": grid,
        "time_signature_assumed": True,
    }
    return Melody(pitches[keep], onsets[keep], ends[keep] - onsets[keep],
                  time_signatures=[TimeSignature(0, 4, 4)], tempo=tempo,
                  title=row.get("title", ""), source=source, metadata=meta)


# -- resolving names ------------------------------------------------------------------------------
@dataclass
class _Spec:
    """A resolved corpus name: the files its cache key hashes and how to make its tasks."""

    name: str
    root: Path
    files: list[Path]
    make_tasks: Callable[[], tuple[list[_Task], list[tuple[str, str]]]]
    options: dict[str, Any] = field(default_factory=dict)


def _music21_corpus_dir(sub: str) -> Path:
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise FugatoError("music21 is not installed: it ships the folk and chorale corpora")
    return Path(list(spec.submodule_search_locations)[0]) / "corpus" / sub


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _is_asian(origin: str) -> bool:
    first = origin.split(",")[0].strip().lower()
    return first in ("asien", "china") or origin_region(origin) == "China"


def _region_filter(region: str) -> Callable[[str], bool]:
    """A predicate on the `O:` origin field for `essen:REGION`."""
    region = region.strip().lower()
    if region in ("asia", "asien"):
        return _is_asian
    if region in ("europe", "europa"):
        return lambda origin: not _is_asian(origin)
    if region == "china":
        return lambda origin: "china" in origin.lower() or origin_region(origin) == "China"
    needle = _REGION_ALIASES.get(region, region)
    return lambda origin: needle in origin.lower()


def _abc_collection_spec(name: str, sub: str, genre: str, region: str | None = None) -> _Spec:
    root = _music21_corpus_dir(sub)
    files = sorted(root.glob("*.abc"))
    if not files:
        raise FugatoError(f"music21 corpus folder {root} holds no .abc files")
    keep = _region_filter(region) if region else None

    def make_tasks() -> tuple[list[_Task], list[tuple[str, str]]]:
        tasks = []
        for path in files:
            text = _read_text(path)
            tunes = abc_tunes_with_ids(text, f"{sub}/{path.name}")
            headers = abc_tune_headers(text)
            for (source, tune), header in zip(tunes, headers, strict=True):
                if keep is None or keep(header.get("O", "")):
                    tasks.append(_Task("abc", source, tune, {"genre": genre, "collection": sub}))
        if not tasks:
            raise FugatoError(f"{name}: no tune matches region {region!r} (try china, europe, "
                              "germany, luxembourg, lorraine, ireland, ...)")
        return tasks, []

    return _Spec(name, root, files, make_tasks, {"region": region})


def bach_chorale_files() -> list[Path]:
    """The chorale files of music21's corpus (`bwv*.mxl/.xml/.krn`), sorted by name."""
    root = _music21_corpus_dir("bach")
    return sorted(p for p in root.iterdir()
                  if p.suffix in (".mxl", ".xml", ".krn") and p.name.startswith("bwv"))


def _bach_spec() -> _Spec:
    root = _music21_corpus_dir("bach")
    files = bach_chorale_files()

    def make_tasks() -> tuple[list[_Task], list[tuple[str, str]]]:
        meta = {"genre": "chorale", "collection": "bach"}
        return [_Task("bach", f"bach/{p.name}", str(p), meta) for p in files], []

    return _Spec("bach-soprano", root, files, make_tasks)


def _wjazzd_spec(grid: int) -> _Spec:
    if grid <= 0 or TPQ % grid:
        raise FugatoError(f"wjazzd grid must divide {TPQ} (e.g. 12 or 24), not {grid}")
    data = paths.data_dir(required=True)
    assert data is not None
    root = data / "wjazzd"
    files = [root / "score_csv.zip", root / "df_solos.csv"]
    for f in files:
        if not f.is_file():
            raise FugatoError(f"Weimar Jazz Database file missing: {f}")

    def make_tasks() -> tuple[list[_Task], list[tuple[str, str]]]:
        with open(files[1], newline="", encoding="utf-8") as handle:
            rows = {row["base_name"]: row for row in csv.DictReader(handle)}
        tasks, skipped = [], []
        with zipfile.ZipFile(files[0]) as archive:
            for member in sorted(archive.namelist()):
                if not member.endswith("_solo.csv"):
                    continue
                base = Path(member).name[: -len("_solo.csv")]
                source = f"wjazzd/{base}"
                row = rows.get(base)
                if row is None:
                    skipped.append((source, "not in df_solos.csv: no average tempo to turn "
                                            "seconds into beats"))
                    continue
                text = archive.read(member).decode("utf-8")
                tasks.append(_Task("wjazzd", source, (text, row, grid),
                                   {"genre": "jazz", "collection": "wjazzd"}))
        return tasks, skipped

    return _Spec(f"wjazzd:{grid}" if grid != DEFAULT_JAZZ_GRID else "wjazzd", root, files,
                 make_tasks, {"grid": grid})


def _folder_spec(folder: str) -> _Spec:
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FugatoError(f"folder:{folder}: no such folder")
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in MUSIC_EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))

    def make_tasks() -> tuple[list[_Task], list[tuple[str, str]]]:
        tasks, skipped = [], []
        meta = {"collection": root.name}
        for path in files:
            rel = path.relative_to(root).as_posix()
            if path.suffix.lower() != ".abc":
                tasks.append(_Task("file", rel, str(path), meta))
                continue
            # ABC files are split into tunes here so that a big file spreads over workers;
            # a file that is not ABC text at all is one skipped entry.
            data = path.read_bytes()
            reason = None
            if not data.strip():
                reason = "empty file"
            elif b"\x00" in data[:4096]:
                reason = "binary data, not ABC text"
            tunes = [] if reason else abc_tunes_with_ids(_read_text(path), rel)
            if not reason and not tunes:
                reason = "no ABC tune found (no X: or K: field)"
            if reason:
                skipped.append((rel, reason))
            tasks += [_Task("abc", source, tune, meta) for source, tune in tunes]
        return tasks, skipped

    return _Spec(f"folder:{root}", root, files, make_tasks)


def _resolve(name: str) -> _Spec:
    base, _, option = name.strip().partition(":")
    base = base.lower()
    if base == "essen":
        return _abc_collection_spec(f"essen:{option.lower()}" if option else "essen",
                                    "essenFolksong", "folk", option or None)
    if base == "oneills" and not option:
        return _abc_collection_spec("oneills", "oneills1850", "folk")
    if base == "ryans" and not option:
        return _abc_collection_spec("ryans", "ryansMammoth", "folk")
    if base == "bach-soprano" and not option:
        return _bach_spec()
    if base == "wjazzd":
        if option and not option.isdigit():
            raise FugatoError(f"wjazzd:{option}: the option is the grid in steps per quarter")
        return _wjazzd_spec(int(option) if option else DEFAULT_JAZZ_GRID)
    if base == "folder" and option:
        return _folder_spec(name.strip()[len("folder:"):])
    known = ", ".join(n for n, _ in list_corpora())
    raise FugatoError(f"unknown corpus {name!r}: known corpora are {known}")


def corpus_label(name: str) -> str:
    """A corpus name as reports show it: a folder by its own name ("folder:/x/celtic" ->
    "celtic"), a named corpus as it is ("essen:china")."""
    base, _, option = name.strip().partition(":")
    if base.lower() == "folder" and option:
        return Path(option).expanduser().resolve().name or option
    return name.strip()


def list_corpora() -> list[tuple[str, str]]:
    """(name, description) of every named corpus."""
    return list(_CORPORA.items())


# -- the cache ------------------------------------------------------------------------------------
def _cache_key(spec: _Spec) -> str:
    digest = hashlib.sha256()
    digest.update(f"fugato-corpus\0{PARSER_VERSION}\0{spec.name}\0".encode())
    digest.update(json.dumps(spec.options, sort_keys=True).encode())
    for path in spec.files:
        digest.update(f"\0{path.relative_to(spec.root).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", name).strip("_")[:60] or "corpus"


def _corpora_dir() -> Path:
    folder = paths.cache_dir() / "corpora"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _remove_stale_temp_dirs(folder: Path) -> None:
    """Remove `.tmp-<pid>-*` folders left by builds that were killed."""
    paths.remove_dead_folders(folder, ".tmp-")


def _melody_record(melody: Melody) -> dict[str, Any]:
    return {
        "title": melody.title, "key": melody.key, "tempo": melody.tempo,
        "time_signatures": [[t.tick, t.numerator, t.denominator] for t in melody.time_signatures],
        "pickup": melody.pickup, "source": melody.source, "metadata": melody.metadata,
    }


def _write_entry(entry: Path, corpus: Corpus) -> None:
    """Write a cache entry atomically: into a temporary folder beside it, then one rename."""
    folder = entry.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=folder))
    try:
        melodies = corpus.melodies
        lengths = np.array([len(m) for m in melodies], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

        def joined(attr: str, dtype: type) -> np.ndarray:
            if not melodies:
                return np.zeros(0, dtype=dtype)
            return np.concatenate([getattr(m, attr) for m in melodies]).astype(dtype)

        np.savez(tmp / "melodies.npz", pitches=joined("pitches", np.int16),
                 onsets=joined("onsets", np.int64), durations=joined("durations", np.int64),
                 offsets=offsets)
        assert corpus.assignment is not None
        index = {
            "format": 1, "parser_version": PARSER_VERSION, "name": corpus.name,
            "seen": corpus.seen, "skipped": [list(s) for s in corpus.skipped],
            "seed": corpus.seed, "split": "".join(map(str, corpus.assignment.tolist())),
            "tunes": [_melody_record(m) for m in melodies],
        }
        with open(tmp / "index.json", "w", encoding="utf-8") as handle:
            json.dump(index, handle, ensure_ascii=False, separators=(",", ":"))
        try:
            os.replace(tmp, entry)
        except OSError:
            if not (entry / "index.json").exists():  # not a twin build that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    slug = entry.name.rsplit("-", 1)[0]
    for old in folder.iterdir():  # older entries of the same corpus are dead weight
        if old != entry and not old.name.startswith(".") and old.name.rsplit("-", 1)[0] == slug:
            shutil.rmtree(old, ignore_errors=True)


def _fast_melody(fields: dict[str, Any]) -> Melody:
    """A Melody from validated cached arrays without re-running the checks of __init__
    (they dominate a warm reload of thousands of tunes)."""
    melody = Melody.__new__(Melody)
    melody.__dict__.update(fields)
    return melody


def _read_entry(entry: Path, seed: int) -> Corpus:
    with open(entry / "index.json", encoding="utf-8") as handle:
        index = json.load(handle)
    with np.load(entry / "melodies.npz") as arrays:
        pitches, onsets = arrays["pitches"], arrays["onsets"]
        durations, offsets = arrays["durations"], arrays["offsets"].tolist()
    melodies = []
    for i, record in enumerate(index["tunes"]):
        a, b = offsets[i], offsets[i + 1]
        melodies.append(_fast_melody({
            "pitches": pitches[a:b], "onsets": onsets[a:b], "durations": durations[a:b],
            "time_signatures": [TimeSignature(*t) for t in record["time_signatures"]],
            "pickup": record["pickup"], "key": record["key"], "tempo": record["tempo"],
            "title": record["title"], "source": record["source"],
            "metadata": record["metadata"],
        }))
    assignment = None
    if index["seed"] == seed:
        assignment = np.frombuffer(index["split"].encode(), dtype=np.uint8) - ord("0")
        assignment = assignment.astype(np.int8)
    return Corpus(index["name"], melodies, [tuple(s) for s in index["skipped"]],
                  index["seen"], seed, assignment, entry)


# -- building -------------------------------------------------------------------------------------
def _chunks(tasks: list[_Task], size: int) -> list[list[_Task]]:
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def _parse_all(tasks: list[_Task], workers: int, progress: bool, desc: str
               ) -> list[Outcome]:
    """Parse tasks in a process pool, chunked by tune; results in task order."""
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc=desc, unit="tune", disable=not progress, smoothing=0.05)
    try:
        size = max(1, min(32, len(tasks) // (workers * 8) or 1))
        chunks = _chunks(tasks, size)
        if workers <= 1 or len(chunks) <= 1:
            results = []
            for chunk in chunks:
                results.append(_run_chunk(chunk))
                bar.update(len(chunk))
            return [o for r in results for o in r]
        import music21  # noqa: F401  (imported once here, inherited by forked workers)

        done: list[list[Outcome] | None] = [None] * len(chunks)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_chunk, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    done[i] = future.result()
                except BrokenProcessPool:  # a dead worker is no verdict on its tunes
                    continue
                bar.update(len(chunks[i]))
        crashed = [i for i, r in enumerate(done) if r is None]
        if crashed:
            log.warning("a parsing worker died: parsing its %d chunks in this process",
                        len(crashed))
        for i in crashed:
            done[i] = _run_chunk(chunks[i])
            bar.update(len(chunks[i]))
        return [o for r in done if r is not None for o in r]
    finally:
        bar.close()


def _build(spec: _Spec, workers: int, progress: bool, seed: int) -> Corpus:
    tasks, skipped = spec.make_tasks()
    outcomes = _parse_all(tasks, workers, progress, f"parsing {spec.name}")
    melodies = [m for _, m in outcomes if isinstance(m, Melody)]
    skipped = skipped + [(s, r) for s, r in outcomes if isinstance(r, str)]
    return Corpus(spec.name, melodies, skipped, seen=len(melodies) + len(skipped), seed=seed)


def load_corpus(name: str, workers: int | None = None, progress: bool = True, seed: int = 0,
                rebuild: bool = False) -> Corpus:
    """Load a named corpus (see `list_corpora`), from the cache when it is up to date.

    A cold build parses in `workers` processes (default: all CPUs), skips and counts tunes
    that fail, and writes the cache atomically. `seed` picks the train/valid/test split.
    Raises `FugatoError` for an unknown name or missing data.
    """
    spec = _resolve(name)
    folder = _corpora_dir()
    _remove_stale_temp_dirs(folder)
    entry = folder / f"{_slug(spec.name)}-{_cache_key(spec)}"
    if entry.is_dir() and not rebuild:
        try:
            return _read_entry(entry, seed)
        except (OSError, ValueError, KeyError) as error:
            # Unreadable entry (disk trouble, a newer format): rebuild it.
            if progress:
                print(f"cache entry {entry} unreadable ({error}); rebuilding")
    corpus = _build(spec, workers or os.cpu_count() or 1, progress, seed)
    if rebuild and entry.is_dir():
        shutil.rmtree(entry, ignore_errors=True)
    _write_entry(entry, corpus)
    corpus.cache_path = entry
    return corpus


# -- statistics -----------------------------------------------------------------------------------
def reason_kind(reason: str) -> str:
    """A skip reason with its numbers folded to N ("bar 12: ..." -> "bar N: ..."), so that
    reasons of one kind count together; digits inside a word ("music21") stay."""
    return re.sub(r"\b\d+\b", "N", reason)[:120]


def corpus_stats(corpus: Corpus) -> dict[str, Any]:
    """Counts for a report: tunes, notes, time signatures (first of each tune; "none" for free
    meter, e.g. EsAC's `M: none`), pitch range, pitch histogram, note-duration histogram
    (keys: quarter notes as fractions, "1/2"), the most common skip reasons, and every
    skipped file with its reason (`skipped_files`)."""
    pitches = np.concatenate([m.pitches for m in corpus.melodies]) if corpus.melodies \
        else np.zeros(0, dtype=np.int16)
    durations = np.concatenate([m.durations for m in corpus.melodies]) if corpus.melodies \
        else np.zeros(0, dtype=np.int64)
    values, counts = np.unique(durations, return_counts=True)
    pitch_values, pitch_counts = np.unique(pitches, return_counts=True)
    reasons = Counter(reason_kind(reason) for _, reason in corpus.skipped)
    splits = Counter(SPLITS[a] for a in (corpus.assignment.tolist()
                                         if corpus.assignment is not None else []))
    return {
        "name": corpus.name,
        "tunes": len(corpus),
        "seen": corpus.seen,
        "skipped": len(corpus.skipped),
        "notes": int(len(pitches)),
        "splits": {s: splits.get(s, 0) for s in SPLITS},
        "time_signatures": dict(Counter(str(m.time_signatures[0]) if m.time_signatures
                                        else "none" for m in corpus.melodies).most_common()),
        "pitch_min": int(pitches.min()) if len(pitches) else None,
        "pitch_max": int(pitches.max()) if len(pitches) else None,
        "pitch_histogram": {int(p): int(c) for p, c in zip(pitch_values, pitch_counts,
                                                             strict=True)},
        "duration_histogram": {str(Fraction(int(v), TPQ)): int(c)
                               for v, c in zip(values, counts, strict=True)},
        "skip_reasons": dict(reasons.most_common(10)),
        "skipped_files": {source: reason for source, reason in corpus.skipped},
    }


def plot_corpus_stats(stats: dict[str, Any], path_png: str | os.PathLike[str]) -> None:
    """Save a PNG with the pitch histogram and the 20 commonest note durations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fugato.atomic import atomic_path

    fig, (ax_pitch, ax_dur) = plt.subplots(1, 2, figsize=(11, 3.8))
    pitch = stats["pitch_histogram"]
    ax_pitch.bar([int(p) for p in pitch], list(pitch.values()), width=0.9, color="#4c72b0")
    ax_pitch.set(xlabel="MIDI pitch", ylabel="notes", title=f"{stats['name']}: pitches")
    durations = sorted(stats["duration_histogram"].items(), key=lambda kv: -kv[1])[:20]
    durations.sort(key=lambda kv: Fraction(kv[0]))
    ax_dur.bar(range(len(durations)), [c for _, c in durations], color="#dd8452")
    ax_dur.set_xticks(range(len(durations)), [d for d, _ in durations], rotation=60,
                      fontsize=8)
    ax_dur.set(xlabel="duration (quarter notes)", ylabel="notes",
               title=f"{stats['tunes']} tunes, {stats['notes']} notes")
    fig.tight_layout()
    with atomic_path(path_png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
