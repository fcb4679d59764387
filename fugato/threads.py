"""CPU threads: torch's (and the BLAS libraries') thread count follows the cores that other
processes leave free.

torch runs one OpenMP thread per core by default, and those threads spin at every barrier
while they wait for each other. Beside one busy process on 2 cores, one of them keeps losing
its core, and the other spins until it gets it back: 150 AR-VAE steps took 8.5x as long as on
the idle machine, where a fair share would be 2x. One thread always costs 22% on an idle
machine, passive waiting (`OMP_WAIT_POLICY=PASSIVE`) 78%, and no spin count measured gave
both. So fugato adapts: every `INTERVAL_S` seconds it reads how much CPU time the rest of the
machine used since the last look (`/proc/stat` minus this process's own `/proc/self/stat`)
and runs on the cores left, at least one: all of them on an idle machine, as before, one
beside a busy process on 2 cores. `benchmarks/contention.py` measures both cases.

A fixed count turns this off: `--threads N` on any command, `train.threads` in a config, or
`OMP_NUM_THREADS` in the environment (as torchrun sets it). Results depend
on the thread count in their last bits (sums in another order), so a run that must repeat bit
for bit fixes it. Where `/proc` is missing (macOS, Windows), torch's default stays.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

INTERVAL_S = 2.0
"""How often the free cores are measured again (seconds)."""
FIRST_LOOK_S = 0.2
"""The shortest window of the first measurement (seconds)."""


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        return os.cpu_count() or 1


def _cpu_seconds() -> tuple[float, float] | None:
    """(CPU seconds every core of the machine has been busy, of which this process's own
    threads), both since boot; None without /proc."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    busy = user + nice + system + irq + softirq + steal
    return busy / ticks, (int(own[11]) + int(own[12])) / ticks  # utime, stime


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


class CpuShare:
    """The thread count of this process: fixed, or adapted to the free cores by `adapt`."""

    def __init__(self, fixed: int | None = None) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError(f"threads {fixed}: expected at least 1")
        self.fixed = fixed
        self.cores = _cores()
        reading = _cpu_seconds()
        self.adaptive = fixed is None and self.cores > 1 and reading is not None
        self.threads: int | None = None
        self._last = (time.monotonic(), reading)
        if fixed is not None:
            self._set(fixed)

    def adapt(self) -> int | None:
        """Measure the free cores again when `INTERVAL_S` has passed (`FIRST_LOOK_S` the first
        time) and set the thread count to them; the count, or None while torch's default
        stands. Cheap enough to call every training step."""
        if not self.adaptive or "OMP_NUM_THREADS" in os.environ:
            return self.threads
        now = time.monotonic()
        elapsed = now - self._last[0]
        if elapsed < (INTERVAL_S if self.threads else FIRST_LOOK_S):
            return self.threads
        seconds, before = _cpu_seconds(), self._last[1]
        self._last = (now, seconds)
        if seconds is None or before is None:
            return self.threads
        others = max(0.0, (seconds[0] - before[0]) - (seconds[1] - before[1])) / elapsed
        wanted = min(self.cores, max(1, round(self.cores - others)))
        if wanted != (self.threads or _torch_threads()):
            self._set(wanted)
        self.threads = wanted  # setting a count already set costs time (0.7 s mid-training)
        return wanted

    def _set(self, threads: int) -> None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)  # numpy's and scikit-learn's BLAS spin the same way
        self.threads = threads


_share: CpuShare | None = None


def configure(threads: int | None = None) -> CpuShare:
    """Set this process's share: `threads` fixed, or adaptive (None). The `fugato` command
    calls it first thing, with `--threads`; the trainer again with `train.threads` when set."""
    global _share
    _share = CpuShare(threads)
    return _share


def adapt() -> int | None:
    """`CpuShare.adapt` of this process's share (adaptive unless `configure` said otherwise)."""
    return (_share or configure()).adapt()
