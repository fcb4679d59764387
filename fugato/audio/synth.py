"""A small numpy synthesizer: hear a `Melody` without a soundfont.

Each note is a sum of a few harmonics under an ADSR envelope, rendered with array operations
(one Python iteration per note, none per sample) and cached by pitch and length.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from fugato.music.melody import TPQ, Melody

# Relative amplitudes of harmonics 1, 2, 3, ... per timbre.
TIMBRES: dict[str, tuple[float, ...]] = {
    "sine": (1.0,),
    "organ": (1.0, 0.5, 0.0, 0.25, 0.0, 0.0, 0.0, 0.125),
    "square": (1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7, 0.0, 1 / 9),
    "saw": (1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6, 1 / 7, 1 / 8),
    "clarinet": (1.0, 0.0, 0.6, 0.0, 0.35, 0.0, 0.2),
}
# Attack, decay, release in seconds; sustain level; per timbre.
_ADSR: dict[str, tuple[float, float, float, float]] = {
    "sine": (0.01, 0.08, 0.8, 0.05),
    "organ": (0.005, 0.02, 0.9, 0.04),
    "square": (0.005, 0.1, 0.6, 0.05),
    "saw": (0.01, 0.15, 0.55, 0.06),
    "clarinet": (0.03, 0.1, 0.75, 0.06),
}


def midi_to_hz(pitch: int | np.ndarray) -> np.ndarray:
    """Equal temperament, A4 = MIDI 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


def adsr(n_samples: int, n_hold: int, sample_rate: int, attack: float, decay: float,
         sustain: float, release: float) -> np.ndarray:
    """Envelope of shape (n_samples,): attack and decay within the first `n_hold` samples
    (the note's written length), then a release tail."""
    t = np.arange(n_samples) / sample_rate
    hold = n_hold / sample_rate
    a, d = max(attack, 1e-4), max(decay, 1e-4)
    env = np.where(t < a, t / a, np.maximum(sustain, 1.0 - (1.0 - sustain) * (t - a) / d))
    at_release = env[min(max(n_hold - 1, 0), n_samples - 1)] if n_samples else 0.0
    tail = at_release * np.clip(1.0 - (t - hold) / max(release, 1e-4), 0.0, 1.0)
    return np.where(t < hold, env, tail)


def render(melody: Melody, sample_rate: int = 22050, program: str = "sine",
           gain: float = 0.3, velocity: float = 1.0) -> np.ndarray:
    """Audio of a melody: float32 array of shape (n_samples,), in [-1, 1].

    Time follows `melody.tempo` (quarter notes per minute); `program` is one of `TIMBRES`;
    `gain` scales the peak of a single note. The output lasts until the last release ends.
    """
    if program not in TIMBRES:
        raise ValueError(f"unknown program {program!r}: choose one of {', '.join(TIMBRES)}")
    seconds_per_tick = 60.0 / (melody.tempo * TPQ)
    starts = np.rint(melody.onsets * seconds_per_tick * sample_rate).astype(np.int64)
    holds = np.maximum(np.rint(melody.durations * seconds_per_tick * sample_rate), 1
                       ).astype(np.int64)
    tail = int(round(_ADSR[program][3] * sample_rate))
    total = int((starts + holds).max()) + tail if len(melody) else 0
    out = np.zeros(total, dtype=np.float64)
    for start, hold, pitch in zip(starts.tolist(), holds.tolist(), melody.pitches.tolist(),
                                  strict=True):
        wave = note_wave(int(pitch), hold, sample_rate, program)
        out[start:start + len(wave)] += wave
    out *= gain * velocity
    return np.clip(out, -1.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=2048)
def note_wave(pitch: int, hold: int, sample_rate: int, program: str) -> np.ndarray:
    """One note of `hold` samples plus its release tail, at unit gain: (hold + tail,) float64,
    read-only. Cached: melodies repeat pitches and lengths, and the studio renders a tune again
    at every slider move."""
    harmonics = np.asarray(TIMBRES[program])
    harmonics = harmonics / harmonics.sum()
    attack, decay, sustain, release = _ADSR[program]
    n = hold + int(round(release * sample_rate))
    hz = float(midi_to_hz(pitch))
    orders = np.arange(1, len(harmonics) + 1)
    keep = orders * hz < sample_rate / 2  # no harmonics above Nyquist (aliasing)
    t = np.arange(n) / sample_rate
    wave = np.sin(2 * np.pi * hz * np.outer(t, orders[keep])) @ harmonics[keep]
    wave *= adsr(n, hold, sample_rate, attack, decay, sustain, release)
    wave.flags.writeable = False
    return wave


def write_wav(melody: Melody, path: str | os.PathLike[str], sample_rate: int = 22050,
              program: str = "sine", gain: float = 0.3) -> None:
    """Render a melody and write a 16-bit mono WAV file atomically."""
    from fugato.audio.wav import write_audio

    write_audio(render(melody, sample_rate=sample_rate, program=program, gain=gain), path,
                sample_rate)
