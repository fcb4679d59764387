"""What an input file may declare, checked before anything is allocated for it.

A few bytes can declare a note a billion quarters long, a sample rate of 1 Hz (resampled to
22.05 kHz, every sample becomes 22,050), three hours of silence, or an archive that inflates
to gigabytes. Every reader of a user's files (studio uploads, `fugato data build folder:`,
`fugato separate`, `fugato dance`) compares what a file declares with the limits here first,
and past one raises `BadInputError` naming the file and the limit: a 400 in the studio, exit 2
on the command line. The limits live here and only here; readers import them.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, AnyStr

from fugato.errors import BadInputError

if TYPE_CHECKING:
    from fugato.music.melody import TimeSignature

MAX_TUNE_QUARTERS = 8_000
"""Longest span of a tune, from 0 to the end of its last note or its last time signature, in
quarter notes: 2,000 bars of 4/4, an hour at 120 quarters a minute."""
MAX_TUNE_BARS = 2_000
"""Most bars in a tune's span under its own time signatures (a 1/16 metre has 4 a quarter)."""
MAX_NOTES = 100_000
"""Most notes in one tune; before a text score is parsed, most note-like tokens in it."""
MAX_INFLATED_BYTES = 64 * 2**20
"""Most bytes the members of an archive (.mxl, .npz: zip files) inflate to, all together."""
SAMPLE_RATES = (8_000, 192_000)
"""Audio sample rates read, in Hz, both ends included."""
MAX_SECONDS = 600.0
"""Longest audio or motion read at once, in seconds: the whole file, or the excerpt asked for."""
MAX_AUDIO_SAMPLES = 48_000 * 2 * 600
"""Most audio samples (frames x channels) read at once: 10 minutes of stereo at 48 kHz, 440 MiB
as float64."""
MOTION_FPS = (1.0, 1000.0)
"""Motion frame rates read, in frames per second, both ends included."""


def _number(value: float) -> str:
    """1234567 -> "1,234,567"; 0.25 -> "0.25"; nan -> "nan"."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.3g}"


def check_range(path: object, what: str, value: float, bounds: tuple[float, float],
                unit: str) -> None:
    """`BadInputError` unless low <= `value` <= high (`bounds`), e.g. a sample rate in Hz."""
    low, high = bounds
    if not low <= value <= high:
        raise BadInputError(path, f"{what} {_number(value)} {unit} is outside "
                                  f"{_number(low)}..{_number(high)} {unit}")


def check_most(path: object, what: str, value: float, limit: float, unit: str) -> None:
    """`BadInputError` when `value` is over `limit` (both in `unit`, e.g. seconds)."""
    if value > limit:
        raise BadInputError(path, f"{what} {_number(value)} {unit}: at most "
                                  f"{_number(limit)} {unit} are read")


# -- tunes --------------------------------------------------------------------------------------
def count_bars(end: int, signatures: Sequence[TimeSignature], pickup: int = 0) -> int:
    """Bars from `pickup` to `end` (ticks) under `signatures`, counted the way
    `Melody.bar_starts` lays them out, without allocating one entry per bar."""
    count, position = 0, pickup
    for i, ts in enumerate(signatures):
        stop = signatures[i + 1].tick if i + 1 < len(signatures) else max(end, 1)
        position = max(position, ts.tick)
        if position < stop:
            bars = -(-(stop - position) // ts.bar_ticks)
            count += bars
            position += bars * ts.bar_ticks
    return count


def check_tune(path: object, end: int, notes: int, signatures: Sequence[TimeSignature],
               pickup: int = 0) -> None:
    """`BadInputError` for a tune past `MAX_NOTES` notes, `MAX_TUNE_QUARTERS` quarters or
    `MAX_TUNE_BARS` bars: `end` is the end of its last note in ticks (`TPQ` a quarter),
    `signatures` its time signatures (4/4 when empty) with their ticks, `pickup` in ticks.
    Imports `fugato.music.melody` when called (not at import: `fugato.music` imports this)."""
    from fugato.music.melody import TPQ

    check_most(path, "a tune of", notes, MAX_NOTES, "notes")
    for ts in signatures:
        if ts.bar_ticks <= 0:
            raise BadInputError(path, f"time signature {ts}: a bar must last at least one tick")
    last = max([end, *(ts.tick for ts in signatures)])
    check_most(path, "a tune spanning", round(last / TPQ), MAX_TUNE_QUARTERS, "quarter notes")
    bars = count_bars(end, signatures or _four_four(), pickup)
    check_most(path, "a tune spanning", bars, MAX_TUNE_BARS, "bars")


def _four_four() -> list[TimeSignature]:
    from fugato.music.melody import TimeSignature

    return [TimeSignature(0, 4, 4)]


def check_notes_in_text(path: object, text: AnyStr, pattern: AnyStr) -> None:
    """`BadInputError` when a score's text has more than `MAX_NOTES` matches of `pattern` (a
    regular expression for a note token), counted before the score is parsed."""
    count = sum(1 for _ in re.finditer(pattern, text))
    check_most(path, "a score of", count, MAX_NOTES, "notes")


# -- archives -----------------------------------------------------------------------------------
def check_archive(archive: zipfile.ZipFile, path: object) -> None:
    """`BadInputError` when the members of a zip archive declare more than
    `MAX_INFLATED_BYTES` bytes inflated, all together (read from its directory, nothing
    inflated)."""
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_INFLATED_BYTES:
        raise BadInputError(path, f"inflates to {total / 2**20:,.0f} MiB: at most "
                                  f"{MAX_INFLATED_BYTES / 2**20:,.0f} MiB are read from an "
                                  "archive")


def read_member(archive: zipfile.ZipFile, name: str, path: object) -> bytes:
    """The bytes of member `name`, read with a cap of `MAX_INFLATED_BYTES`: a member whose
    header understates what it inflates to is refused, never inflated past the cap. Read a
    MiB at a time: `zipfile` inflates as much as one `read` asks for before it cuts the result
    to the size the header declares."""
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(name) as member:
            while size <= MAX_INFLATED_BYTES and (chunk := member.read(2**20)):
                chunks.append(chunk)
                size += len(chunk)
    except KeyError:
        raise BadInputError(path, f"no {name} in the archive") from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise BadInputError(path, f"{name} cannot be inflated ({str(error)[:120]})") from None
    if size > MAX_INFLATED_BYTES:
        raise BadInputError(path, f"{name} inflates past {MAX_INFLATED_BYTES / 2**20:,.0f} "
                                  "MiB, the most read from an archive")
    return b"".join(chunks)
