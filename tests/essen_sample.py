"""A few real Essen tunes parsed straight with music21, for encoding tests.

Kept local to the tests so they do not depend on the corpus loader (fugato.music.io);
the conversion follows the same rules: ties merged, chords reduced to the top note,
grace notes dropped, pickup = length of an incomplete first bar.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from fugato.music.melody import Melody, TimeSignature, skyline, to_ticks


def essen_files() -> list[Path]:
    from music21 import corpus

    return sorted(Path(p) for p in corpus.getComposer("essenFolksong"))


def tune_numbers(path: Path, meter: str | None = None) -> list[int]:
    """X: numbers of the tunes in an ABC file, optionally only those whose first M: is `meter`."""
    numbers = []
    for block in re.split(r"^(?=X:)", path.read_text(encoding="latin-1"), flags=re.M):
        x = re.match(r"X:\s*(\d+)", block)
        if not x:
            continue
        m = re.search(r"^M:\s*(\S+)", block, flags=re.M)
        if meter is None or (m and m.group(1) == meter):
            numbers.append(int(x.group(1)))
    return numbers


def melody_from_score(score, source: str = "") -> Melody:
    from music21 import chord, key, meter, stream

    parts = list(score.parts) if hasattr(score, "parts") and score.parts else [score]
    part = parts[0].stripTies()
    flat = part.flatten()
    pitches, onsets, durations = [], [], []
    for n in flat.notes:
        if n.duration.isGrace or n.quarterLength == 0:
            continue
        pitch = max(p.midi for p in n.pitches) if isinstance(n, chord.Chord) else n.pitch.midi
        pitches.append(pitch)
        onsets.append(to_ticks(Fraction(n.offset)))
        durations.append(to_ticks(Fraction(n.quarterLength)))
    p, o, d, _ = skyline(pitches, onsets, durations)
    signatures = []
    for ts in flat.getElementsByClass(meter.TimeSignature):
        tick = to_ticks(Fraction(ts.offset))
        if signatures and signatures[-1].tick == tick:
            signatures.pop()
        signatures.append(TimeSignature(tick, ts.numerator, ts.denominator))
    measures = list(part.getElementsByClass(stream.Measure))
    pickup = 0
    if measures and signatures:
        first = measures[0]
        length = to_ticks(Fraction(first.duration.quarterLength))
        if 0 < length < signatures[0].bar_ticks and first.paddingLeft:
            pickup = length
    keys = list(flat.getElementsByClass(key.Key))
    return Melody(
        pitches=p, onsets=o, durations=d, time_signatures=signatures, pickup=pickup,
        key=f"{keys[0].tonic.name} {keys[0].mode}" if keys else None,
        title=score.metadata.title if score.metadata else "", source=source,
    )


@lru_cache(maxsize=None)
def essen_melodies(meter: str | None = "4/4", per_file: int = 6, files: int = 3
                   ) -> tuple[Melody, ...]:
    """Up to `per_file` tunes in `meter` from each of the first `files` Essen files."""
    from music21 import corpus

    out = []
    for path in essen_files()[:files]:
        for number in tune_numbers(path, meter)[:per_file]:
            score = corpus.parse(str(path), number=number)
            out.append(melody_from_score(score, source=f"{path.name}#{number}"))
    return tuple(out)
