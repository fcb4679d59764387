"""fugato studio's speed through real HTTP, against the command-line path it replaces.

Starts `fugato studio` (the shipped models) in a subprocess and measures:
- start to first page: from launching the process to the first 200 on `/`;
- a slider move to a new WAV ready (the edit request, then the WAV fetched), p50 and p95, for a
  one-bar tune and for a 16-bar tune with every bar selected (all 16 decoded, the whole tune
  rendered); targets on 2 cores: p95 at most 50 ms and 150 ms;
- the baseline: one `fugato arvae traverse` per change (a new process, model load, one decoded
  bar written as MIDI and PNG), as the ratio of its median to the studio's p50;
- under attack: the 16-bar slider moves again while 4 processes upload the tiny hostile files
  of issue 29 (tests/hostile_files.py: a note a billion quarters long, 1 Hz and 100 Hz WAVs, a
  3-hour FLAC, an .mxl inflating to 300 MiB, ...) to other sessions without pause; targets:
  p95 at most 150 ms, every upload a 400, the server's peak RSS under 1.5 GB.
Each is measured on an idle machine and beside one busy process (a plain Python loop).

    python benchmarks/studio.py [--moves 60] [--port 8791] [--attack-only]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from hostile_files import HOSTILE  # noqa: E402

UPLOADERS = 4
RSS_TARGET_MB = 1536


def spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(on: bool) -> Iterator[None]:
    """One process spinning on a core while the block runs (if `on`)."""
    if not on:
        yield
        return
    process = multiprocessing.Process(target=spin, daemon=True)
    process.start()
    try:
        yield
    finally:
        process.terminate()
        process.join()


@contextlib.contextmanager
def studio(port: int) -> Iterator[tuple[str, float, int]]:
    """A running `fugato studio`: (base URL, seconds from launch to the first page, its pid)."""
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "fugato.cli", "studio", "--port",
                                str(port), "--quiet"])
    try:
        while True:
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.perf_counter() - start > 60:
                raise SystemExit("the studio did not start")
            time.sleep(0.01)
        yield url, time.perf_counter() - start, process.pid
    finally:
        process.terminate()
        process.wait()


def slider_moves(client: httpx.Client, bars: int, moves: int,
                 before_move: Callable[[], object] | None = None) -> np.ndarray:
    """Seconds per slider move to a fetched WAV, over `moves` moves (after 3 warm-ups);
    `before_move()` is called before each move (the warm-ups too) and not timed."""
    sid = client.post("/api/sessions").json()["session"]
    client.post(f"/api/sessions/{sid}/tune/load", json={"bars": bars, "seed": 1}).raise_for_status()
    times = []
    for k in range(moves + 3):
        value = float(np.sin(k) * 3)  # a drag back and forth
        if before_move is not None:
            before_move()
        start = time.perf_counter()
        tune = client.post(f"/api/sessions/{sid}/tune/edit",
                           json={"bars": None, "offsets": {"note_density": value}})
        tune.raise_for_status()
        client.get(f"/api/files/{tune.json()['wav']}").raise_for_status()
        times.append(time.perf_counter() - start)
    return np.array(times[3:])


def upload_hostile(url: str, files: list[tuple[str, str, bytes]], first: int,
                   rounds: multiprocessing.synchronize.Barrier | None,
                   stop: multiprocessing.synchronize.Event,
                   statuses: multiprocessing.Queue[Counter[int]]) -> None:
    """Upload `files` (name, view, bytes) one after another, from the `first`, all in one
    session of this uploader's: one each time `rounds` (a barrier) opens, or with `rounds`
    None without pause, until `stop`. Puts the Counter of the answers' statuses on `statuses`
    at the end."""
    counts: Counter[int] = Counter()
    with httpx.Client(base_url=url, timeout=60) as client:
        k = first
        sid = client.post("/api/sessions").json()["session"]
        while not stop.is_set():
            if rounds is not None:
                try:
                    rounds.wait()
                except threading.BrokenBarrierError:  # the last round is over
                    break
            name, view, data = files[k % len(files)]
            answer = client.post(f"/api/sessions/{sid}/{view}", params={"filename": name},
                                 content=data)
            counts[answer.status_code] += 1
            k += 1
    statuses.put(counts)


def rss_mb(pid: int) -> float:
    """The resident set size of process `pid` in MiB (Linux: /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def peak_rss(pid: int) -> Iterator[list[float]]:
    """[peak RSS in MiB of process `pid`], sampled every 10 ms while the block runs."""
    peak = [rss_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def under_attack(client: httpx.Client, url: str, pid: int, moves: int, flood: bool
                 ) -> tuple[np.ndarray, Counter[int], float, float]:
    """16-bar slider moves while `UPLOADERS` processes upload the hostile files: 4 uploads
    started with each move, or (`flood`) uploads without pause. Returns (seconds per move,
    the uploads' statuses, the server's RSS before and its peak during, in MiB)."""
    with tempfile.TemporaryDirectory() as folder:
        files = [(path.name, view, path.read_bytes())
                 for make, view in HOSTILE.values() for path in [make(Path(folder))]]
    before = rss_mb(pid)
    stop = multiprocessing.Event()
    rounds = None if flood else multiprocessing.Barrier(UPLOADERS + 1)
    statuses: multiprocessing.Queue[Counter[int]] = multiprocessing.Queue()
    uploaders = [multiprocessing.Process(target=upload_hostile,
                                         args=(url, files, k * 2, rounds, stop, statuses))
                 for k in range(UPLOADERS)]
    with peak_rss(pid) as peak:
        for process in uploaders:
            process.start()
        if flood:
            time.sleep(1.0)  # the uploads under way before the first move
        times = slider_moves(client, 16, moves, None if rounds is None else rounds.wait)
        stop.set()
        if rounds is not None:
            rounds.abort()
        counts: Counter[int] = sum((statuses.get(timeout=120) for _ in uploaders), Counter())
        for process in uploaders:
            process.join()
    return times, counts, before, peak[0]


def command_line(runs: int) -> np.ndarray:
    """Seconds per `fugato arvae traverse` of one step (the per-change baseline)."""
    times = []
    with tempfile.TemporaryDirectory() as out:
        for k in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fugato.cli", "arvae", "traverse", "arvae-folk",
                            "--random", "--seed", str(k), "--attribute", "note_density",
                            "--steps", "1", "--out", out, "--quiet"], check=True)
            times.append(time.perf_counter() - start)
    return np.array(times)


def print_attack(flood: bool, times: np.ndarray, counts: Counter[int], before: float,
                 peak: float) -> None:
    p50, p95 = np.percentile(times, [50, 95])
    answers = ", ".join(f"{n} x {status}" for status, n in sorted(counts.items()))
    verdict = "ok" if p95 <= 0.150 and peak < RSS_TARGET_MB and set(counts) == {400} else "over"
    how = "without pause (a request flood, no target)" if flood else "in parallel with each move"
    print(f"slider move -> WAV, 16-bar tune, {UPLOADERS} hostile files uploaded {how}: "
          f"p50 {p50 * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms (target p95 <= 150 ms); uploads "
          f"answered {answers}; server RSS {before:.0f} MiB before, peak {peak:.0f} MiB "
          f"(target < {RSS_TARGET_MB} MiB)" + ("" if flood else f": {verdict}"))


def measure(port: int, moves: int, cli_runs: int, loaded: bool, attack_only: bool = False
            ) -> None:
    label = "beside one busy process" if loaded else "idle"
    with busy(loaded), studio(port) as (url, first_page, pid):
        launched = time.perf_counter() - first_page
        with httpx.Client(base_url=url, timeout=60) as client:
            while not all(m["loaded"] for m in client.get("/api/models").json()["models"]):
                time.sleep(0.05)  # the studio loads its models in the background after start
            all_loaded = time.perf_counter() - launched
            if not attack_only:
                one, sixteen = slider_moves(client, 1, moves), slider_moves(client, 16, moves)
            attacks = [(flood, *under_attack(client, url, pid, moves, flood))
                       for flood in (False, True)]
        baseline = command_line(0 if attack_only else cli_runs)
    print(f"\n## {label}")
    if attack_only:
        for attack in attacks:
            print_attack(*attack)
        return
    print(f"start to first page: {first_page:.2f} s (target <= 3 s); every model loaded "
          f"{all_loaded:.2f} s after start")
    for name, times, target in (("1-bar tune", one, 0.050), ("16-bar tune", sixteen, 0.150)):
        p50, p95 = np.percentile(times, [50, 95])
        verdict = "ok" if p95 <= target else "over"
        print(f"slider move -> WAV, {name}: p50 {p50 * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms "
              f"(target p95 <= {target * 1e3:.0f} ms: {verdict}); command line per change "
              f"{np.median(baseline):.2f} s = {np.median(baseline) / p50:.0f}x the studio's p50")
    for attack in attacks:
        print_attack(*attack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--cli-runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--attack-only", action="store_true",
                        help="only the slider moves under hostile uploads")
    args = parser.parse_args()
    for loaded in (False, True):
        measure(args.port, args.moves, args.cli_runs, loaded, args.attack_only)


if __name__ == "__main__":
    main()
