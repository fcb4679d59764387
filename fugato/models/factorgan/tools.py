"""`fugato separate`: split an audio file into vocals and accompaniment with a trained run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fugato.audio.stft import SAMPLE_RATE
from fugato.errors import FugatoError
from fugato.models.factorgan.separation import FactorGANSeparation
from fugato.train.run import Run


def resample(audio: np.ndarray, source: int, target: int) -> np.ndarray:
    """Audio (..., N) from `source` Hz to `target` Hz (polyphase, scipy)."""
    from scipy.signal import resample_poly

    if source == target:
        return audio
    g = math.gcd(source, target)
    return resample_poly(audio, target // g, source // g, axis=-1)


def separate_audio(run: Run, audio: np.ndarray, rate: int, separator: str | None = None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(vocals, accompaniment) of a mixture (channels, N) at `rate` Hz, each like it; their
    sum is the mixture up to float rounding. At another rate than 22.05 kHz the vocals are
    separated at 22.05 kHz and resampled back, and the accompaniment is the mixture minus the
    vocals, so the sum still holds."""
    task = run.task
    if not isinstance(task, FactorGANSeparation):
        raise FugatoError(f"{run.path}: a {run.config.model!r} run, not a separation run")
    if rate == SAMPLE_RATE:
        vocals, accompaniment = task.separate(audio, separator, seed)
        return vocals, accompaniment
    vocals = task.separate(resample(audio, rate, SAMPLE_RATE), separator, seed)[0]
    vocals = resample(vocals, SAMPLE_RATE, rate)
    vocals = np.pad(vocals, [(0, 0), (0, max(0, audio.shape[1] - vocals.shape[1]))]
                    )[:, : audio.shape[1]]
    return vocals, audio - vocals


def separate_file(run: Run, path: str | Path, out: str | Path, separator: str | None = None,
                  seed: int = 0) -> list[Path]:
    """Separate an audio file with a trained run (`separate_audio`): writes
    `<stem>-vocals.wav` and `<stem>-accompaniment.wav` (32-bit float, the input's channels and
    sample rate) into `out`."""
    from fugato.audio.wav import read_wav, write_audio

    audio, rate = read_wav(path)  # (channels, N)
    stems = separate_audio(run, audio, rate, separator, seed)
    out = Path(out)
    stem = Path(path).stem
    paths = [out / f"{stem}-vocals.wav", out / f"{stem}-accompaniment.wav"]
    for p, x in zip(paths, stems, strict=True):
        write_audio(x[0] if len(x) == 1 else x, p, rate, float32=True)
    return paths
