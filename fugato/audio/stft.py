"""STFT, inverse STFT, log spectrograms and mask-based separation spectra.

The separation models work on magnitude spectrograms at 22.05 kHz: STFT of 512 samples
(periodic Hann), hop 256, the highest (Nyquist) bin dropped so that 256 bins remain (a power of
two for the U-Net), magnitudes compressed with log1p (Stoller et al.'s normalisation).

The STFT is `fugato.audio.frames.frame_signal` (windowed frames, `frame - hop` zeros in front)
followed by one real FFT per frame; the inverse is one inverse real FFT per frame followed by
`fugato.audio.frames.overlap_add`, which divides by the window sum: the exact inverse of an
unmodified STFT. Being linear, it also keeps what a mask promises: the inverse of `mask * X`
plus the inverse of `(1 - mask) * X` is the inverse of `X`, the mixture, to rounding error.
"""

from __future__ import annotations

import numpy as np

from fugato.audio.frames import frame_signal, overlap_add

SAMPLE_RATE = 22050
N_FFT = 512
HOP = 256
BINS = N_FFT // 2
"""Frequency bins the models see: the 257 of a 512-point real FFT less the Nyquist bin."""


def stft(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Complex STFT of signals (..., N) -> (..., n_fft // 2 + 1, T), T = `frames(N)`;
    periodic Hann window, `n_fft - hop` zeros in front (see `frame_signal`)."""
    return np.swapaxes(np.fft.rfft(frame_signal(x, n_fft, hop), axis=-1), -1, -2)


def istft(spec: np.ndarray, hop: int = HOP, length: int | None = None) -> np.ndarray:
    """Inverse of `stft`: complex (..., n_fft // 2 + 1, T) -> real signals (..., length)."""
    n_fft = 2 * (spec.shape[-2] - 1)
    frames = np.fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1)
    return overlap_add(frames, hop, length)


def log_spectrogram(x: np.ndarray, n_fft: int = 256, hop: int = 64) -> np.ndarray:
    """Magnitude STFT of a signal (N,) in dB, (n_fft // 2 + 1, T), floored 80 dB below its
    peak (for plots)."""
    db = 20 * np.log10(np.maximum(np.abs(stft(np.asarray(x, dtype=np.float64), n_fft, hop)),
                                  1e-10))
    return np.maximum(db, db.max() - 80.0)


def log_magnitudes(spec: np.ndarray) -> np.ndarray:
    """log1p |X| of the lowest `BINS` bins: complex (..., BINS + 1, T) -> float32 (..., BINS, T)."""
    return np.log1p(np.abs(spec[..., :BINS, :])).astype(np.float32)


def full_mask(mask: np.ndarray) -> np.ndarray:
    """A mask over the `BINS` model bins (..., BINS, T) extended to all BINS + 1 STFT bins: the
    Nyquist bin takes the mask of the bin below it, so that mask and 1 - mask still share out
    every bin of the mixture."""
    return np.concatenate([mask, mask[..., -1:, :]], axis=-2)


def apply_mask(mixture: np.ndarray, mask: np.ndarray, length: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Two sources from a mixture's STFT (..., BINS + 1, T) and a mask in [0, 1] (..., BINS, T):
    (istft(mask X), istft((1 - mask) X)), each (..., length). The phase is the mixture's; the two
    always add up to istft(X), the mixture."""
    mask = full_mask(np.asarray(mask, dtype=np.float64))
    return istft(mask * mixture, length=length), istft((1.0 - mask) * mixture, length=length)
