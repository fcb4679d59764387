"""Train and evaluate configs over several seeds, then compare them (box plots over seeds).

Each (config, seed) pair is one run folder `out/{config stem}-seed{seed}`, trained and evaluated
by the `fugato` command in its own process, `jobs` of them at a time with the CPU threads shared
between them. A run that already has `eval.json` is skipped and one with a checkpoint is
resumed, so a killed sweep continues where it stopped.

Variants (ablations) are named sets of overrides, `NAME:key=value,key=value` (`NAME:` alone: the
config as it is): every config runs once per variant and seed, in `out/{stem}-{NAME}-seed{seed}`,
and each variant is a group of its own in the comparison.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from fugato.errors import FugatoError


def run_folder(out: Path, config: Path, seed: int, variant: str | None = None) -> Path:
    stem = f"{config.stem}-{variant}" if variant else config.stem
    return out / f"{stem}-seed{seed}"


def parse_variant(text: str) -> tuple[str, list[str]]:
    """"NAME:key=value,key=value" -> (NAME, ["key=value", ...]); raises FugatoError."""
    name, sep, sets = text.partition(":")
    if not sep or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise FugatoError(f"--variant {text!r}: expected NAME:key=value,key=value (NAME of "
                          "letters, digits, ., - and _)")
    overrides = [item for item in sets.split(",") if item]
    bad = [item for item in overrides if "=" not in item]
    if bad:
        raise FugatoError(f"--variant {text!r}: {bad[0]!r} is not key=value")
    return name, overrides


def train_and_eval(config: Path, seed: int, run_dir: Path, log: Path, overrides: Sequence[str],
                   threads: int | None) -> str | None:
    """`fugato train` and `fugato eval` of one run in their own processes, their output
    appended to `log` (nothing to do when `run_dir` has its eval.json; a run with a checkpoint
    resumes). Returns None on success, else the reason (the failing command and its log)."""
    if (run_dir / "eval.json").is_file():
        return None
    fugato = [sys.executable, "-m", "fugato.cli"]
    sets = [arg for value in overrides for arg in ("--set", value)]
    if (run_dir / "checkpoints" / "last.pt").is_file():
        train = [*fugato, "train", "--resume", "--run-dir", str(run_dir), *sets]
    else:
        train = [*fugato, "train", str(config), "--run-dir", str(run_dir), "--seed", str(seed),
                 *sets]
    fixed = [] if threads is None else ["--threads", str(threads)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        for command in ([*train, "--quiet", *fixed],
                        [*fugato, "eval", str(run_dir), "--quiet", *fixed]):
            f.write("$ " + " ".join(command) + "\n")
            f.flush()
            if subprocess.run(command, stdout=f, stderr=subprocess.STDOUT).returncode:
                return f"`{' '.join(command[2:4])}` failed; see {log}"
    return None


def run_seeds(configs: Sequence[str | Path], seeds: Sequence[int], out: str | Path,
              jobs: int = 1, overrides: Sequence[str] = (), metrics: Sequence[str] | None = None,
              say: Callable[[str], None] = print, variants: Sequence[str] = (),
              threads: int | None = None, trade_off: Sequence[str] | None = None,
              pairs: Sequence[str] | None = None) -> dict[str, Any]:
    """Train + evaluate every config at every seed (and every variant, module docstring),
    then `compare_runs` over all of them. `threads`: CPU threads per run (default: each run
    follows the cores the others leave free, `fugato.threads`); `trade_off`: two numbers
    whose group means `compare_runs` plots against each other; `pairs`: numbers whose values
    it plots against each other, a point per run (AR-VAE's Fig. 4).

    Returns the comparison dict (`fugato.report.compare_runs`); raises FugatoError naming the
    runs that failed (the others are kept and compared next time)."""
    from fugato.registry import seeds_tables
    from fugato.report import check_pairs, compare_runs

    out = Path(out)
    paths = [Path(c) for c in configs]
    for path in paths:
        if not path.is_file():
            raise FugatoError(f"{path}: no such config file")
    if len({p.stem for p in paths}) < len(paths):
        raise FugatoError("configs must have distinct file names (they name the run folders)")
    if jobs < 1:
        raise FugatoError("--jobs must be at least 1")
    if threads is not None and threads < 1:
        raise FugatoError("--threads must be at least 1")
    check_pairs(pairs)
    named: list[tuple[str | None, list[str]]] = (
        [parse_variant(v) for v in variants] or [(None, [])])
    if len({name for name, _ in named}) < len(named):
        raise FugatoError("variant names must be distinct (they name the run folders)")
    # seed by seed, so that a sweep stopped early has every config and variant at some seeds
    todo = [(p, s, run_folder(out, p, s, name), [*overrides, *sets])
            for s in seeds for p in paths for name, sets in named]
    failed = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(train_and_eval, p, s, run, out / "logs" / f"{run.name}.log",
                               sets, threads): run for p, s, run, sets in todo}
        for done, future in enumerate(as_completed(futures), 1):
            run, problem = futures[future], future.result()
            say(f"[{done}/{len(todo)}] {run}: {problem or 'trained and evaluated'}")
            if problem:
                failed.append(problem)
    if failed:
        raise FugatoError(f"{len(failed)} of {len(todo)} runs failed: " + "; ".join(failed))
    return compare_runs([run for _, _, run, _ in todo], out, metrics, tables=seeds_tables,
                        trade_off=trade_off, pairs=pairs)
