"""Separation and reconstruction quality of audio: BSS Eval v4 (`bss_eval_v4`, SiSEC 2018's
museval), BSS Eval v3 (`bss_eval_sources`, through mir_eval) and the plain signal-to-noise ratio
`snr_db`.

BSS Eval (Vincent, Gribonval, Fevotte 2006) splits an estimate into the true source, a
filtered copy of it (spatial or filtering distortion, 512-tap FIR filters), interference (the
other sources through such filters) and artifacts (the rest), and reports energy ratios of
those parts in dB: SDR, and ISR, SIR, SAR.

**v4** (Liutkus, Stoeter, Ito: The 2018 Signal Separation Evaluation Campaign, LVA/ICA 2018;
museval's `bss_eval(..., framewise_filters=False)` as `museval.eval_mus_track` calls it) is the
*images* variant with time-invariant distortion filters: the filters are fitted once by least
squares over the whole track, then every window of the track (length `window`, every `hop`
samples, museval's framing: windows that would run past the end are dropped, a track no longer
than one window is one window) is projected through them on its own and scored. A window in
which any true source is silent gives NaN for every source, as museval has it, and
`pooled` leaves those out of its median. In the images variant SDR = 10 log10(|s|^2 /
|s_est - s|^2) over the window: the three error terms sum to s_est - s whatever the filters, so
SDR needs no filters and is not invariant to gain or filtering, unlike v3's `bss_eval_sources`;
the filters only split the error for ISR, SIR and SAR. Where museval refuses or skips a
silent *estimate*, `bss_eval_v4` scores it: SDR and ISR 0 dB (the error is the whole source),
SIR and SAR NaN (0 / 0), so a collapsed separator scores low rather than not at all.

museval is not used because `import museval` imports musdb and stempeg, which need ffmpeg at
import time, which a fresh machine lacks. `bss_eval_v4` is written from the definitions here
(whole-track filters from an FFT Gram matrix of delayed sources, one solve for every estimate,
all windows projected at once): with one window it agrees with mir_eval's `bss_eval_images`
(full-track v3 images, the same filters) to 1e-6 dB (`tests/test_metrics_separation.py`;
timings in `benchmarks/sdr_v4.py`).

**v3** sources (`bss_eval_sources`) is mir_eval's `bss_eval_sources` without permutation (our
estimates are labelled), each estimate scored on its own so that a silent one scores -inf where
mir_eval refuses the whole set; mir_eval 0.8's deprecation warning is silenced (0.9 removes the
module: `mir_eval<0.9`). A numpy port of it agreed to 1e-14 dB but was only 1.9x faster, so v3
stays mir_eval's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.fft

FILTER_TAPS = 512
"""Length of BSS Eval's distortion filters (samples), as in mir_eval and museval."""

V4_METRICS = ("sdr", "isr", "sir", "sar")


def bss_eval_sources(references: np.ndarray, estimates: np.ndarray) -> dict[str, np.ndarray]:
    """SDR, SIR, SAR (each (S,), dB) of estimates (S, N) of true sources (S, N), in order
    (BSS Eval v3 sources over the whole signals).

    A silent (all-zero) estimate scores -inf on all three; a silent true source raises
    ValueError (BSS Eval is undefined for it)."""
    from mir_eval.separation import bss_eval_sources as reference_eval

    refs = np.atleast_2d(np.asarray(references, dtype=np.float64))
    est = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    if est.shape != refs.shape:
        raise ValueError(f"estimates {est.shape} and references {refs.shape} differ")
    if not np.all(np.any(refs != 0, axis=1)):
        raise ValueError("a true source is silent: BSS Eval is undefined for it")
    silent = ~np.any(est != 0, axis=1)
    out = {k: np.full(len(est), -np.inf) for k in ("sdr", "sir", "sar")}
    if silent.all():
        return out
    # Without permutation each estimate is scored alone: stand a scored one in for the silent
    # ones (mir_eval refuses silent estimates) and overwrite their scores afterwards.
    est[silent] = est[np.flatnonzero(~silent)[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sdr, sir, sar, _ = reference_eval(refs, est, compute_permutation=False)
    for key, values in zip(("sdr", "sir", "sar"), (sdr, sir, sar), strict=True):
        out[key][~silent] = values[~silent]
    return out


def window_starts(length: int, window: int | None, hop: int | None = None
                  ) -> tuple[np.ndarray, int]:
    """(first sample of each window (T,), window length in samples) of a `length`-sample track,
    museval's framing: windows of `window` samples every `hop` (default `window`) that end
    inside the track, floor((length - window + hop) / hop) of them, the rest of the track
    unscored; one window of the whole track if `window` is None or at least `length`."""
    if window is None or window >= length:
        return np.zeros(1, dtype=np.int64), length
    hop = window if hop is None else hop
    if window < 1 or hop < 1:
        raise ValueError(f"window {window} and hop {hop} must be positive")
    return np.arange((length - window + hop) // hop, dtype=np.int64) * hop, window


def bss_eval_v4(references: np.ndarray, estimates: np.ndarray, window: int | None = None,
                hop: int | None = None, sdr_only: bool = False) -> dict[str, np.ndarray]:
    """BSS Eval v4 images metrics per window: {"sdr", "isr", "sir", "sar"} (only "sdr" if
    `sdr_only`), each (S, T) in dB, of estimates of true sources, both (S, N) (mono) or
    (S, N, C) (C channels), estimate j of source j.

    `window`, `hop`: in samples (`window_starts`; None: the whole track). Distortion filters
    of `FILTER_TAPS` taps fitted once over the whole track (the module docstring). NaN in
    every metric of a window where a true source is silent; +inf where an error term is 0."""
    refs, est = _as_images(references), _as_images(estimates)
    if est.shape != refs.shape:
        raise ValueError(f"estimates {est.shape} and references {refs.shape} differ")
    starts, width = window_starts(refs.shape[1], window, hop)
    ref_w, est_w = _windows(refs, starts, width), _windows(est, starts, width)
    out = {"sdr": _db(_energy(ref_w), _energy(est_w - ref_w))}
    silent = np.any(~np.any(ref_w != 0, axis=(2, 3)), axis=0)  # (T,): a source silent
    if not sdr_only:
        if np.any(~np.any(refs != 0, axis=(1, 2))):  # a source silent throughout
            out.update({k: np.full_like(out["sdr"], np.nan) for k in V4_METRICS[1:]})
        else:
            out.update(_filtered_metrics(refs, est, starts, width))
    for values in out.values():
        values[:, silent] = np.nan
    return out


def _as_images(x: np.ndarray) -> np.ndarray:
    """(S, N) or (S, N, C) audio as float64 (S, N, C)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        return x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"sources of shape {x.shape}: expected (S, N) or (S, N, C)")
    return x


def _windows(x: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """(S, T, C, width) windows of (S, N, C) audio starting at `starts` (T,)."""
    return np.lib.stride_tricks.sliding_window_view(x, width, axis=1)[:, starts]


def _energy(x: np.ndarray) -> np.ndarray:
    """Sum of squares over the last two axes (channels, samples)."""
    return np.einsum("...ct,...ct->...", x, x)


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """10 log10(num / den) in dB; +inf where only den is 0, NaN where both are."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(num / den)


def _gram(spectra: np.ndarray, n_fft: int, taps: int) -> np.ndarray:
    """Gram matrix (K taps, K taps) of K signals delayed by 0 ... taps - 1 samples, from their
    spectra (K, F) (rfft of n_fft >= N + taps - 1 points, so that the correlations at lags
    |m| < taps are linear, not circular): G[(k, a), (l, b)] = sum_t x_k(t - a) x_l(t - b)
    = r_kl[a - b], r_kl[m] = sum_u x_k(u) x_l(u + m), one inverse FFT per pair k <= l
    (r_lk[m] = r_kl[-m])."""
    k = len(spectra)
    i, j = np.triu_indices(k)
    lags = np.arange(1 - taps, taps) % n_fft
    pairs = scipy.fft.irfft(np.conj(spectra[i]) * spectra[j], n_fft)[:, lags]  # (P, 2 taps - 1)
    r = np.empty((k, k, 2 * taps - 1))
    r[i, j], r[j, i] = pairs, pairs[:, ::-1]
    delays = np.arange(taps)
    blocks = r[:, :, delays[:, None] - delays[None, :] + taps - 1]  # (K, K, taps, taps)
    return blocks.transpose(0, 2, 1, 3).reshape(k * taps, k * taps)


def _distortion_filters(refs: np.ndarray, est: np.ndarray, taps: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares FIR filters over whole tracks (S, N, C) that best map the true sources to
    each estimate: (interference filters (E, S, C, taps, C) from every source, spatial filters
    (E, C, taps, C) from the estimate's own source), as [estimate, source, source channel,
    tap, estimate channel], E = S; then the spectra (S, C, F) of the tracks they were fitted
    on (rfft of next_fast_len(N + taps - 1) points).

    Normal equations G c = D over the sources' channels k and delays a < taps: G from
    `_gram`, D[(k, a), (e, o)] = sum_t x_k(t - a) y_eo(t); one solve for every estimate, and
    one per estimate on its own source's block of G."""
    s, n, c = refs.shape
    k = s * c
    n_fft = scipy.fft.next_fast_len(n + taps - 1, real=True)
    fx = scipy.fft.rfft(refs.transpose(0, 2, 1).reshape(k, n), n_fft)
    fy = scipy.fft.rfft(est.transpose(0, 2, 1).reshape(k, n), n_fft)
    gram = _gram(fx, n_fft, taps)
    cross = scipy.fft.irfft(np.conj(fx)[:, None] * fy[None], n_fft)[:, :, :taps]  # (K, EC, L)
    cross = cross.transpose(0, 2, 1).reshape(k * taps, k)  # (K L, E C)
    interference = _solve(gram, cross).reshape(s, c, taps, s, c).transpose(3, 0, 1, 2, 4)
    own = np.arange(s)
    blocks = gram.reshape(s, c * taps, s, c * taps)[own, :, own]  # (E, C L, C L)
    spatial = _solve(blocks, cross.reshape(s, c * taps, s, c)[own, :, own])
    return (interference, spatial.reshape(s, c, taps, c), fx.reshape(s, c, -1),
            fy.reshape(s, c, -1))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a^-1 b (stacked), least squares where a is singular."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        if a.ndim == 2:
            return np.linalg.lstsq(a, b, rcond=None)[0]
        return np.stack([np.linalg.lstsq(ai, bi, rcond=None)[0]
                         for ai, bi in zip(a, b, strict=True)])


def _filtered_metrics(refs: np.ndarray, est: np.ndarray, starts: np.ndarray, width: int,
                      taps: int = FILTER_TAPS) -> dict[str, np.ndarray]:
    """ISR, SIR, SAR (each (S, T), dB) of the windows (`starts` (T,), `width` samples) of true
    sources and estimates (S, N, C): each window is projected on its own through the
    whole-track filters (`_distortion_filters`) into width + taps - 1 samples, on its own
    source (s + e_spat) and on all sources (s + e_spat + e_interf). Energies by Parseval from
    spectra of n >= width + taps - 1 points, which every signal here fits in."""
    interference, spatial, fx, fy = _distortion_filters(refs, est, taps)
    n_fft = scipy.fft.next_fast_len(width + taps - 1, real=True)
    if len(starts) == 1 and width == refs.shape[1]:  # the whole track: spectra at hand
        true, estimate = fx[:, None], fy[:, None]
    else:
        true = scipy.fft.rfft(_windows(refs, starts, width), n_fft)  # (S, T, C, F)
        estimate = scipy.fft.rfft(_windows(est, starts, width), n_fft)
    both = np.einsum("jtcf,ejcfo->etof", true, scipy.fft.rfft(interference, n_fft, axis=3))
    own = np.einsum("etcf,ecfo->etof", true, scipy.fft.rfft(spatial, n_fft, axis=2))
    weights = np.full(true.shape[-1], 2.0 / n_fft)  # Parseval for a one-sided spectrum
    weights[0] = 1.0 / n_fft
    if n_fft % 2 == 0:
        weights[-1] = 1.0 / n_fft

    def energy(z: np.ndarray) -> np.ndarray:
        """Energy (S, T) of the signals whose spectra (S, T, C, F) are z."""
        return np.einsum("...cf,f->...", z.real**2 + z.imag**2, weights)

    return {"isr": _db(energy(true), energy(own - true)),
            "sir": _db(energy(own), energy(both - own)),
            "sar": _db(energy(both), energy(both - estimate))}


def pooled(per_track: Sequence[np.ndarray], statistic: str = "median") -> np.ndarray:
    """The median (or "mean") (S,) over all windows of all tracks of per-track values
    (S, T_i) (as `bss_eval_v4` gives them), NaN windows (silent true sources) dropped, as
    museval's aggregation does; NaN for a source with no scored window."""
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic {statistic!r}: 'median' or 'mean'")
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in per_track], axis=1)
    out = np.full(len(values), np.nan)
    for i, row in enumerate(values):
        kept = row[~np.isnan(row)]
        if len(kept):
            out[i] = np.median(kept) if statistic == "median" else np.mean(kept)
    return out


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10 log10(sum reference^2 / sum (reference - estimate)^2), in dB."""
    reference = np.asarray(reference, dtype=np.float64)
    error = reference - np.asarray(estimate, dtype=np.float64)
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum(error**2), 1e-30)))
