"""What the studio sends back for a melody: its notes for the piano roll, and its files (WAV by
fugato's synthesizer, MIDI) in the session's file store."""

from __future__ import annotations

from typing import Any

from fugato.music.melody import TPQ, Melody
from fugato.paths import safe_stem
from fugato.studio.store import FileStore

WAV = "audio/wav"
MIDI = "audio/midi"
MUSICXML = "application/vnd.recordare.musicxml+xml"


def notes(melody: Melody) -> list[list[float]]:
    """[[MIDI pitch, onset, duration], ...], times in quarter notes."""
    return [[int(p), o / TPQ, d / TPQ] for p, o, d in
            zip(melody.pitches.tolist(), melody.onsets.tolist(), melody.durations.tolist(),
                strict=True)]


def seconds(melody: Melody) -> float:
    return float(melody.end) / TPQ * 60.0 / melody.tempo if len(melody) else 0.0


def write_wav(store: FileStore, session: str, melody: Melody, stem: str) -> str:
    from fugato.audio.synth import write_wav as synthesize

    return store.add(session, f"{stem}.wav", WAV, lambda path: synthesize(melody, path))


def write_midi(store: FileStore, session: str, melody: Melody, stem: str) -> str:
    from fugato.music.io import write_midi as write

    return store.add(session, f"{stem}.mid", MIDI, lambda path: write(melody, path))


def write_musicxml(store: FileStore, session: str, melody: Melody, stem: str) -> str:
    from fugato.music.io import write_musicxml as write

    return store.add(session, f"{stem}.musicxml", MUSICXML, lambda path: write(melody, path))


def piece(store: FileStore, session: str, melody: Melody, **extra: Any) -> dict[str, Any]:
    """A melody as the page shows it: title, notes, length, and the ids of its WAV and MIDI."""
    stem = safe_stem(melody.title or "fugato")
    return {"title": melody.title, "notes": notes(melody), "tempo": melody.tempo,
            "seconds": seconds(melody), "wav": write_wav(store, session, melody, stem),
            "midi": write_midi(store, session, melody, stem), **extra}

