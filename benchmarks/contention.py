"""The same short training on an idle machine and beside a busy process, with torch's old
default thread count (one spinning thread per core) and with fugato's adaptive one
(`fugato.threads`).

    FUGATO_DATA=../shared/data python benchmarks/contention.py [--steps 100] [--repeats 3]

The busy process is a plain Python loop (one core). Every training runs in this process on
the quick AR-VAE config (its corpora built once before timing), and the script prints the
four times, each setting's busy / idle ratio, and the adaptive idle time against the old one.
Targets (2 cores): adaptive busy at most 1.5x its idle, adaptive idle within 5% of the old
default's. Idle times are the best of `--repeats`, the two settings alternating (run-to-run
drift on a shared machine reaches 20%); the adaptive busy time too, the old default's busy
one once (it is several times longer, and only the reference).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.pop("OMP_NUM_THREADS", None)  # before torch: the old default is torch's own
os.environ.pop("MKL_NUM_THREADS", None)

CONFIG = Path(__file__).parents[1] / "configs" / "arvae-folk-quick.toml"


def train_seconds(steps: int, fixed: int | None, folder: Path) -> float:
    """Wall time of `steps` AR-VAE training steps (data from the cache), threads `fixed` or
    adaptive (None)."""
    from fugato import threads
    from fugato.config import load_config
    from fugato.registry import get_model
    from fugato.train import Trainer

    config = load_config(CONFIG, [f"train.max_steps={steps}", "train.eval_every=100000",
                                  "train.checkpoint_every=100000", "train.log_every=100000"])
    threads.configure(fixed)
    trainer = Trainer(get_model(config.model)(config), folder / f"run{time.monotonic_ns()}",
                      quiet=True)
    start = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - start


def beside_busy(fn: Callable[[], float]) -> float:
    """`fn()` while a plain Python loop keeps one core busy."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # the loop is running
        return fn()
    finally:
        busy.kill()
        busy.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    cores = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train_seconds(5, None, folder)  # corpora into the cache, torch warmed up
        settings = {f"old default ({cores} threads)": cores, "adaptive": None}
        idle: dict[str, float] = {}
        for _ in range(args.repeats):  # alternating, so that a drift of the machine hits both
            for name, fixed in settings.items():
                seconds = train_seconds(args.steps, fixed, folder)
                idle[name] = min(idle.get(name, seconds), seconds)
        busy = {name: min(beside_busy(lambda f=fixed: train_seconds(args.steps, f, folder))
                          for _ in range(1 if fixed else args.repeats))
                for name, fixed in settings.items()}
    print(f"{args.steps} AR-VAE training steps on {cores} cores:")
    for name in settings:
        print(f"  {name:>24s}: idle {idle[name]:6.1f} s, beside a busy process "
              f"{busy[name]:6.1f} s, ratio {busy[name] / idle[name]:4.2f}x")
    old, new = idle.values()
    print(f"  adaptive idle against the old default: {new / old:4.2f}x  "
          "(targets: adaptive ratio <= 1.5x, idle <= 1.05x)")


if __name__ == "__main__":
    main()
