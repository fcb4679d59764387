"""Music features per motion frame for the dual music-dance system (librosa).

One row per video frame at `fps` = `FPS` = 25, the dance frame rate (imported from
`fugato.motion.representation`, so the two cannot drift apart): row k describes the music
around k / 25 seconds after the start of the audio (or of the excerpt, with `offset`), the
time of motion frame k. Audio is resampled to `SAMPLE_RATE` = 22050 Hz and analysed with a
hop of 22050 / 25 = 882 samples, so the frame rate is exactly 25 fps (librosa's default hop
of 512 would give 43.07 fps). Every analysis window is centred on its frame's time
(librosa's `center=True`).

Columns (53, float32):

- `MFCC` 0..19: 20 MFCCs of the whole signal (2048-sample window, 128 mel bands).
- `MFCC_DELTA` 20..39: their first time derivative (librosa's 9-frame Savitzky-Golay delta).
- `CHROMA` 40..51: 12 pitch-class energies C, C#, ..., B of the harmonic part after
  harmonic-percussive separation (HPSS), from a 4096-sample STFT (186 ms, enough to resolve
  semitones down to about 110 Hz), each frame scaled to a maximum of 1.
- `BEAT` 52: 1 on the frame nearest each beat of librosa's dynamic-programming beat tracker
  (Ellis 2007), run on the onset strength of the percussive part at twice the frame rate;
  0 elsewhere.

Values are not standardised (MFCC 0 is in the hundreds): models standardise with their
training-set statistics.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import librosa
import numpy as np
import soundfile

from fugato.errors import BadInputError
from fugato.motion.representation import FPS

SAMPLE_RATE = 22050
HOP = SAMPLE_RATE // FPS  # 882 samples
N_MFCC = 20
MFCC = slice(0, 20)
MFCC_DELTA = slice(20, 40)
CHROMA = slice(40, 52)
BEAT = slice(52, 53)
N_FEATURES = 53
MFCC_WINDOW = 2048
CHROMA_WINDOW = 4096
# pads of up to this many frames are rounding at the ends (decoder delay, frames cut at a
# boundary) and pass silently; longer ones are logged as warnings
QUIET_PAD_FRAMES = 2

log = logging.getLogger(__name__)


def music_features(path_or_audio: str | Path | np.ndarray, sr: int = SAMPLE_RATE,
                   fps: int = FPS, n_frames: int | None = None, offset: float = 0.0,
                   duration: float | None = None) -> np.ndarray:
    """(n, 53) float32 features (columns in the module docstring) at exactly `fps` frames per
    second, row k for time k / fps seconds.

    `path_or_audio`: an audio file (any format libsndfile reads: wav, flac, ogg, mp3), decoded
    to mono and resampled to `sr`; or a mono signal (samples,) already at `sr`. `sr` must be a
    multiple of `fps` (hop = sr / fps samples). `offset` and `duration` (seconds) read an
    excerpt of a file: row k is then for time offset + k / fps in the file (for a motion
    segment from `split_valid`, `offset = segment.start / segment.fps`).

    Without `n_frames`, n = 1 + samples // hop (every frame time within the audio). With it,
    the rows are cut or padded to `n_frames` to match a motion of that many frames: padding
    repeats the last row's MFCC, delta and chroma with no beat (see `pad_frames`, which also
    returns how many rows were added; pads over `QUIET_PAD_FRAMES` are logged as warnings).

    A missing or unreadable file raises `BadInputError` naming it.
    """
    if not (isinstance(sr, int | np.integer) and isinstance(fps, int | np.integer)
            and sr > 0 and fps > 0 and sr % fps == 0):
        raise ValueError(f"sample rate {sr} must be a positive multiple of fps {fps} "
                         "(an integer hop keeps frame k at exactly k / fps seconds)")
    hop = sr // fps
    if isinstance(path_or_audio, np.ndarray):
        source = "audio array"
        y = np.asarray(path_or_audio, dtype=np.float32)
        if y.ndim != 1:
            raise ValueError(f"audio of shape {y.shape}: expected mono samples (n,)")
        y = y[int(round(offset * sr)):]
        if duration is not None:
            y = y[:int(round(duration * sr))]
    else:
        source = str(path_or_audio)
        y = load_audio(path_or_audio, sr, offset, duration)
    if len(y) == 0:
        raise BadInputError(source, f"no audio samples (offset {offset} s)")
    warm_up()
    if not np.isfinite(y).all():
        raise BadInputError(source, "audio samples are not all finite")
    features = _features(y, sr, hop)
    if n_frames is None:
        return features
    features, padded = pad_frames(features, n_frames)
    if padded > QUIET_PAD_FRAMES:
        log.warning("%s: audio ends %.2f s before the motion: padded %d of %d frames",
                    source, padded / fps, padded, n_frames)
    elif padded:
        log.debug("%s: padded %d frames", source, padded)
    return features


_warm = False
"""Whether this process has its librosa kernels compiled or loaded (`warm_up`)."""


def warm_up() -> None:
    """Compile or load librosa's numba kernels in this process, once, before any feature.

    librosa caches its kernels on disk. Processes compiling them at once write that cache
    concurrently (numba#10128), and a cache of files from different processes segfaults every
    later call in the venv: two `fugato` runs started together on a fresh install, or a pool's
    workers. So the first use in a process happens under a lock file beside the cache: one
    process compiles and writes, the others wait and load what it wrote; forked workers inherit
    the kernels loaded. Two seconds of a tone (the tuning estimate) with clicks (the beat
    tracker) reach every kernel."""
    global _warm
    if _warm:
        return
    sr = SAMPLE_RATE
    t = np.arange(2 * sr, dtype=np.float32) / sr
    clicks = (np.arange(len(t)) % (sr // 2) < 40).astype(np.float32)
    with _numba_cache_lock():
        librosa.load(io.BytesIO(_silent_wav(sr)), sr=sr // 2)  # librosa's audio module too
        _features(0.3 * np.sin(2 * np.pi * 440 * t, dtype=np.float32) + clicks, sr, sr // FPS)
    _warm = True


@contextlib.contextmanager
def _numba_cache_lock() -> Iterator[None]:
    """An exclusive lock (fcntl) on a file in numba's cache folder for librosa, or in the
    temporary folder where that one is read-only; no lock where fcntl is missing (Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    import numba

    folder = Path(getattr(numba.config, "CACHE_DIR", "")
                  or Path(librosa.__file__).parent / "__pycache__")
    if not os.access(folder if folder.exists() else folder.parent, os.W_OK):
        folder = Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "fugato-numba.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _silent_wav(sr: int) -> bytes:
    """A tenth of a second of silence as WAV bytes."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(sr // 10, dtype=np.float32), sr, format="WAV")
    return buffer.getvalue()


def load_audio(path: str | Path, sr: int = SAMPLE_RATE, offset: float = 0.0,
               duration: float | None = None) -> np.ndarray:
    """Mono float32 samples of an audio file resampled to `sr` Hz, from `offset` seconds for
    `duration` seconds (None: to the end). Decoded by libsndfile (mp3 since libsndfile 1.1)
    only: librosa's fallback to audioread is deprecated and depends on system codecs.
    What the header declares is checked first (`fugato.audio.wav.audio_info`: sample rate,
    and the seconds and samples to read), so a file past a limit is never decoded."""
    from fugato.audio.wav import audio_info

    path = Path(path)
    audio_info(path, offset, duration)
    warm_up()
    try:
        with soundfile.SoundFile(path) as f:
            y, _ = librosa.load(f, sr=sr, mono=True, offset=offset, duration=duration)
    except (RuntimeError, OSError, ValueError, EOFError, librosa.util.exceptions.ParameterError
            ) as error:  # soundfile's errors are RuntimeErrors
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BadInputError(path, f"not a readable audio file ({reason})") from None
    return y


def pad_frames(features: np.ndarray, n_frames: int) -> tuple[np.ndarray, int]:
    """`features` (n, 53) cut or padded to (n_frames, 53), and the number of rows added: added
    rows repeat the last row (MFCC, delta, chroma) with the beat column 0."""
    if n_frames < 0:
        raise ValueError(f"n_frames {n_frames} is negative")
    n = len(features)
    if n >= n_frames:
        return features[:n_frames], 0
    if n == 0:
        raise ValueError("no frames to pad from")
    tail = np.repeat(features[-1:], n_frames - n, axis=0)
    tail[:, BEAT] = 0.0
    return np.concatenate([features, tail]), n_frames - n


def beat_frames(features: np.ndarray) -> np.ndarray:
    """Indices (int64, ascending) of the frames whose beat column is set."""
    return np.flatnonzero(np.asarray(features)[:, BEAT][:, 0] > 0.5)


def _features(y: np.ndarray, sr: int, hop: int) -> np.ndarray:
    n = 1 + len(y) // hop  # librosa's frame count with center=True
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC, n_fft=MFCC_WINDOW, hop_length=hop)
    harmonic, percussive = librosa.effects.hpss(y)
    with warnings.catch_warnings():
        # music without sustained tones (a click track) has no peaks to estimate the tuning
        # from: librosa then assumes A = 440 Hz, which is what we want, and warns
        warnings.filterwarnings("ignore", message="Trying to estimate tuning")
        chroma = librosa.feature.chroma_stft(y=harmonic, sr=sr, n_fft=CHROMA_WINDOW,
                                             hop_length=hop)
    out = np.zeros((n, N_FEATURES), dtype=np.float32)
    out[:, MFCC] = mfcc.T[:n]
    out[:, MFCC_DELTA] = _delta(mfcc).T[:n]
    out[:, CHROMA] = chroma.T[:n]
    out[_beats(percussive, sr, hop, n), BEAT] = 1.0
    return out


def _delta(mfcc: np.ndarray) -> np.ndarray:
    """librosa's delta with a 9-frame window, narrowed (odd, >= 3) for clips under 9 frames."""
    frames = mfcc.shape[1]
    if frames < 3:
        return np.zeros_like(mfcc)
    width = min(9, frames if frames % 2 else frames - 1)
    return librosa.feature.delta(mfcc, width=width)


def _beats(percussive: np.ndarray, sr: int, hop: int, n: int) -> np.ndarray:
    """Frame indices (< n) nearest the beats tracked on the percussive part's onset strength,
    computed at half the hop so that a beat's time is known to a quarter of a frame."""
    onset_hop = hop // 2 if hop % 2 == 0 else hop
    envelope = librosa.onset.onset_strength(y=percussive, sr=sr, hop_length=onset_hop)
    if not envelope.any():  # silence: no onsets, no beats
        return np.zeros(0, dtype=np.int64)
    _, times = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=onset_hop,
                                       units="time")
    frames = np.rint(np.asarray(times) * sr / hop).astype(np.int64)
    return np.unique(frames[(frames >= 0) & (frames < n)])
