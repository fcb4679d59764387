"""Time a cold build of a named corpus against its warm reload from the cache.

    python benchmarks/corpus_build.py [--corpus essen] [--workers 2]

The cold build runs into a fresh temporary FUGATO_CACHE; the warm reload reads what it wrote.
The baseline, in the same process, is plain music21 (`converter.parse` of one ABC tune, then
`stripTies`) on the first `--baseline-tunes` tunes of the corpus, on one core.
Targets for `essen` on 2 cores: cold <= 4 min for 8,514 tunes, warm <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter


def plain_music21_rate(n_tunes: int) -> float:
    """Tunes per second of plain music21 on Essen tunes, one process."""
    from music21 import converter, corpus

    from fugato.music.io import split_abc_tunes

    tunes: list[str] = []
    for path in sorted(corpus.getComposer("essenFolksong")):
        tunes += split_abc_tunes(path.read_text(encoding="utf-8", errors="replace"))
        if len(tunes) >= n_tunes:
            break
    start = time.perf_counter()
    for tune in tunes[:n_tunes]:
        converter.parse(tune, format="abc").stripTies()
    return n_tunes / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="essen")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--baseline-tunes", type=int, default=200,
                        help="tunes parsed by plain music21 for the baseline (0: skip)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fugato-bench-") as cache:
        os.environ["FUGATO_CACHE"] = cache
        from fugato.music import load_corpus

        start = time.perf_counter()
        cold = load_corpus(args.corpus, workers=args.workers, progress=not args.quiet)
        cold_s = time.perf_counter() - start

        start = time.perf_counter()
        warm = load_corpus(args.corpus, workers=args.workers, progress=False)
        warm_s = time.perf_counter() - start

    assert len(warm) == len(cold) and all(a == b for a, b in zip(cold, warm, strict=True))
    notes = sum(len(m) for m in cold)
    print(f"corpus            {args.corpus} ({args.workers} workers, {os.cpu_count()} CPUs)")
    print(f"tunes seen        {cold.seen}")
    print(f"tunes loaded      {len(cold)} ({notes} notes)")
    print(f"tunes skipped     {len(cold.skipped)}")
    print(f"cold build        {cold_s:8.2f} s  ({cold.seen / cold_s:.1f} tunes/s)")
    print(f"warm reload       {warm_s:8.3f} s  ({len(warm) / warm_s:.0f} tunes/s)")
    print(f"cold / warm       {cold_s / warm_s:8.0f} x")
    if args.baseline_tunes:
        rate = plain_music21_rate(args.baseline_tunes)
        print(f"plain music21     {rate:8.1f} tunes/s on one core ({args.baseline_tunes} tunes)")
        print(f"ours / plain      {cold.seen / cold_s / rate:8.1f} x  (cold build, "
              f"{args.workers} workers)")
    reasons = Counter(reason for _, reason in cold.skipped)
    for reason, count in reasons.most_common(8):
        print(f"  skipped {count:4d}: {reason}")


if __name__ == "__main__":
    main()
