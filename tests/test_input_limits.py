"""Tiny files that declare huge things are refused before anything is allocated for them
(issue 29, section 4): by the music, audio and motion readers, in a `folder:` corpus build, by
`fugato separate`, and by the studio (a one-line 400, and the server keeps serving).

Each hostile file is generated here (tests/hostile_files.py), a few hundred KB at most.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hostile_files import (
    HOSTILE,
    abc_long_note,
    flac_silence,
    midi_far_note,
    midi_gap,
    musicxml,
    musicxml_long_note,
    mxl_bomb,
    wav_at,
)

from fugato.errors import BadInputError, FugatoError
from fugato.limits import (
    MAX_INFLATED_BYTES,
    MAX_NOTES,
    MAX_SECONDS,
    MAX_TUNE_QUARTERS,
    MOTION_FPS,
    SAMPLE_RATES,
)
from fugato.music.melody import TPQ, Melody, TimeSignature

QUARTERS = f"at most {MAX_TUNE_QUARTERS:,} quarter notes"
INFLATED = f"at most {MAX_INFLATED_BYTES // 2**20} MiB"
RATES = f"outside {SAMPLE_RATES[0]:,}..{SAMPLE_RATES[1]:,} Hz"
SECONDS = f"at most {MAX_SECONDS:,.0f} seconds"
QUICK = 5.0
"""Seconds a refusal may take on a loaded 2-core machine (it takes milliseconds)."""


def refused(read: Callable[[Path], object], path: Path, limit: str,
            error: type[Exception] = BadInputError) -> str:
    """Read `path`, expecting a quick one-line `error` naming the file and `limit`."""
    start = time.perf_counter()
    with pytest.raises(error) as info:
        read(path)
    message = str(info.value)
    assert path.name in message and limit in message, message
    assert "\n" not in message
    assert time.perf_counter() - start < QUICK
    return message


# -- music files -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "limit"), [
    pytest.param(abc_long_note, QUARTERS, id="abc note of 999999999 eighths"),
    pytest.param(midi_far_note, QUARTERS, id="midi note 0x0FFFFFFF ticks later"),
    pytest.param(midi_gap, QUARTERS, id="midi gap of 100,000 quarters"),
    pytest.param(musicxml_long_note, QUARTERS, id="musicxml note of 2e9 quarters"),
    pytest.param(mxl_bomb, INFLATED, id="mxl inflating to 300 MiB"),
    pytest.param(lambda folder: mxl_bomb(folder, lying=True), "score.xml cannot be inflated",
                 id="mxl lying about its size"),
])
def test_a_tiny_music_file_declaring_a_huge_tune_is_refused(
        tmp_path: Path, make: Callable[[Path], Path], limit: str) -> None:
    from fugato.music.io import read_file

    path = make(tmp_path)
    assert path.stat().st_size < 2**20
    refused(read_file, path, limit)


def _many_notes(folder: Path, suffix: str) -> Path:
    """A tune of `MAX_NOTES` + 1 notes: ABC letters or MusicXML <note/> elements."""
    path = folder / f"many{suffix}"
    notes = MAX_NOTES + 1
    path.write_text(f"X:1\nT:many\nL:1/16\nK:C\n{'C' * notes}|\n" if suffix == ".abc"
                    else musicxml("<note/>" * notes))
    return path


@pytest.mark.parametrize("suffix", [".abc", ".musicxml"])
def test_a_score_of_too_many_notes_is_refused_before_music21_parses_it(tmp_path: Path,
                                                                        suffix: str) -> None:
    from fugato.music.io import read_file

    refused(read_file, _many_notes(tmp_path, suffix), f"at most {MAX_NOTES:,} notes")


def test_the_span_counts_bars_of_every_time_signature(tmp_path: Path) -> None:
    from fugato.limits import MAX_TUNE_BARS, check_tune, count_bars

    signatures = [TimeSignature(0, 4, 4), TimeSignature(4 * TPQ, 3, 4)]
    melody = Melody([60], [0], [13 * TPQ], time_signatures=signatures, pickup=TPQ)
    assert count_bars(melody.end, signatures, TPQ) == len(melody.bar_starts())
    sixteenths = [TimeSignature(0, 1, 16)]  # 4 bars a quarter: 4,000 quarters are 16,000 bars
    with pytest.raises(BadInputError, match=f"at most {MAX_TUNE_BARS:,} bars"):
        check_tune("tiny-bars.mid", 4000 * TPQ, 1, sixteenths)
    with pytest.raises(BadInputError, match="time signature 1/8192"):
        check_tune("no-bar.mid", TPQ, 1, [TimeSignature(0, 1, 8192)])


def test_a_folder_corpus_skips_each_hostile_file_with_its_limit(tmp_path: Path) -> None:
    from fugato.music.corpora import load_corpus

    folder = tmp_path / "mixed"
    folder.mkdir()
    for make in (abc_long_note, midi_far_note, midi_gap, musicxml_long_note, mxl_bomb):
        make(folder)
    (folder / "ok.abc").write_text("X:1\nT:ok\nM:4/4\nL:1/8\nK:G\nGABc dcBA|G8|\n")
    start = time.perf_counter()
    corpus = load_corpus(f"folder:{folder}", workers=1, progress=False)
    assert time.perf_counter() - start < 4 * QUICK
    assert [m.source for m in corpus] == ["ok.abc#X1"]
    reasons = dict(corpus.skipped)
    assert sorted(reasons) == ["bomb.mxl", "far.mid", "gap100000.mid", "long.abc#X1",
                               "long.musicxml"]
    assert INFLATED in reasons.pop("bomb.mxl")
    assert all(QUARTERS in reason for reason in reasons.values()), reasons


# -- audio -----------------------------------------------------------------------------------------
AUDIO = [pytest.param(lambda folder: wav_at(folder, 100), RATES, id="wav at 100 Hz"),
         pytest.param(lambda folder: wav_at(folder, 1), RATES, id="wav at 1 Hz"),
         pytest.param(flac_silence, SECONDS, id="3-hour silent flac")]


@pytest.mark.parametrize(("make", "limit"), AUDIO)
def test_audio_declaring_a_sample_rate_or_duration_past_the_limits_is_refused(
        tmp_path: Path, make: Callable[[Path], Path], limit: str) -> None:
    from fugato.audio.features import load_audio
    from fugato.audio.wav import read_wav

    path = make(tmp_path)
    assert path.stat().st_size < 2**20
    refused(read_wav, path, limit)  # fugato separate, the studio's Separate view
    refused(load_audio, path, limit)  # fugato dance choreograph


def test_an_excerpt_of_a_long_file_is_within_the_limits(tmp_path: Path) -> None:
    from fugato.audio.wav import audio_info

    path = flac_silence(tmp_path)
    assert audio_info(path, offset=3600.0, duration=60.0).samplerate == 8000
    with pytest.raises(BadInputError, match=SECONDS):
        audio_info(path, offset=3600.0)


def test_fugato_separate_exits_2_with_one_line_for_a_1_hz_wav(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fugato.cli import main

    path = wav_at(tmp_path, 1)
    code = main(["separate", "factorgan-separation", "--input", str(path), "--out",
                 str(tmp_path / "out"), "--quiet", "--device", "cpu"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error
    assert "rate1.wav" in error and RATES in error
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# -- motion (fugato dance compose) -----------------------------------------------------------------
def _bvh(folder: Path, frames: int, frame_time: str) -> Path:
    """A BVH of `frames` still frames, `frame_time` seconds apart."""
    from fugato.motion import Motion, write_bvh

    path = folder / "slow.bvh"
    write_bvh(path, Motion(np.zeros((frames, 72)), np.zeros((frames, 3)), 25.0, name="slow"))
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Frame Time:"))
    lines[at] = f"Frame Time: {frame_time}"
    path.write_text("\n".join(lines) + "\n")
    return path


def _npz_bomb(folder: Path) -> Path:
    """A dance .npz whose poses inflate to 110 MiB of zeros (about 110 KB on disk)."""
    path = folder / "bomb.npz"
    frames = 200_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, width in (("smpl_poses", 72), ("smpl_trans", 3)):
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(
                    member, {"descr": "<f8", "fortran_order": False, "shape": (frames, width)})
                for _ in range(width * frames * 8 // 2**20):
                    member.write(bytes(2**20))
                member.write(bytes(width * frames * 8 % 2**20))
    return path


@pytest.mark.parametrize(("make", "limit"), [
    pytest.param(lambda folder: _bvh(folder, 3, "1000000"), "fps is outside",
                 id="bvh of a frame every 11 days"),
    pytest.param(lambda folder: _bvh(folder, 700, "1"), SECONDS, id="bvh of 700 seconds"),
    pytest.param(_npz_bomb, INFLATED, id="npz inflating to 110 MiB"),
])
def test_a_motion_declaring_a_frame_rate_or_size_past_the_limits_is_refused(
        tmp_path: Path, make: Callable[[Path], Path], limit: str) -> None:
    from fugato.models.dualdance.tools import motion_to_dance

    path = make(tmp_path)
    assert path.stat().st_size < 2**20
    refused(motion_to_dance, path, limit)


def test_a_tang_npz_declaring_a_frame_rate_past_the_limits_is_refused(tmp_path: Path) -> None:
    from fugato.motion import load_tang

    path = tmp_path / "DANCE_X_1.npz"
    np.savez(path, smpl_poses=np.zeros((3, 72)), smpl_trans=np.zeros((3, 3)), fps=1e-6)
    refused(load_tang, path, f"outside {MOTION_FPS[0]:g}..{MOTION_FPS[1]:,.0f} fps")


# -- the studio's tune loading path ----------------------------------------------------------------
@pytest.fixture(scope="module")
def folk() -> Any:
    from fugato.pretrained import resolve_run
    from fugato.train.run import load_run

    return load_run(resolve_run("arvae-folk"), device="cpu").task


def _unused_encoder(*args: object) -> None:
    raise AssertionError("the model encoded bars of a tune the studio refuses")


def read_tune(task: Any) -> Callable[[Path], object]:
    """The studio's reading of an uploaded tune into the bars `task` encodes."""
    from fugato.studio import views

    return lambda path: views.read_tune(task, path, path.name)


def test_the_bar_limit_is_checked_before_the_model_encodes_a_bar(
        tmp_path: Path, folk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = midi_gap(tmp_path, 7_000)  # within the readers' span: 1,751 bars, all rest but two
    assert path.stat().st_size == 43
    monkeypatch.setattr(folk, "encode", _unused_encoder)
    refused(read_tune(folk), path, "the studio holds at most 256", FugatoError)


def _midi_of(pitches: list[int], path: Path) -> Path:
    from fugato.music.io import write_midi

    write_midi(Melody(pitches, [i * TPQ for i in range(len(pitches))], [TPQ] * len(pitches),
                      time_signatures=[TimeSignature(0, 4, 4)]), path)
    return path


def test_a_pitch_the_model_cannot_hold_costs_its_bar_not_the_tune(tmp_path: Path,
                                                                  folk: Any) -> None:
    tune = [67, 69, 71, 72] * 4
    tune[5] = 127  # in bar 2; no octave takes it into the model's range
    bars = read_tune(folk)(_midi_of(tune, tmp_path / "high.mid"))
    assert len(bars) == 3  # type: ignore[arg-type]
    low = _midi_of([2, 4, 5, 7] * 2, tmp_path / "low.mid")
    message = refused(read_tune(folk), low, "2 bars with a pitch outside", FugatoError)
    assert "[0, 127]" not in message


# -- the studio over HTTP --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from studio_server import running_studio

    root = tmp_path_factory.mktemp("studio")
    with running_studio([], root) as url, httpx.Client(base_url=url, timeout=120) as client:
        sid = client.post("/api/sessions").json()["session"]  # load both models' views once
        tune = client.post(f"/api/sessions/{sid}/tune/upload", params={"filename": "ok.mid"},
                           content=_midi_of([67, 69, 71, 72], root / "ok.mid").read_bytes())
        mix = client.post(f"/api/sessions/{sid}/separate", params={"filename": "ok.wav"},
                          content=wav_at(root, 22_050, 2_205).read_bytes())
        assert tune.status_code == 200 and mix.status_code == 200, (tune.text, mix.text)
        yield url


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_studio_answers_a_hostile_upload_with_a_one_line_400_and_keeps_serving(
        studio: str, tmp_path: Path, name: str) -> None:
    make, view = HOSTILE[name]
    path = make(tmp_path)
    shown = f"my {path.name}"
    with httpx.Client(base_url=studio, timeout=60) as client:
        sid = client.post("/api/sessions").json()["session"]
        start = time.perf_counter()
        response = client.post(f"/api/sessions/{sid}/{view}", params={"filename": shown},
                               content=path.read_bytes())
        assert response.status_code == 400, response.text
        assert time.perf_counter() - start < QUICK
        message = response.json()["error"]
        assert message.startswith(shown) and "\n" not in message, message
        assert any(limit in message for limit in (QUARTERS, INFLATED, RATES, SECONDS,
                                                  "cannot be inflated")), message
        tune = [67, 69, 71, 72] * 4
        ok = client.post(f"/api/sessions/{sid}/tune/upload", params={"filename": "ok.mid"},
                         content=_midi_of(tune, tmp_path / "ok.mid").read_bytes())
        assert ok.status_code == 200 and len(ok.json()["bars"]) == 4
