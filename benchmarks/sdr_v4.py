"""`fugato.metrics.separation.bss_eval_v4` (BSS Eval v4) against mir_eval, in the same process.

    python benchmarks/sdr_v4.py            # 2 mono sources, 60 s at 22.05 kHz, 15-s windows
    python benchmarks/sdr_v4.py --quick    # a smoke run (30 s, one repeat)

mir_eval has no v4 (time-invariant filters fitted once over the whole track, then every
window scored), and museval, which has, cannot be imported without ffmpeg (then it is timed
too, as the exact same quantity). So three comparisons, each on the same synthetic track (two
tones in noise; estimates: a random decaying FIR filter of 70% own source + 30% mixture, plus
noise):

1. whole track, one window: `bss_eval_v4(refs, est)` against mir_eval's
   `bss_eval_images(refs, est, compute_permutation=False)`, the same quantity (full-track
   images, 512-tap filters): SDR, ISR, SIR, SAR must agree (largest gap printed);
2. `--window`-second windows: `bss_eval_v4(refs, est, window)` against mir_eval's
   `bss_eval_images_framewise` (v3: filters fitted anew in every window). Their SDRs are the
   same quantity (images SDR needs no filters: the gap is printed); their ISR, SIR and SAR are
   not (v4's filters see the whole track), so this row times the nearest mir_eval can do;
3. SDR only (what FactorGAN's separation evaluation computes): `bss_eval_v4(...,
   sdr_only=True)` on the windows against the same framewise call, the only mir_eval way to
   get windowed images SDR.

All on `--threads` BLAS/FFT threads (default 1); each time the best of `--repeats`.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.signal import lfilter
from threadpoolctl import threadpool_limits
from timing import best_of

from fugato.metrics.separation import V4_METRICS, bss_eval_v4


def track(seconds: float, rate: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(true sources (2, N), estimates (2, N)) of the docstring."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tones = np.stack([np.sin(2 * np.pi * f * t) for f in (220.0, 330.0)])
    refs = tones * (1 + 0.3 * rng.standard_normal((2, n))) + 0.2 * rng.standard_normal((2, n))
    fir = rng.standard_normal(30) * np.exp(-np.arange(30) / 5)
    est = lfilter(fir, 1, 0.7 * refs + 0.3 * refs.sum(0), axis=1)
    return refs, est + 0.05 * rng.standard_normal(est.shape)


def museval_v4() -> Callable[..., Any] | None:
    """museval's `metrics.bss_eval` where museval imports (it needs ffmpeg), else None."""
    try:
        from museval.metrics import bss_eval
    except Exception as error:  # noqa: BLE001 (ImportError, or stempeg's missing ffmpeg)
        print(f"museval not timed: {type(error).__name__}: {error}")
        return None
    return bss_eval


def row(label: str, ours: float, theirs: float, gap: str) -> None:
    """Print one comparison: both times (s), mir_eval's / fugato's, and the agreement."""
    print(f"{label:<34} fugato {ours:8.3f} s   mir_eval {theirs:8.3f} s   "
          f"speed-up {theirs / ours:6.1f}x   {gap}")


def main() -> None:
    """Time the comparisons of the module docstring and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=22050)
    parser.add_argument("--window", type=float, default=15.0, help="seconds (hop the same)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = 30.0, 1
    if args.seconds < 2 * args.window:  # mir_eval's framewise scores the whole track then
        parser.error("--seconds must hold at least two windows")
    warnings.simplefilter("ignore", FutureWarning)  # mir_eval 0.8 deprecates its separation
    from mir_eval.separation import bss_eval_images, bss_eval_images_framewise

    refs, est = track(args.seconds, args.rate)
    window = int(args.window * args.rate)
    print(f"2 mono sources, {args.seconds:g} s at {args.rate} Hz, {args.window:g}-s windows, "
          f"{args.threads} thread(s), best of {args.repeats}")
    with threadpool_limits(args.threads):
        whole = bss_eval_v4(refs, est)
        images = bss_eval_images(refs, est, compute_permutation=False)
        gap = max(float(np.abs(whole[k][:, 0] - images[i]).max())
                  for i, k in enumerate(V4_METRICS))
        row("1. whole track (same quantity)",
            best_of(lambda: bss_eval_v4(refs, est), args.repeats),
            best_of(lambda: bss_eval_images(refs, est, compute_permutation=False),
                    args.repeats), f"largest gap {gap:.1e} dB (SDR, ISR, SIR, SAR)")
        windows = bss_eval_v4(refs, est, window)
        framewise = bss_eval_images_framewise(refs, est, window=window, hop=window)
        gap = float(np.abs(windows["sdr"] - framewise[0]).max())
        t_framewise = best_of(lambda: bss_eval_images_framewise(refs, est, window=window,
                                                                hop=window), args.repeats)
        row(f"2. {windows['sdr'].shape[1]} windows, v4 vs v3 framewise",
            best_of(lambda: bss_eval_v4(refs, est, window), args.repeats), t_framewise,
            f"SDR gap {gap:.1e} dB")
        row("3. windowed SDR only", best_of(
            lambda: bss_eval_v4(refs, est, window, sdr_only=True), args.repeats), t_framewise,
            f"SDR gap {gap:.1e} dB")
        museval = museval_v4()
        if museval is not None:
            theirs = museval(refs[..., None], est[..., None], window=window, hop=window)
            gap = max(float(np.nanmax(np.abs(windows[k] - theirs[i])))
                      for i, k in enumerate(V4_METRICS))
            row("4. museval v4 (same quantity)",
                best_of(lambda: bss_eval_v4(refs, est, window), args.repeats),
                best_of(lambda: museval(refs[..., None], est[..., None], window=window,
                                        hop=window), args.repeats), f"largest gap {gap:.1e} dB")


if __name__ == "__main__":
    main()
