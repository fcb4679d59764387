"""What every benchmark here times with (they run as scripts: `python benchmarks/NAME.py`, so
this folder is on the import path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Fastest wall time of `repeats` calls of `fn`, in seconds: the call least disturbed by
    other work on a shared machine."""
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
