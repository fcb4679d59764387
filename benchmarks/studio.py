"""fugato studio's speed through real HTTP, against the command-line path it replaces.

Starts `fugato studio` (the shipped models) in a subprocess and measures:
- start to first page: from launching the process to the first 200 on `/`;
- a slider move to a new WAV ready (the edit request, then the WAV fetched), p50 and p95, for a
  one-bar tune and for a 16-bar tune with every bar selected (all 16 decoded, the whole tune
  rendered); targets on 2 cores: p95 at most 50 ms and 150 ms;
- the baseline: one `fugato arvae traverse` per change (a new process, model load, one decoded
  bar written as MIDI and PNG), as the ratio of its median to the studio's p50.
Each is measured on an idle machine and beside one busy process (a plain Python loop).

    python benchmarks/studio.py [--moves 60] [--port 8791]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import numpy as np


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
def studio(port: int) -> Iterator[tuple[str, float]]:
    """A running `fugato studio`: (base URL, seconds from launch to the first page)."""
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
        yield url, time.perf_counter() - start
    finally:
        process.terminate()
        process.wait()


def slider_moves(client: httpx.Client, bars: int, moves: int) -> np.ndarray:
    """Seconds per slider move to a fetched WAV, over `moves` moves (after 3 warm-ups)."""
    sid = client.post("/api/sessions").json()["session"]
    client.post(f"/api/sessions/{sid}/tune/load", json={"bars": bars, "seed": 1}).raise_for_status()
    times = []
    for k in range(moves + 3):
        value = float(np.sin(k) * 3)  # a drag back and forth
        start = time.perf_counter()
        tune = client.post(f"/api/sessions/{sid}/tune/edit",
                           json={"bars": None, "offsets": {"note_density": value}})
        tune.raise_for_status()
        client.get(f"/api/files/{tune.json()['wav']}").raise_for_status()
        times.append(time.perf_counter() - start)
    return np.array(times[3:])


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


def measure(port: int, moves: int, cli_runs: int, loaded: bool) -> None:
    label = "beside one busy process" if loaded else "idle"
    with busy(loaded), studio(port) as (url, first_page):
        launched = time.perf_counter() - first_page
        with httpx.Client(base_url=url, timeout=60) as client:
            while not all(m["loaded"] for m in client.get("/api/models").json()["models"]):
                time.sleep(0.05)  # the studio loads its models in the background after start
            all_loaded = time.perf_counter() - launched
            one, sixteen = slider_moves(client, 1, moves), slider_moves(client, 16, moves)
        baseline = command_line(cli_runs)
    print(f"\n## {label}")
    print(f"start to first page: {first_page:.2f} s (target <= 3 s); every model loaded "
          f"{all_loaded:.2f} s after start")
    for name, times, target in (("1-bar tune", one, 0.050), ("16-bar tune", sixteen, 0.150)):
        p50, p95 = np.percentile(times, [50, 95])
        verdict = "ok" if p95 <= target else "over"
        print(f"slider move -> WAV, {name}: p50 {p50 * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms "
              f"(target p95 <= {target * 1e3:.0f} ms: {verdict}); command line per change "
              f"{np.median(baseline):.2f} s = {np.median(baseline) / p50:.0f}x the studio's p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--cli-runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    for loaded in (False, True):
        measure(args.port, args.moves, args.cli_runs, loaded)


if __name__ == "__main__":
    main()
