"""Tiny files that declare huge things (issue 29, section 4), written by the tests themselves.

Each is at most a few hundred KB on disk and, read naively, costs gigabytes or seconds: a note a
billion quarters long, a sample rate of 1 Hz, three hours of silence, an archive inflating to
300 MiB. `HOSTILE` names each with the studio view that reads it; the tests and
benchmarks/studio.py use them.
"""

from __future__ import annotations

import struct
import wave
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _vlq(n: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _midi(events: list[bytes], tpq: int = 1) -> bytes:
    """A one-track MIDI file of raw events (delta + message), `tpq` ticks per quarter."""
    track = b"".join(events) + b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk"
            + struct.pack(">I", len(track)) + track)


def midi_far_note(folder: Path) -> Path:
    """45 bytes: a note, and a second one 0x0FFFFFFF ticks (quarters) later."""
    path = folder / "far.mid"
    path.write_bytes(_midi([b"\x00\x90\x3c\x40", b"\x01\x80\x3c\x00",
                            _vlq(0x0FFFFFFF) + b"\x90\x3e\x40", b"\x01\x80\x3e\x00"]))
    return path


def midi_gap(folder: Path, quarters: int = 100_000) -> Path:
    """44 bytes (for 100,000): a note, a gap of `quarters` quarter notes, a note."""
    path = folder / f"gap{quarters}.mid"
    path.write_bytes(_midi([b"\x00\x90\x3c\x40", b"\x01\x80\x3c\x00",
                            _vlq(quarters) + b"\x90\x3e\x40", b"\x01\x80\x3e\x00"]))
    return path


def abc_long_note(folder: Path) -> Path:
    """An ABC tune whose first note lasts 999999999 eighths."""
    path = folder / "long.abc"
    path.write_text("X:1\nT:long\nM:4/4\nL:1/8\nK:C\nC999999999 D|\n")
    return path


def musicxml(notes: str) -> str:
    """A one-part MusicXML score in 4/4, one division a quarter, holding `notes` in bar 1."""
    return ('<?xml version="1.0"?><score-partwise version="3.1"><part-list><score-part id="P1">'
            '<part-name>x</part-name></score-part></part-list><part id="P1"><measure number="1">'
            '<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type>'
            f'</time></attributes>{notes}</measure></part></score-partwise>')


def musicxml_long_note(folder: Path) -> Path:
    """A MusicXML note of duration 2e9 quarters."""
    path = folder / "long.musicxml"
    path.write_text(musicxml("<note><pitch><step>C</step><octave>4</octave></pitch>"
                             "<duration>2000000000</duration></note>"))
    return path


def mxl_bomb(folder: Path, mib: int = 300, lying: bool = False) -> Path:
    """A compressed MusicXML (zip) of about 300 KB whose score inflates to `mib` MiB of spaces;
    `lying`: its directory says the score holds 1,000 bytes."""
    path = folder / ("lying.mxl" if lying else "bomb.mxl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", '<?xml version="1.0"?><container><rootfiles>'
                         '<rootfile full-path="score.xml"/></rootfiles></container>')
        with archive.open("score.xml", "w") as score:
            score.write(b'<?xml version="1.0"?><score-partwise version="3.1">')
            block = b" " * 2**20
            for _ in range(mib):
                score.write(block)
            score.write(b"</score-partwise>")
    if lying:
        data = bytearray(path.read_bytes())
        entry = data.find(b"PK\x01\x02")  # the central directory's entries
        while data[entry + 46:entry + 46 + 9] != b"score.xml":
            entry = data.find(b"PK\x01\x02", entry + 4)
        struct.pack_into("<I", data, entry + 24, 1000)  # its uncompressed size
        path.write_bytes(bytes(data))
    return path


def wav_at(folder: Path, rate: int, samples: int = 20_000) -> Path:
    """A 16-bit mono WAV of silence at `rate` Hz (at 1 Hz: 20,000 samples are 5.5 hours)."""
    path = folder / f"rate{rate}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * samples)
    return path


def flac_silence(folder: Path, hours: float = 3.0, rate: int = 8_000) -> Path:
    """`hours` of mono silence as FLAC at `rate` Hz: 272 KB for 3 hours at 8 kHz."""
    import soundfile

    path = folder / "silence.flac"
    block = np.zeros(rate * 60, dtype=np.int16)
    with soundfile.SoundFile(path, "w", rate, 1, format="FLAC", subtype="PCM_16") as out:
        for _ in range(int(hours * 60)):
            out.write(block)
    return path


HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "abc note of 999999999 eighths": (abc_long_note, "tune/upload"),
    "midi note 0x0FFFFFFF ticks later": (midi_far_note, "tune/upload"),
    "midi gap of 100,000 quarters": (midi_gap, "tune/upload"),
    "musicxml note of 2e9 quarters": (musicxml_long_note, "tune/upload"),
    "mxl inflating to 300 MiB": (mxl_bomb, "tune/upload"),
    "mxl lying about its size": (lambda folder: mxl_bomb(folder, lying=True), "tune/upload"),
    "wav at 100 Hz": (lambda folder: wav_at(folder, 100), "separate"),
    "wav at 1 Hz": (lambda folder: wav_at(folder, 1), "separate"),
    "3-hour silent flac": (flac_silence, "separate"),
}
"""name -> (writer of the file into a folder, the studio view it is uploaded to)."""
