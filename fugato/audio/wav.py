"""Audio files: read any file soundfile reads, write WAVs atomically.

`write_audio` writes 16-bit PCM (clipped to [-1, 1]: listening copies, the IML audio samples,
rendered melodies) or 32-bit float (unclipped: separated sources must keep adding up to their
mixture after writing, which rounding and clipping to 16 bits would break).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fugato.atomic import atomic_path
from fugato.errors import BadInputError


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """(audio (channels, N) float64, sample rate) of an audio file; `BadInputError` (one line
    naming the file) when it is missing or unreadable."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "no such file")
    try:
        audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
    except Exception as error:  # soundfile raises its own error types, all unreadable input
        raise BadInputError(path, f"not a readable audio file ({str(error).splitlines()[0]})"
                            ) from None
    if audio.size == 0:
        raise BadInputError(path, "no samples")
    return np.ascontiguousarray(audio.T), int(rate)


def write_audio(audio: np.ndarray, path: str | os.PathLike[str], sample_rate: int,
                float32: bool = False) -> None:
    """Write audio (N,) or (channels, N) as a WAV atomically: 16-bit PCM with the samples
    clipped to [-1, 1], or with `float32` 32-bit float, unclipped."""
    import soundfile

    audio = np.asarray(audio, dtype=np.float32 if float32 else np.float64)
    if not float32:
        audio = np.clip(audio, -1.0, 1.0)
    with atomic_path(path) as tmp:
        soundfile.write(tmp, audio.T if audio.ndim == 2 else audio, sample_rate,
                        subtype="FLOAT" if float32 else "PCM_16", format="WAV")
