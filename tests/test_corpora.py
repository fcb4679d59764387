"""Named corpora: building, skipping bad input, the cache and its atomicity, splits."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from shared_data import require

from fugato.errors import FugatoError
from fugato.music import (
    TPQ,
    Melody,
    corpora,
    corpus_stats,
    list_corpora,
    load_corpus,
    plot_corpus_stats,
    write_midi,
)

ESSEN = Path(importlib.util.find_spec("music21").submodule_search_locations[0]) \
    / "corpus" / "essenFolksong"
VALID_TUNE = "X:1\nT:Valid\nM:2/4\nL:1/8\nK:D\nDF AF | d2 A2 | BA GF | E4 |]\n"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("FUGATO_CACHE", str(folder))
    return folder


def entries(cache: Path) -> list[str]:
    """Visible cache entries (temporary folders start with a dot)."""
    root = cache / "corpora"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) \
        if root.is_dir() else []


def same(a: Melody, b: Melody) -> bool:
    return (a == b and a.metadata == b.metadata and a.time_signatures == b.time_signatures
            and (a.title, a.key, a.tempo, a.pickup, a.source)
            == (b.title, b.key, b.tempo, b.pickup, b.source))


@pytest.fixture
def essen_slice(tmp_path) -> Path:
    """A folder with one real Essen file of 20 tunes (it repeats some tunes)."""
    folder = tmp_path / "essen_slice"
    folder.mkdir()
    shutil.copy(ESSEN / "test1.abc", folder)
    return folder


# -- bad input ------------------------------------------------------------------------------------
def test_folder_with_bad_files_skips_them_with_reasons(tmp_path):
    from music21 import chord, note, stream

    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "empty.mid").write_bytes(b"")
    write_midi(Melody([60, 62, 64], [0, TPQ, 2 * TPQ], [TPQ] * 3), tmp_path / "whole.mid")
    data = (tmp_path / "whole.mid").read_bytes()
    (folder / "truncated.mid").write_bytes(data[: len(data) // 2])
    (folder / "garbage.abc").write_text("this is { not ] music at all\n")
    (folder / "binary.abc").write_bytes(bytes(range(256)) * 8)
    part = stream.Part([chord.Chord(["C4", "E4", "G4"]), chord.Chord(["D4", "F4", "A4"]),
                        note.Note("B4", quarterLength=2)])
    stream.Score([part]).write("musicxml", fp=folder / "sub" / "chords.musicxml")
    (folder / "sub" / "valid.abc").write_text(VALID_TUNE)
    (folder / "readme.txt").write_text("not music, not counted")

    corpus = load_corpus(f"folder:{folder}", workers=1, progress=False)

    assert sorted(m.source for m in corpus) == ["sub/chords.musicxml", "sub/valid.abc#X1"]
    by_source = {m.source: m for m in corpus}
    assert by_source["sub/chords.musicxml"].pitches.tolist() == [67, 69, 71]
    assert by_source["sub/chords.musicxml"].metadata["reduced_from_polyphony"] is True
    assert by_source["sub/valid.abc#X1"].pitches.tolist() == [62, 66, 69, 66, 74, 69, 71, 69,
                                                              67, 66, 64]
    reasons = dict(corpus.skipped)
    assert sorted(reasons) == ["binary.abc", "empty.mid", "garbage.abc", "truncated.mid"]
    assert "empty" in reasons["empty.mid"]
    assert "MIDI" in reasons["truncated.mid"]
    assert "binary" in reasons["binary.abc"]
    assert "ABC" in reasons["garbage.abc"]
    assert corpus.seen == 6
    stats = corpus_stats(corpus)
    assert stats["tunes"] == 2 and stats["skipped"] == 4 and stats["seen"] == 6

    # The same through the command line: it finishes, exits 0 and names every skipped file.
    done = subprocess.run([sys.executable, "-m", "fugato.cli", "data", "build",
                           f"folder:{folder}", "--quiet", "--workers", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "6 tunes seen, 2 loaded, 4 skipped" in done.stdout
    for name in reasons:
        assert f"skipped {name}: {reasons[name]}" in done.stdout


# -- a small real corpus: build, cache, split -----------------------------------------------------
def test_cold_build_then_warm_reload_is_identical(essen_slice, cache):
    name = f"folder:{essen_slice}"
    cold = load_corpus(name, workers=1, progress=False)
    assert cold.seen == 20 and len(cold) == 20 and not cold.skipped
    assert cold[0].source == "test1.abc#X1"
    assert cold[0].metadata["region"] == "Deutschland"
    assert len(entries(cache)) == 1
    warm = load_corpus(name, workers=1, progress=False)
    assert warm.cache_path == cold.cache_path
    assert len(warm) == len(cold)
    assert all(same(a, b) for a, b in zip(cold, warm, strict=True))
    assert warm.skipped == cold.skipped and warm.seen == cold.seen
    assert np.array_equal(warm.assignment, cold.assignment)
    assert all(isinstance(m.durations, np.ndarray) for m in warm)


def test_parallel_build_equals_serial_build(essen_slice, cache):
    serial = load_corpus(f"folder:{essen_slice}", workers=1, progress=False)
    parallel = load_corpus(f"folder:{essen_slice}", workers=2, progress=False, rebuild=True)
    assert len(serial) == 20 and parallel.seen == serial.seen == 20  # not two empty corpora
    assert all(same(a, b) for a, b in zip(serial, parallel, strict=True))
    assert np.array_equal(parallel.assignment, serial.assignment)


def test_changed_source_file_rebuilds(essen_slice, cache):
    first = load_corpus(f"folder:{essen_slice}", workers=1, progress=False)
    (essen_slice / "extra.abc").write_text(VALID_TUNE)
    second = load_corpus(f"folder:{essen_slice}", workers=1, progress=False)
    assert len(second) == len(first) + 1
    assert len(entries(cache)) == 1  # the stale entry of the same corpus is gone


def test_split_is_deterministic_by_tune_and_seeded(essen_slice):
    corpus = load_corpus(f"folder:{essen_slice}", workers=1, progress=False, seed=0)
    parts = {p: corpus.split(p) for p in ("train", "valid", "test")}
    sources = [m.source for p in parts.values() for m in p]
    assert sorted(sources) == sorted(m.source for m in corpus)  # a partition: each tune once
    again = corpora.assign_splits(corpus.melodies, seed=0)
    assert np.array_equal(again, corpus.assignment)
    # the same tune (identical notes) never sits in two splits
    by_notes: dict[bytes, set[int]] = {}
    for melody, split in zip(corpus, corpus.assignment.tolist(), strict=True):
        by_notes.setdefault(melody.pitches.tobytes() + melody.onsets.tobytes(), set()).add(split)
    assert all(len(s) == 1 for s in by_notes.values())
    assert any(len(m) > 1 for m in [[x for x in corpus if x == y] for y in corpus])
    # the seed changes the split, which keeps about 80/10/10
    reseeded = load_corpus(f"folder:{essen_slice}", workers=1, progress=False, seed=1)
    many = [Melody([60], [i], [TPQ], source=f"t{i}") for i in range(400)]
    split0, split1 = corpora.assign_splits(many, 0), corpora.assign_splits(many, 1)
    assert not np.array_equal(split0, split1)
    fractions = np.bincount(split0, minlength=3) / len(many)
    assert np.allclose(fractions, [0.8, 0.1, 0.1], atol=0.06)
    assert len(reseeded) == len(corpus)
    with pytest.raises(FugatoError):
        corpus.split("holdout")


def test_split_of_a_tune_ignores_other_tunes():
    many = [Melody([40 + i % 50, 60 + i // 50], [0, TPQ], [TPQ, TPQ], source=f"t{i}")
            for i in range(100)]
    full = corpora.assign_splits(many, 3)
    assert np.array_equal(corpora.assign_splits(many[50:], 3), full[50:])


# -- atomic cache ---------------------------------------------------------------------------------
_KILLED_BUILD = textwrap.dedent("""
    import json, sys, time
    from fugato.music import corpora
    stage = sys.argv[2]
    if stage == "parse":
        run = corpora._run_task
        def slow(task):
            print("parsing", flush=True)
            time.sleep(0.1)
            return run(task)
        corpora._run_task = slow
    else:
        def stuck(obj, handle, **kwargs):
            handle.write('{"tunes": [')
            handle.flush()
            print("writing", flush=True)
            time.sleep(600)
        corpora.json.dump = stuck
    corpora.load_corpus(sys.argv[1], workers=1, progress=False)
""")


@pytest.mark.parametrize("stage", ["parse", "write"])
def test_killed_build_leaves_no_cache_entry(essen_slice, cache, stage):
    env = {**os.environ, "FUGATO_CACHE": str(cache)}
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD, f"folder:{essen_slice}", stage],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert line.strip() in ("parsing", "writing"), line
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert entries(cache) == []
    if stage == "write":  # the half-written folder exists but is not an entry
        assert any(p.name.startswith(".tmp-") for p in (cache / "corpora").iterdir())
    corpus = load_corpus(f"folder:{essen_slice}", workers=1, progress=False)
    assert len(corpus) == 20
    assert len(entries(cache)) == 1
    assert not any(p.name.startswith(".tmp-") for p in (cache / "corpora").iterdir())
    assert len(load_corpus(f"folder:{essen_slice}", workers=1, progress=False)) == 20


# -- named corpora --------------------------------------------------------------------------------
def test_essen_region_selection_happens_on_headers():
    count = {}
    for name in ("essen", "essen:china", "essen:europe", "essen:germany", "essen:lorraine",
                 "essen:Luxembourg", "essen:ireland"):
        tasks, skipped = corpora._resolve(name).make_tasks()
        count[name] = len(tasks)
        assert not skipped
    assert count["essen"] == 8514
    assert count["essen:china"] + count["essen:europe"] > 8514 - 40  # Asia outside China
    assert 1200 < count["essen:china"] < 1300
    assert count["essen:germany"] > 5000
    assert count["essen:lorraine"] > 500 and count["essen:Luxembourg"] > 600
    assert 60 <= count["essen:ireland"] < 80
    tasks, _ = corpora._resolve("essen:china").make_tasks()
    assert tasks[0].source == "essenFolksong/han1.abc#X1"
    with pytest.raises(FugatoError, match="no tune matches"):
        corpora._resolve("essen:atlantis").make_tasks()


def test_unknown_corpus_names_the_known_ones():
    with pytest.raises(FugatoError, match="essen"):
        load_corpus("nonesuch")
    names = [n for n, _ in list_corpora()]
    assert {"essen", "oneills", "ryans", "bach-soprano", "wjazzd"} <= set(names)


def test_bach_chorale_soprano():
    folder = ESSEN.parent / "bach"
    [(source, melody)] = corpora._run_task(
        corpora._Task("bach", "bach/bwv2.6.mxl", str(folder / "bwv2.6.mxl"), {"genre": "chorale"}))
    assert source == "bach/bwv2.6.mxl"
    assert isinstance(melody, Melody) and len(melody) > 30
    assert melody.metadata["parts"] == 4 and melody.metadata["genre"] == "chorale"
    assert melody.pitches.min() >= 60 and melody.pitches.max() <= 81  # a soprano's range
    [(_, reason)] = corpora._run_task(
        corpora._Task("bach", "bach/bwv1.6.mxl", str(folder / "bwv1.6.mxl"), {}))
    assert reason == "5 parts, not a 4-part chorale"


def test_wjazzd_loads():
    require("wjazzd/score_csv.zip")
    corpus = load_corpus("wjazzd", workers=1, progress=False)
    assert corpus.seen == 299
    assert len(corpus) == 264  # 35 solos have no row (no tempo) in df_solos.csv
    assert all("df_solos" in reason for _, reason in corpus.skipped)
    melody = next(m for m in corpus if m.source == "wjazzd/ArtPepper_Anthropology_FINAL")
    assert melody.metadata["performer"] == "Art Pepper"
    assert melody.metadata["genre"] == "jazz" and melody.metadata["instrument"] == "cl"
    assert melody.tempo == pytest.approx(218.8)
    assert melody.onsets[0] == 0
    step = TPQ // 12
    for m in corpus:
        assert not (m.onsets % step).any() and not (m.durations % step).any()
    assert sum(len(m) for m in corpus) > 100_000


def test_stats_and_plot(essen_slice, tmp_path):
    corpus = load_corpus(f"folder:{essen_slice}", workers=1, progress=False)
    stats = corpus_stats(corpus)
    assert stats["tunes"] == 20 and stats["notes"] == sum(len(m) for m in corpus)
    assert sum(stats["time_signatures"].values()) == 20
    assert stats["pitch_min"] <= stats["pitch_max"]
    assert sum(stats["duration_histogram"].values()) == stats["notes"]
    assert sum(stats["splits"].values()) == 20
    plot_corpus_stats(stats, tmp_path / "stats.png")
    assert (tmp_path / "stats.png").read_bytes()[:4] == b"\x89PNG"


def test_skip_reasons_fold_numbers_but_not_digits_inside_words() -> None:
    from fugato.music.corpora import reason_kind

    assert reason_kind("tune 12.abc: bar 3: music21 cannot read it") == \
        "tune N.abc: bar N: music21 cannot read it"


def test_show_skipped_lists_every_bad_file_and_stats_has_each_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fugato.cli import main

    folder = tmp_path / "bad"
    folder.mkdir()
    for i in range(7):
        (folder / f"empty{i}.mid").write_bytes(b"")
    (folder / "good.abc").write_text("X:1\nT:ok\nM:2/4\nL:1/4\nK:C\nCD|EF|\n")
    assert main(["data", "build", f"folder:{folder}", "--quiet", "--workers", "1"]) in (0, None)
    assert "and 2 more (--show-skipped lists all)" in capsys.readouterr().out
    main(["data", "build", f"folder:{folder}", "--quiet", "--workers", "1", "--show-skipped"])
    shown = [line for line in capsys.readouterr().out.splitlines() if "skipped empty" in line]
    assert len(shown) == 7
    main(["data", "stats", f"folder:{folder}", "--quiet", "--json", "--plot",
          str(tmp_path / "stats.png")])
    stats = json.loads(capsys.readouterr().out)
    assert sorted(stats["skipped_files"]) == [f"empty{i}.mid" for i in range(7)]
    assert all("empty" in reason for reason in stats["skipped_files"].values())


_PARENT = os.getpid()


def _dies_in_a_worker(tasks):  # type: ignore[no-untyped-def]
    """`_run_chunk`, except that a worker process running it dies at once."""
    from fugato.music import corpora

    if os.getpid() != _PARENT:
        os._exit(1)
    return [outcome for task in tasks for outcome in corpora._run_task(task)]


def test_a_dead_parsing_worker_is_retried_not_counted_as_bad_tunes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fugato.music import corpora

    folder = tmp_path / "tunes"
    shutil.copytree(Path(__file__).parent / "fixtures" / "tunes" / "folk", folder)
    monkeypatch.setattr(corpora, "_run_chunk", _dies_in_a_worker)
    corpus = load_corpus(f"folder:{folder}", workers=2, progress=False)
    assert len(corpus.melodies) == 60 and corpus.skipped == []
