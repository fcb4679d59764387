"""Time a cold build of a named corpus against its warm reload from the cache.

    python benchmarks/corpus_build.py [--corpus essen] [--workers 2]

The cold build runs into a fresh temporary FUGATO_CACHE; the warm reload reads what it wrote.
Targets for `essen` on 2 cores: cold <= 4 min for 8,514 tunes, warm <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="essen")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
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
    reasons = Counter(reason for _, reason in cold.skipped)
    for reason, count in reasons.most_common(8):
        print(f"  skipped {count:4d}: {reason}")


if __name__ == "__main__":
    main()
