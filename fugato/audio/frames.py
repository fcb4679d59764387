"""Framing, overlap-add and SNR for frame-wise audio models; `fugato.audio.stft` builds on them.

The IML audio system cuts audio into windowed frames (8 kHz, 800 samples = 100 ms, periodic
Hann, hop 400 = 50% overlap), codes and decodes each frame, and puts the decoded frames back
together by overlap-add. Frames hold the *windowed* signal (w * x), so overlap-adding them gives
x * sum_t w(n - t hop); dividing by that window sum (`window_sum`) reconstructs x exactly
wherever some window covers a sample. A periodic Hann at 50% overlap sums to exactly 1, and
`frame_signal` pads `frame - hop` zeros in front so that every real sample is covered.

Everything is array operations: framing is one gather, overlap-add is `frame // hop` shifted
adds (2 for 50% overlap), never a Python loop over frames.
"""

from __future__ import annotations

import numpy as np

FRAME = 800
"""Samples per frame: 100 ms at 8 kHz."""
HOP = 400
"""50% overlap."""


def periodic_hann(n: int) -> np.ndarray:
    """(n,) float64 periodic Hann window, 0.5 - 0.5 cos(2 pi k / n): at hop n/2 its shifted
    copies sum to exactly 1 (the symmetric Hann, with n - 1 in the denominator, does not)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def _check(frame: int, hop: int) -> None:
    if hop <= 0 or frame % hop:
        raise ValueError(f"frame ({frame}) must be a positive multiple of hop ({hop})")


def n_frames(n_samples: int, frame: int = FRAME, hop: int = HOP) -> int:
    """How many frames `frame_signal` cuts from `n_samples` samples: enough that every sample
    lies in frame // hop frames, the last ones included (so the window sum is 1 there, never a
    tail of the window that would blow up decoding errors when divided by)."""
    _check(frame, hop)
    return max(1, -(-(n_samples + frame - hop) // hop))


def frame_signal(x: np.ndarray, frame: int = FRAME, hop: int = HOP,
                 window: np.ndarray | None = None) -> np.ndarray:
    """Windowed frames of a signal: (..., N) -> (..., T, frame), T = `n_frames(N)`.

    `frame - hop` zeros go in front and at least as many at the end, so every sample lies in
    frame // hop frames; `window` defaults to the periodic Hann of `frame` samples.
    """
    _check(frame, hop)
    x = np.asarray(x)
    window = periodic_hann(frame) if window is None else np.asarray(window)
    count = n_frames(x.shape[-1], frame, hop)
    total = (count - 1) * hop + frame
    pad = [(0, 0)] * (x.ndim - 1) + [(frame - hop, total - (frame - hop) - x.shape[-1])]
    padded = np.pad(x, pad)
    index = np.arange(count)[:, None] * hop + np.arange(frame)[None, :]  # (T, frame)
    return padded[..., index] * window.astype(padded.dtype, copy=False)


def window_sum(count: int, frame: int = FRAME, hop: int = HOP,
               window: np.ndarray | None = None) -> np.ndarray:
    """(L,) sum over `count` frames of the shifted windows, L = (count - 1) hop + frame."""
    window = periodic_hann(frame) if window is None else np.asarray(window)
    return _add_shifted(np.broadcast_to(window, (count, frame)), hop)


def _add_shifted(frames: np.ndarray, hop: int) -> np.ndarray:
    """Plain overlap-add of (..., T, frame) -> (..., (T - 1) hop + frame): frame // hop shifted
    adds of (T, hop) blocks."""
    *lead, count, frame = frames.shape
    k = frame // hop
    blocks = frames.reshape(*lead, count, k, hop)
    out = np.zeros((*lead, count + k - 1, hop), dtype=np.result_type(frames.dtype, np.float32))
    for j in range(k):  # k = 2 at 50% overlap: a loop over block offsets, not over frames
        out[..., j:j + count, :] += blocks[..., :, j, :]
    return out.reshape(*lead, (count + k - 1) * hop)


def overlap_add(frames: np.ndarray, hop: int = HOP, length: int | None = None,
                window: np.ndarray | None = None) -> np.ndarray:
    """Inverse of `frame_signal`: windowed frames (..., T, frame) -> signal (..., length).

    Adds the frames at their offsets and divides by the window sum (exact reconstruction of
    framed audio); strips the front padding; `length` cuts the end (default: all T frames)."""
    frames = np.asarray(frames)
    frame = frames.shape[-1]
    _check(frame, hop)
    norm = window_sum(frames.shape[-2], frame, hop, window)
    # Where no window reaches (the Hann's zero at the very first sample) there is no signal.
    out = _add_shifted(frames, hop) / np.where(norm > 1e-8, norm, 1.0)
    out = out[..., frame - hop:]
    return out if length is None else out[..., :length]
