"""Audio files: read any file soundfile reads, write WAVs atomically.

Every read first checks what the file's header declares (`audio_info`): a sample rate in
`fugato.limits.SAMPLE_RATES` and at most `MAX_SECONDS` and `MAX_AUDIO_SAMPLES` to read, so a
tiny file declaring hours, or a rate that resampling multiplies, is refused before it is
decoded.

`write_audio` writes 16-bit PCM (clipped to [-1, 1]: listening copies, the IML audio samples,
rendered melodies) or 32-bit float (unclipped: separated sources must keep adding up to their
mixture after writing, which rounding and clipping to 16 bits would break).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from fugato.atomic import atomic_path
from fugato.errors import BadInputError
from fugato.limits import MAX_AUDIO_SAMPLES, MAX_SECONDS, SAMPLE_RATES, check_most, check_range


def audio_info(path: str | os.PathLike[str], offset: float = 0.0,
               duration: float | None = None) -> Any:
    """soundfile's header of an audio file (`samplerate` Hz, `frames`, `channels`), once what
    it declares passes `fugato.limits`: a sample rate in `SAMPLE_RATES`, and what a read from
    `offset` seconds for `duration` seconds (None: to the end) takes at most `MAX_SECONDS`
    long and `MAX_AUDIO_SAMPLES` samples (frames x channels). Decodes nothing; `BadInputError`
    naming the file for a missing or unreadable file or one past a limit."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "no such file")
    try:
        info = soundfile.info(str(path))
    except Exception as error:  # soundfile raises its own error types, all unreadable input
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInputError(path, f"not a readable audio file ({reason})") from None
    check_range(path, "sample rate", info.samplerate, SAMPLE_RATES, "Hz")
    seconds = max(0.0, info.frames / info.samplerate - max(0.0, offset))
    seconds = seconds if duration is None else min(seconds, duration)
    check_most(path, "audio of", seconds, MAX_SECONDS, "seconds")
    check_most(path, f"{info.channels}-channel audio of", round(seconds * info.samplerate)
               * info.channels, MAX_AUDIO_SAMPLES, "samples")
    return info


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """(audio (channels, N) float64, sample rate in Hz) of an audio file; `BadInputError` (one
    line naming the file) when it is missing, unreadable, or past a limit of `audio_info`
    (checked before decoding; at most the frames its header declares are decoded)."""
    import soundfile

    path = Path(path)
    info = audio_info(path)
    try:
        audio, rate = soundfile.read(path, frames=int(info.frames), dtype="float64",
                                     always_2d=True)
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
