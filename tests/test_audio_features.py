"""Music features at 25 fps: layout, beats of a click track, chroma of a pure tone, padding to
a motion's length, errors naming the file, and a real Tang 2018 mp3 excerpt."""

import logging
from pathlib import Path

import numpy as np
import pytest
from shared_data import require

from fugato.audio.features import (
    BEAT,
    CHROMA,
    FPS,
    HOP,
    MFCC,
    MFCC_DELTA,
    N_FEATURES,
    SAMPLE_RATE,
    beat_frames,
    music_features,
    pad_frames,
)
from fugato.errors import FugatoError
from fugato.music.melody import PITCH_CLASS_NAMES

SR = SAMPLE_RATE


def click_track(bpm: float, seconds: float, first: float = 0.25) -> np.ndarray:
    """Mono float32: a 20 ms decaying 1 kHz click on every beat from `first` seconds."""
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    t = np.arange(int(0.02 * SR)) / SR
    click = np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.004)
    for start in np.arange(first, seconds - 0.02, 60.0 / bpm):
        i = int(round(start * SR))
        y[i : i + len(click)] += click
    return y


@pytest.fixture(scope="module")
def clicks() -> np.ndarray:
    return click_track(120, 8.0)


@pytest.fixture(scope="module")
def click_features(clicks: np.ndarray) -> np.ndarray:
    return music_features(clicks)


def test_columns_cover_the_53_features_once() -> None:
    columns = np.concatenate([np.arange(N_FEATURES)[s] for s in (MFCC, MFCC_DELTA, CHROMA, BEAT)])
    assert columns.tolist() == list(range(N_FEATURES)) == list(range(20 + 20 + 12 + 1))
    assert HOP * FPS == SR  # exactly 25 frames per second


def test_click_track_at_120_bpm_beats_every_half_second(click_features: np.ndarray) -> None:
    assert click_features.shape == (1 + 8 * SR // HOP, N_FEATURES) == (201, 53)
    assert click_features.dtype == np.float32 and np.isfinite(click_features).all()
    beats = beat_frames(click_features)
    assert len(beats) >= 10
    assert abs(np.median(np.diff(beats)) - 12.5) <= 1  # 2 beats/s at 25 fps
    # each beat on the frame of a click: clicks at 0.25 + 0.5 k s = frames 6.25 + 12.5 k
    offsets = (beats - 6.25) % 12.5
    assert np.all(np.minimum(offsets, 12.5 - offsets) <= 1)
    assert set(np.unique(click_features[:, BEAT])) <= {0.0, 1.0}


def test_chroma_of_a_pure_a4_peaks_at_a() -> None:
    t = np.arange(2 * SR) / SR
    features = music_features((0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32))
    chroma = features[:, CHROMA].mean(axis=0)
    assert PITCH_CLASS_NAMES[int(chroma.argmax())] == "A"
    assert chroma.max() > 3 * np.delete(chroma, 9).max()


def test_padding_and_trimming_to_a_motion(clicks: np.ndarray, click_features: np.ndarray,
                                          caplog: pytest.LogCaptureFixture) -> None:
    n = len(click_features)
    with caplog.at_level(logging.WARNING, logger="fugato.audio.features"):
        padded = music_features(clicks, n_frames=n + 50)
    assert padded.shape == (n + 50, N_FEATURES)
    np.testing.assert_array_equal(padded[:n], click_features)
    np.testing.assert_array_equal(padded[n:, :BEAT.start],
                                  np.repeat(click_features[-1:, :BEAT.start], 50, axis=0))
    assert not padded[n:, BEAT].any()
    assert "padded 50 of 251 frames" in caplog.text and "2.00 s" in caplog.text
    np.testing.assert_array_equal(pad_frames(click_features, n - 10)[0], click_features[:-10])
    assert pad_frames(click_features, n + 2)[1] == 2


def test_missing_and_unreadable_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_song.mp3"
    with pytest.raises(FugatoError, match="no_such_song.mp3: no such file"):
        music_features(missing)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"this is not audio" * 100)
    with pytest.raises(FugatoError, match="garbage.mp3: not a readable audio file") as error:
        music_features(garbage)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="multiple of fps"):
        music_features(np.zeros(1000, dtype=np.float32), sr=22000, fps=30)


def tang_audio(name: str) -> Path:
    return require(f"dance_tang2018/{name}.mp3")


def test_real_tang_mp3_excerpt_at_25_fps() -> None:
    path = tang_audio("DANCE_C_1")  # a cha-cha, about 125 BPM
    features = music_features(path, offset=30.0, duration=20.0)
    assert features.shape == (501, N_FEATURES) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert features[:, CHROMA].max() == pytest.approx(1.0)
    spacing = np.median(np.diff(beat_frames(features)))
    assert 10 <= spacing <= 14  # 107..150 BPM at 25 fps


def test_tang_audio_shorter_than_its_motion_is_padded(caplog: pytest.LogCaptureFixture) -> None:
    # DANCE_T_1: 5,260 motion frames (210.4 s), 208.38 s of audio; the last 260 frames from
    # 200 s on have 210 frames of music
    path = tang_audio("DANCE_T_1")
    with caplog.at_level(logging.WARNING, logger="fugato.audio.features"):
        features = music_features(path, offset=200.0, n_frames=260)
    assert features.shape == (260, N_FEATURES)
    assert "DANCE_T_1.mp3" in caplog.text and "padded 50 of 260 frames" in caplog.text
    assert not features[210:, BEAT].any()
