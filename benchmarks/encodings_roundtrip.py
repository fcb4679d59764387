"""Round-trip exactness of the token encodings on the whole Essen corpus.

MeasureEncoding: share of encodable 4/4 bars whose decoded tokens give back exactly the bar's
notes (`Melody.slice` of the bar), and how many 4/4 bars fall off the 24-tick grid.
EventEncoding: for several steps-per-quarter, share of windows of four quarters whose decoded
tokens give back exactly the notes starting in them, and share of notes moved by quantising.

    python benchmarks/encodings_roundtrip.py [--limit N] [--workers 2] [--cache FILE]

Melodies come from `fugato.music.corpora` when it offers Essen, else they are parsed here with
music21 (tests/essen_sample.py; about 40 ms a tune).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from essen_sample import essen_files, melody_from_score, tune_numbers  # noqa: E402

from fugato.music.encodings import EventEncoding, MeasureEncoding  # noqa: E402
from fugato.music.melody import TPQ  # noqa: E402


def _parse(job):
    from music21 import corpus

    path, number = job
    try:
        score = corpus.parse(path, number=number)
        return melody_from_score(score, source=f"{Path(path).name}#{number}")
    except Exception as error:  # noqa: BLE001 - a corpus build counts failures, never dies
        return f"{Path(path).name}#{number}: {type(error).__name__}: {error}"


def load_essen(limit: int | None, workers: int, cache: Path | None):
    if cache and cache.exists():
        melodies = pickle.loads(cache.read_bytes())
        return melodies[:limit] if limit else melodies
    try:  # the project's loader, once it exists
        from fugato.music.corpora import load_corpus  # type: ignore[attr-defined]

        melodies = list(load_corpus("essen"))
    except Exception:  # noqa: BLE001
        jobs = [(str(p), n) for p in essen_files() for n in tune_numbers(p)]
        if limit:
            jobs = jobs[:limit]
        with Pool(workers) as pool:
            results = pool.map(_parse, jobs, chunksize=16)
        failures = [r for r in results if isinstance(r, str)]
        melodies = [r for r in results if not isinstance(r, str)]
        print(f"parsed {len(melodies)} tunes, {len(failures)} failed"
              + (f" (first: {failures[0]})" if failures else ""))
    if cache:
        cache.write_bytes(pickle.dumps(melodies))
    return melodies[:limit] if limit else melodies


def measure_roundtrip(melodies) -> None:
    enc = MeasureEncoding()
    exact = total = 0
    skipped: Counter = Counter()
    for melody in melodies:
        bars, skip, starts = enc.encode_bars(melody, return_starts=True)
        skipped.update(skip)
        for row, start in zip(bars, starts, strict=True):
            total += 1
            exact += enc.decode(row) == melody.slice(int(start), int(start) + 4 * TPQ)
    four_four = total + skipped["off_grid"] + skipped["pitch_range"]
    print(f"MeasureEncoding: {total} bars encoded from {four_four} whole 4/4 bars; "
          f"exact round trip {100 * exact / max(total, 1):.3f}%; "
          f"off grid {skipped['off_grid']} ({100 * skipped['off_grid'] / max(four_four, 1):.2f}%), "
          f"out of [55, 84] {skipped['pitch_range']}, other metres {skipped['time_signature']}")


def event_roundtrip(melodies, steps: list[int]) -> None:
    for spq in steps:
        enc = EventEncoding(steps_per_quarter=spq)
        length = 4 * spq
        exact = total = notes = moved = 0
        t0 = time.perf_counter()
        for melody in melodies:
            tokens, stats = enc.encode_with_stats(melody)
            notes += stats["notes"]
            moved += stats["moved"]
            windows = enc.windows(tokens, length, length)
            for i, window in enumerate(windows):
                start = i * length * enc.step_ticks
                total += 1
                exact += enc.decode(window) == melody.slice(start, start + length * enc.step_ticks)
        print(f"EventEncoding steps_per_quarter={spq:2d}: windows of 4 quarters exact "
              f"{100 * exact / max(total, 1):.3f}% of {total}; notes moved "
              f"{100 * moved / max(notes, 1):.3f}% of {notes} ({time.perf_counter() - t0:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N tunes only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None, help="pickle of parsed melodies")
    parser.add_argument("--steps", type=int, nargs="+", default=[4, 8, 12, 24, 48])
    args = parser.parse_args()
    t0 = time.perf_counter()
    melodies = load_essen(args.limit, args.workers, args.cache)
    print(f"{len(melodies)} Essen melodies ready in {time.perf_counter() - t0:.0f} s")
    measure_roundtrip(melodies)
    event_roundtrip(melodies, args.steps)


if __name__ == "__main__":
    main()
