"""Reading and writing music files: ABC, MusicXML, MIDI; the synthesizer."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fugato.errors import BadInputError
from fugato.music import (
    TPQ,
    Melody,
    Note,
    TimeSignature,
    abc_tune_headers,
    read_abc_tunes,
    read_file,
    write_midi,
    write_musicxml,
)
from fugato.music.io import key_name, key_signature, origin_region, split_abc_tunes

ESSEN = Path(importlib.util.find_spec("music21").submodule_search_locations[0]) \
    / "corpus" / "essenFolksong"

TUNE = """X:7
T:Test tune
O:Europa, Mitteleuropa, Deutschland (BRD), Hessen
N:K0007
M:3/4
L:1/8
K:G
D | G2 {A}B2 d2- | d2 [Bd]2 (3cBA | G6 |]
"""


def q(x: str | int) -> int:
    """Quarter notes -> ticks."""
    return int(Fraction(x) * TPQ)


def tricky_melody() -> Melody:
    """A pickup, a triplet, a tie over the bar line, a rest, a meter change, a minor key."""
    notes = [
        Note(62, Fraction(0), Fraction(1)),  # pickup: one quarter in 3/4
        Note(67, Fraction(1), Fraction(1, 3)), Note(69, Fraction(4, 3), Fraction(1, 3)),
        Note(71, Fraction(5, 3), Fraction(1, 3)),
        Note(72, Fraction(2), Fraction(3)),  # tied over the bar line at 4
        Note(74, Fraction(6), Fraction(1, 2)),  # then a rest of 1/2
        Note(76, Fraction(7), Fraction(3, 2)),  # 2/4 from tick 7 q
    ]
    return Melody.from_notes(
        notes, time_signatures=[TimeSignature(0, 3, 4), TimeSignature(q(7), 2, 4)],
        pickup=q(1), key="e minor", tempo=96.0, title="Tricky")


# -- ABC ------------------------------------------------------------------------------------------
def test_abc_tune_notes_ties_grace_chords_pickup():
    [(source, melody)] = read_abc_tunes(TUNE, "mine.abc")
    assert source == "mine.abc#X7"
    assert isinstance(melody, Melody)
    # D (pickup) G B d~d (tied, merged) [Bd]->d (top) c B A (triplet) G; grace A dropped
    assert melody.pitches.tolist() == [62, 67, 71, 74, 74, 72, 71, 69, 67]
    assert melody.onsets.tolist() == [0, q("1/2"), q("3/2"), q("5/2"), q("9/2"), q("11/2"),
                                      q("35/6"), q("37/6"), q("13/2")]
    assert melody.durations[3] == q(2)  # d2-|d2 merged
    assert melody.pickup == q("1/2")
    assert melody.time_signatures == [TimeSignature(0, 3, 4)]
    assert melody.key == "G major"
    assert melody.tempo == 120.0
    assert melody.title == "Test tune"
    assert melody.metadata["reduced_from_polyphony"] is True
    assert melody.metadata["id"] == "K0007"
    assert melody.metadata["region"] == "Deutschland"
    assert melody.bar_starts()[:2].tolist() == [q("1/2"), q("7/2")]


def test_common_and_cut_time_are_4_4_and_2_2():
    results = read_abc_tunes("X:1\nM:C\nL:1/4\nK:C\nCDEF|\nX:2\nM:C|\nL:1/4\nK:Am\nABcd|\n",
                             "meters.abc")
    (_, common), (_, cut) = results
    assert common.time_signatures == [TimeSignature(0, 4, 4)]
    assert cut.time_signatures == [TimeSignature(0, 2, 2)]
    assert cut.key == "a minor"


def test_essen_file_headers_and_tunes():
    text = (ESSEN / "test1.abc").read_text()
    headers = abc_tune_headers(text)
    assert len(headers) == len(split_abc_tunes(text)) == 20
    assert headers[0]["X"] == "1" and headers[0]["O"].endswith("Deutschland")
    results = read_abc_tunes(text, "essenFolksong/test1.abc")
    assert [s for s, _ in results][:2] == ["essenFolksong/test1.abc#X1",
                                           "essenFolksong/test1.abc#X2"]
    melodies = [m for _, m in results if isinstance(m, Melody)]
    assert len(melodies) == 20
    first = melodies[0]
    assert first.title == "Ich hab die Nacht geträumet"  # code page 437 umlaut repaired
    assert first.time_signatures == [TimeSignature(0, 6, 8)] and first.pickup == q("1/2")
    assert first.key == "E major"


def test_a_bad_tune_is_reported_not_raised():
    text = TUNE + "\nX:8\nT:no notes\nM:2/4\nK:C\nz2|\n\nX:9\nT:ok\nM:2/4\nL:1/4\nK:C\nCD|\n"
    results = read_abc_tunes(text, "mixed.abc")
    assert [type(r).__name__ for _, r in results] == ["Melody", "BadInputError", "Melody"]
    assert "no notes" in results[1][1].reason


def test_origin_region():
    assert origin_region("Europa, Mitteleuropa, Deutschland") == "Deutschland"
    assert origin_region("Luxemburg") == "Luxemburg"
    assert origin_region("Asien, Ostasien, China, Jiangsu") == "China"
    assert origin_region("Yunnan, Menghai") == "China"


@pytest.mark.parametrize("key", ["G major", "e minor", "Bb major", "f# minor", "C major",
                                 "Eb major", "c minor"])
def test_key_signature_round_trip(key):
    sharps, minor = key_signature(key)
    assert key_name(sharps, minor) == key


# -- MIDI and MusicXML round trips -----------------------------------------------------------------
def test_midi_round_trip_is_exact(tmp_path):
    melody = tricky_melody()
    path = tmp_path / "tricky.mid"
    write_midi(melody, path)
    [back] = read_file(path)
    assert back == melody
    assert back.time_signatures == melody.time_signatures
    assert back.key == "e minor"
    assert back.tempo == pytest.approx(96.0, abs=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["tricky.mid"]  # no temp file left


def test_midi_of_several_melodies_concatenates_with_a_bar_of_rest(tmp_path):
    a = Melody([60, 62], [0, q(1)], [q(1), q(1)], time_signatures=[TimeSignature(0, 4, 4)])
    b = Melody([64], [0], [q(2)], time_signatures=[TimeSignature(0, 3, 4)])
    write_midi([a, b], tmp_path / "two.mid", program=40)
    [back] = read_file(tmp_path / "two.mid")
    # a ends at 2 quarters -> next bar line at 4, plus one 4/4 bar of rest -> b at 8 quarters
    assert back.onsets.tolist() == [0, q(1), q(8)]
    assert back.time_signatures == [TimeSignature(0, 4, 4), TimeSignature(q(8), 3, 4)]


def test_midi_polyphony_is_reduced_to_the_top_line(tmp_path):
    import symusic

    score = symusic.Score(480)
    for pitches in ([60, 62, 64], [48, 50, 52]):  # melody track and bass track
        track = symusic.Track("t", 0, False)
        for i, p in enumerate(pitches):
            track.notes.append(symusic.Note(i * 480, 480, p, 80))
        score.tracks.append(track)
    drums = symusic.Track("drums", 0, True)
    drums.notes.append(symusic.Note(0, 480, 90, 80))
    score.tracks.append(drums)
    score.dump_midi(str(tmp_path / "poly.mid"))
    [melody] = read_file(tmp_path / "poly.mid")
    assert melody.pitches.tolist() == [60, 62, 64]
    assert melody.onsets.tolist() == [0, TPQ, 2 * TPQ]
    assert melody.metadata["reduced_from_polyphony"] is True


def test_musicxml_round_trip_is_exact(tmp_path):
    melody = tricky_melody()
    for name in ("tricky.musicxml", "tricky.mxl"):
        write_musicxml(melody, tmp_path / name)
        [back] = read_file(tmp_path / name)
        assert back == melody
        assert back.time_signatures == melody.time_signatures
        assert back.pickup == melody.pickup
        assert back.key == "e minor"
        assert back.tempo == 96.0
        assert back.title == "Tricky"


def test_musicxml_quantises_only_what_notation_cannot_express(tmp_path):
    quintuplets = Melody([60, 62, 64, 65, 67, 69], [0, 192, 384, 576, 768, 960],
                         [192] * 5 + [600])  # 5/8 of a quarter: a tied eighth + 32nd
    write_musicxml(quintuplets, tmp_path / "q.musicxml")
    assert read_file(tmp_path / "q.musicxml")[0] == quintuplets
    performed = Melody([60, 62], [0, 137], [137, 823])  # 137 ticks: no notation for that
    write_musicxml(performed, tmp_path / "p.musicxml")
    [back] = read_file(tmp_path / "p.musicxml")
    assert back.onsets.tolist() == [0, 140] and back.durations.tolist() == [140, 820]


def test_musicxml_chords_give_their_top_line(tmp_path):
    from music21 import chord, note, stream

    part = stream.Part([chord.Chord(["C4", "E4", "G4"]), chord.Chord(["D4", "F4", "A4"]),
                        note.Note("B4", quarterLength=2)])
    score = stream.Score([part, stream.Part([note.Note("C3", quarterLength=4)])])
    score.write("musicxml", fp=tmp_path / "chords.musicxml")
    [melody] = read_file(tmp_path / "chords.musicxml")
    assert melody.pitches.tolist() == [67, 69, 71]
    assert melody.metadata["reduced_from_polyphony"] is True
    assert melody.metadata["parts"] == 2


# -- bad input ------------------------------------------------------------------------------------
def _bad_files(folder: Path) -> dict[str, str]:
    """name -> a word the reason must contain."""
    (folder / "empty.mid").write_bytes(b"")
    melody = Melody([60, 62, 64], [0, TPQ, 2 * TPQ], [TPQ] * 3)
    write_midi(melody, folder / "whole.mid")
    data = (folder / "whole.mid").read_bytes()
    (folder / "whole.mid").unlink()
    (folder / "truncated.mid").write_bytes(data[: len(data) // 2])
    (folder / "garbage.abc").write_text("this is { not ] music at all\n")
    (folder / "binary.abc").write_bytes(bytes(range(256)) * 4)
    (folder / "empty.musicxml").write_text("")
    (folder / "broken.xml").write_text("<score-partwise><part id='P1'><measure")
    (folder / "notes.txt").write_text("hello")
    return {"empty.mid": "empty", "truncated.mid": "MIDI", "garbage.abc": "ABC",
            "binary.abc": "binary", "empty.musicxml": "empty", "broken.xml": "music21",
            "notes.txt": "unknown", "missing.mid": "no such file"}


def test_bad_files_raise_one_line_bad_input_errors(tmp_path):
    for name, word in _bad_files(tmp_path).items():
        with pytest.raises(BadInputError) as caught:
            read_file(tmp_path / name)
        message = str(caught.value)
        assert name in message and word in message, message
        assert "\n" not in message


# -- synthesizer ----------------------------------------------------------------------------------
def test_render_and_write_wav(tmp_path):
    from scipy.io import wavfile

    from fugato.audio.synth import TIMBRES, render, write_wav

    melody = Melody([69, 81], [0, TPQ], [TPQ, TPQ], tempo=60.0)  # one second per note
    for program in TIMBRES:
        audio = render(melody, sample_rate=8000, program=program)
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert 16000 <= len(audio) < 16000 + 8000 and np.abs(audio).max() <= 1.0
    sine = render(melody, sample_rate=8000, program="sine")[2000:6000]
    spectrum = np.abs(np.fft.rfft(sine))
    assert np.fft.rfftfreq(len(sine), 1 / 8000)[spectrum.argmax()] == pytest.approx(440, abs=3)
    write_wav(melody, tmp_path / "a.wav", sample_rate=8000)
    rate, pcm = wavfile.read(tmp_path / "a.wav")
    assert rate == 8000 and pcm.dtype == np.int16 and len(pcm) > 16000


def test_an_abc_tune_without_a_key_field_reads_in_c_major_with_a_note(tmp_path: Path) -> None:
    from fugato.music.io import read_file

    path = tmp_path / "nokey.abc"
    path.write_text("X:1\nT:No key\nM:4/4\nL:1/4\nF G A B|c4|\n")
    (melody,) = read_file(path)
    assert melody.pitches.tolist() == [65, 67, 69, 71, 72]  # F natural: no sharp from a key
    assert "no K: field" in melody.metadata["note"] and melody.title == "No key"


def test_an_mxl_without_its_container_names_the_reason(tmp_path: Path) -> None:
    import zipfile

    from fugato.music.io import read_file

    path = tmp_path / "broken.mxl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("score.xml", "<score-partwise/>")
    with pytest.raises(BadInputError, match="without META-INF/container.xml"):
        read_file(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(BadInputError, match="not a compressed MusicXML file"):
        read_file(path)
