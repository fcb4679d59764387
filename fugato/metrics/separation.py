"""Source-separation quality: SDR, SIR and SAR of BSS Eval (Vincent, Gribonval, Fevotte 2006).

A numpy port of `mir_eval.separation.bss_eval_sources` (BSS Eval v3, mir_eval 0.7) with the
sources in a fixed order (`compute_permutation=False`: our estimates are labelled vocals and
accompaniment): mir_eval is not a dependency of fugato. Each estimate is decomposed into

- the target, P_j: its least-squares projection onto the true source j filtered by any FIR
  filter of `filter_length` taps (512, mir_eval's default: a time-invariant gain distortion is
  allowed),
- interference, P_all - P_j, where P_all projects onto all true sources with such filters,
- artifacts, estimate - P_all;

SDR = 10 log10(|P_j|^2 / |estimate - P_j|^2), SIR = 10 log10(|P_j|^2 / |P_all - P_j|^2),
SAR = 10 log10(|P_all|^2 / |estimate - P_all|^2), in dB, over the whole signal (no framing).

The projections solve the normal equations of the delayed sources; their Gram matrix depends
on the true sources only, so `BssEval(references)` computes it once and then scores any number
of estimates of the same mixture (every model of an evaluation) at the price of one FFT, one
linear solve and one convolution per estimate and source set.
"""

from __future__ import annotations

import numpy as np


def _db(num: float, den: float) -> float:
    """10 log10(num / den) in dB: -inf for a zero numerator (a silent estimate holds none of its
    target: mir_eval refuses such estimates instead), else inf for a zero denominator."""
    if num == 0:
        return float("-inf")
    if den == 0:
        return float("inf")
    return float(10 * np.log10(num / den))


def _delays(c: np.ndarray, taps: int) -> np.ndarray:
    """From a circular cross-correlation c (n_fft,), c[k] = sum_n a[n + k] b[n], the inner
    products (taps,) of b with a delayed by 0 .. taps - 1 samples: c[0], c[-1], c[-2], ..."""
    return np.concatenate([c[:1], c[-1:-taps:-1]])


class BssEval:
    """BSS Eval of estimates of S true sources (S, N), float64.

    `score(estimates)` with estimates (S, N) (estimate j of source j) returns
    {"sdr", "sir", "sar"}: arrays (S,) in dB."""

    def __init__(self, references: np.ndarray, filter_length: int = 512) -> None:
        from scipy.linalg import toeplitz

        refs = np.atleast_2d(np.asarray(references, dtype=np.float64))
        if not np.all(np.any(refs != 0, axis=1)):
            raise ValueError("a true source is silent: BSS Eval is undefined for it")
        self.refs = refs
        n_src, n = refs.shape
        self.length = filter_length
        self.n_fft = int(2 ** np.ceil(np.log2(n + filter_length - 1)))
        self.spectra = np.fft.rfft(refs, n=self.n_fft, axis=1)  # (S, F)
        L = filter_length
        gram = np.zeros((n_src * L, n_src * L))
        for i in range(n_src):  # S = 2 here: a handful of Toeplitz blocks, not a per-sample loop
            for j in range(i, n_src):
                # c[k] = sum_n s_i[n + k] s_j[n]: inner products of the delayed sources
                c = np.fft.irfft(self.spectra[i] * np.conj(self.spectra[j]), n=self.n_fft)
                block = toeplitz(_delays(c, L), c[:L])
                gram[i * L:(i + 1) * L, j * L:(j + 1) * L] = block
                gram[j * L:(j + 1) * L, i * L:(i + 1) * L] = block.T
        self.gram = gram

    def _project(self, sources: list[int], estimate_spectrum: np.ndarray) -> np.ndarray:
        """Least-squares projection (N + L - 1,) of an estimate (given by its spectrum) onto the
        FIR-filtered true sources `sources`."""
        from scipy.signal import fftconvolve

        L, n = self.length, self.refs.shape[1]
        index = np.concatenate([np.arange(i * L, (i + 1) * L) for i in sources])
        rhs = np.concatenate([_delays(np.fft.irfft(self.spectra[i] * np.conj(estimate_spectrum),
                                                   n=self.n_fft), L) for i in sources])
        gram = self.gram[np.ix_(index, index)]
        try:
            coefficients = np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError:
            coefficients = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        out = np.zeros(n + L - 1)
        for k, i in enumerate(sources):
            out += fftconvolve(coefficients[k * L:(k + 1) * L], self.refs[i])[: n + L - 1]
        return out

    def score(self, estimates: np.ndarray) -> dict[str, np.ndarray]:
        est = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
        if est.shape != self.refs.shape:
            raise ValueError(f"estimates {est.shape} and references {self.refs.shape} differ")
        n_src, n = est.shape
        padded = np.pad(est, [(0, 0), (0, self.length - 1)])
        spectra = np.fft.rfft(est, n=self.n_fft, axis=1)
        out = {k: np.zeros(n_src) for k in ("sdr", "sir", "sar")}
        everything = list(range(n_src))
        for j in range(n_src):
            target = self._project([j], spectra[j])
            full = self._project(everything, spectra[j])
            out["sdr"][j] = _db(np.sum(target**2), np.sum((padded[j] - target) ** 2))
            out["sir"][j] = _db(np.sum(target**2), np.sum((full - target) ** 2))
            out["sar"][j] = _db(np.sum(full**2), np.sum((padded[j] - full) ** 2))
        return out


def bss_eval_sources(references: np.ndarray, estimates: np.ndarray, filter_length: int = 512
                     ) -> dict[str, np.ndarray]:
    """SDR, SIR, SAR (each (S,), dB) of estimates (S, N) of true sources (S, N), in order."""
    return BssEval(references, filter_length).score(estimates)
