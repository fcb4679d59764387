"""fugato.threads: torch's thread count follows the cores other processes leave free, unless
a count is fixed."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fugato import threads
from fugato.cli import main

ROOT = Path(__file__).parents[1]


@pytest.fixture()
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
    threads._share = None


@pytest.fixture()
def adaptive(monkeypatch: pytest.MonkeyPatch, restore_threads: None) -> int:
    """No OMP_NUM_THREADS (the suite sets it), and one core more than the machine has, so that
    the count has room to rise while the suite's other process holds a core; that count."""
    monkeypatch.delenv("OMP_NUM_THREADS")
    cores = (os.cpu_count() or 1) + 1
    monkeypatch.setattr(threads, "_cores", lambda: cores)
    monkeypatch.setattr(threads, "INTERVAL_S", 0.5)
    return cores


def _busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop(loops: list[subprocess.Popen]) -> None:
    for loop in loops:
        loop.kill()
        loop.wait()


def test_busy_processes_beside_it_leave_it_fewer_threads(adaptive: int) -> None:
    loops = _busy_loops(2)
    try:
        share = threads.CpuShare()
        time.sleep(0.6)
        during = share.adapt()
    finally:
        _stop(loops)
    assert during is not None and during <= adaptive - 1
    assert torch.get_num_threads() == during


def test_the_count_follows_the_cpu_time_others_use(adaptive: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted readings: (seconds busy on the machine, of which this process's own) at a
    scripted clock, 2 s apart."""
    monkeypatch.setattr(threads, "_cores", lambda: 4)
    clock = itertools.count(0, 2)
    monkeypatch.setattr(threads.time, "monotonic", lambda: float(next(clock)))
    readings = iter([(0.0, 0.0),  # the start
                     (8.0, 4.0),  # others used 4 s in 2 s: 2 cores busy, 2 free
                     (13.0, 8.0),  # others 0.5 core: 3.5 free, rounds to 4
                     (19.0, 12.0),  # others 1 core
                     (23.0, 16.0)])  # nobody else
    monkeypatch.setattr(threads, "_cpu_seconds", lambda: next(readings))
    share = threads.CpuShare()
    assert [share.adapt() for _ in range(4)] == [2, 4, 3, 4]
    assert torch.get_num_threads() == 4


def test_a_fixed_count_is_kept_and_the_environment_turns_adapting_off(
        adaptive: int, monkeypatch: pytest.MonkeyPatch) -> None:
    share = threads.CpuShare(3)
    assert torch.get_num_threads() == 3
    loops = _busy_loops(2)
    try:
        time.sleep(0.3)
        assert share.adapt() == 3 and torch.get_num_threads() == 3
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        share = threads.CpuShare()
        time.sleep(0.3)
        assert share.adapt() is None and torch.get_num_threads() == 3
    finally:
        _stop(loops)
    with pytest.raises(ValueError, match="at least 1"):
        threads.CpuShare(0)


def test_threads_option_and_config_fix_the_count(tmp_path: Path, restore_threads: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = ROOT / "tests" / "fixtures" / "runs" / "arvae" / "config.toml"
    run = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(run), "--quiet", "--threads", "3",
                 "--set", "train.max_steps=2", "--set", "train.max_minutes=100000.0"]) == 0
    assert "threads = 3" in (run / "config.toml").read_text()
    assert torch.get_num_threads() == 3
    assert main(["eval", str(run), "--quiet", "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(run), "-n", "1", "--out", str(tmp_path / "s"), "--threads", "0"])
    assert exit_.value.code == 2 and "--threads" in capsys.readouterr().err
