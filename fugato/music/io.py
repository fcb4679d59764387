"""Reading and writing music files: ABC, MusicXML, Humdrum (music21) and MIDI (symusic).

Every reader returns `Melody` objects: the top line of part 0 (or of all non-drum MIDI tracks),
in exact integer ticks. Anything that cannot be read as music raises `BadInputError` with a
one-line reason; a reader never lets a library traceback through for bad input. What a file
declares (notes, span, inflated size) is checked against `fugato.limits` before anything is
allocated for it, so a tiny file declaring a note a billion quarters long is refused at once.

music21 costs about a second to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np

from fugato.atomic import atomic_path
from fugato.errors import BadInputError, one_line
from fugato.limits import check_archive, check_notes_in_text, check_tune, read_member
from fugato.music.melody import TPQ, Melody, TimeSignature, key_tonic, skyline, to_ticks

ABC_EXTENSIONS = (".abc",)
MUSICXML_EXTENSIONS = (".xml", ".musicxml", ".mxl")
MIDI_EXTENSIONS = (".mid", ".midi")
HUMDRUM_EXTENSIONS = (".krn",)
MUSIC_EXTENSIONS = ABC_EXTENSIONS + MUSICXML_EXTENSIONS + MIDI_EXTENSIONS + HUMDRUM_EXTENSIONS

_MAJOR_BY_SHARPS = {-7: "Cb", -6: "Gb", -5: "Db", -4: "Ab", -3: "Eb", -2: "Bb", -1: "F", 0: "C",
                    1: "G", 2: "D", 3: "A", 4: "E", 5: "B", 6: "F#", 7: "C#"}
_MINOR_BY_SHARPS = {-7: "ab", -6: "eb", -5: "bb", -4: "f", -3: "c", -2: "g", -1: "d", 0: "a",
                    1: "e", 2: "b", 3: "f#", 4: "c#", 5: "g#", 6: "d#", 7: "a#"}


# -- small helpers ------------------------------------------------------------------------------
@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence music21's warnings: it writes them straight to stderr, which would tear
    progress bars apart; what matters about a tune ends up in its skip reason."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _plain_abc_translation() -> Iterator[None]:
    """Skip two notation passes of music21's ABC translation that never change a note.

    `Part.makeBeams` only engraves beams, and `abcFormat.translate.reBar` splits bars that
    overflow their time signature by inventing short signatures (a 1/8 bar, then the old one
    again), deep-copying the part as it goes. Together they cost more than half of the
    translation of an Essen tune; without them the part keeps the meters the ABC declares.
    Not thread-safe: the patches hold for the duration of the block.
    """
    from music21 import abcFormat, stream

    had_own = "makeBeams" in vars(stream.Part)
    saved_beams = vars(stream.Part).get("makeBeams")
    saved_rebar = abcFormat.translate.reBar
    stream.Part.makeBeams = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    abcFormat.translate.reBar = lambda part, *args, **kwargs: part
    try:
        yield
    finally:
        abcFormat.translate.reBar = saved_rebar
        if had_own:
            stream.Part.makeBeams = saved_beams  # type: ignore[method-assign, assignment]
        else:
            del stream.Part.makeBeams


def key_name(sharps: int, minor: bool) -> str:
    """Key from a key signature: 1 sharp, major -> "G major"; minor keys in lower case."""
    sharps = max(-7, min(7, int(sharps)))
    return f"{_MINOR_BY_SHARPS[sharps]} minor" if minor else f"{_MAJOR_BY_SHARPS[sharps]} major"


def key_signature(key: str | None) -> tuple[int, bool] | None:
    """Inverse of `key_name`: "G major" -> (1, False); None when the key is unknown."""
    tonic = key_tonic(key)
    if tonic is None or key is None:
        return None
    minor = "minor" in key.lower()
    major_pc = (tonic + 3) % 12 if minor else tonic
    sharps = (major_pc * 7) % 12  # fifths from C, 0..11
    if sharps > 6 or (sharps == 6 and "b" in key.split()[0][1:].lower()):
        sharps -= 12
    return sharps, minor


# -- music21 -> Melody --------------------------------------------------------------------------
def _m21_key(flat: Any) -> str | None:
    from music21 import key as m21key

    found = flat.getElementsByClass(m21key.KeySignature).first()
    if found is None:
        return None
    if not isinstance(found, m21key.Key):
        found = found.asKey("major")
    tonic = found.tonic.name.replace("-", "b")
    if found.mode == "minor":
        return f"{tonic.lower()} minor"
    return f"{tonic} {found.mode or 'major'}"


def _m21_tempo(flat: Any) -> float:
    from music21 import tempo

    mark = flat.getElementsByClass(tempo.MetronomeMark).first()
    bpm = mark.getQuarterBPM() if mark is not None else None
    return float(bpm) if bpm else 120.0


def _m21_time_signatures(part: Any, flat: Any) -> list[TimeSignature]:
    """Time signatures with their ticks, read measure by measure: music21's ABC re-barring
    puts one TimeSignature object into several measures, and a flattened stream then keeps
    only its last position."""
    from music21 import meter, stream

    found: list[tuple[Fraction, Any]] = []
    measures = part.getElementsByClass(stream.Measure)
    if measures:
        for measure in measures:
            found += [(Fraction(measure.offset) + Fraction(measure.elementOffset(ts)), ts)
                      for ts in measure.getElementsByClass(meter.TimeSignature)]
        found.sort(key=lambda item: item[0])
    else:
        found = [(Fraction(ts.offset), ts) for ts in flat.getElementsByClass(meter.TimeSignature)]
    out: list[TimeSignature] = []
    for offset, ts in found:
        sig = TimeSignature(to_ticks(offset), int(ts.numerator), int(ts.denominator))
        if out and out[-1].tick == sig.tick:
            out[-1] = sig  # several parts or voices restate it: keep one per tick
        elif not out or (out[-1].numerator, out[-1].denominator) != (sig.numerator,
                                                                       sig.denominator):
            out.append(sig)
    return out


def _m21_pickup(part: Any, signatures: list[TimeSignature]) -> int:
    """Ticks of an anacrusis: a first measure shorter than the bar of its time signature."""
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
    if len(measures) < 2 or not signatures or signatures[0].tick != 0:
        return 0
    first = to_ticks(measures[1].offset) - to_ticks(measures[0].offset)
    return first if 0 < first < signatures[0].bar_ticks else 0


def _m21_notes(flat: Any) -> tuple[list[tuple[int, int, int]], bool]:
    """(pitch, onset, duration) in ticks with ties merged and grace notes dropped.

    Chords give their highest note. Ties are merged here rather than with music21's
    `stripTies`, which deep-copies the whole stream and costs more than the parse itself, and
    only between equal pitches: ABC transcribers write `c-A` for a slur, which `stripTies`
    would turn into one long c.
    Returns the notes and whether a chord was reduced.
    """
    notes: list[list[int]] = []
    open_ties: dict[int, int] = {}  # pitch -> index of the note a tie continues
    had_chord = False
    for element in flat.notes:
        if element.duration.isGrace or element.quarterLength <= 0:
            continue
        if element.isChord:
            pitched = [n for n in element.notes if n.pitch is not None]
            if not pitched:
                continue
            had_chord = had_chord or len(pitched) > 1
            top = max(pitched, key=lambda n: n.pitch.midi)
            pitch, tie = top.pitch.midi, top.tie or element.tie
        elif hasattr(element, "pitch"):
            pitch, tie = element.pitch.midi, element.tie
        else:
            continue  # unpitched percussion
        # Ticks of both ends, so that rounding (odd tuplets) never opens gaps or overlaps.
        onset = to_ticks(element.offset)
        duration = to_ticks(Fraction(element.offset) + Fraction(element.quarterLength)) - onset
        kind = tie.type if tie is not None else None
        previous = open_ties.pop(pitch, None)
        if kind in ("stop", "continue") and previous is not None \
                and sum(notes[previous][1:]) == onset:
            notes[previous][2] += duration
            index = previous
        else:
            notes.append([pitch, onset, duration])
            index = len(notes) - 1
        if kind in ("start", "continue"):
            open_ties[pitch] = index
    return [(p, o, d) for p, o, d in notes], had_chord


def melody_from_music21(score_or_part: Any, source: str) -> Melody:
    """The top line of part 0 of a music21 Score (or of a Part / Stream) as a `Melody`.

    Ties are merged, grace notes dropped, chords and overlapping voices reduced to their top
    line (`metadata['reduced_from_polyphony']`); a score of N > 1 parts records `parts` = N.
    Raises `BadInputError` when there is no note, or for a tune past `fugato.limits`
    (checked before any array is made for it).
    """
    from music21 import stream

    metadata: dict[str, Any] = {}
    part = score_or_part
    parts = getattr(score_or_part, "parts", None)
    if isinstance(score_or_part, stream.Score) and parts:
        part = parts[0]
        if len(parts) > 1:
            metadata["parts"] = len(parts)
    flat = part.flatten()
    notes, had_chord = _m21_notes(flat)
    if not notes:
        raise BadInputError(source, "no notes in part 0")
    signatures = _m21_time_signatures(part, flat)
    pickup = _m21_pickup(part, signatures)
    check_tune(source, max(o + d for _, o, d in notes), len(notes), signatures, pickup)
    pitches, onsets, durations, overlapped = skyline(*zip(*notes, strict=True))
    if had_chord or overlapped:
        metadata["reduced_from_polyphony"] = True
    title = ""
    md = getattr(score_or_part, "metadata", None)
    if md is not None:
        title = md.title or md.movementName or ""
    return Melody(
        pitches, onsets, durations,
        time_signatures=signatures,
        pickup=pickup,
        key=_m21_key(flat),
        tempo=_m21_tempo(flat),
        title=title,
        source=source,
        metadata=metadata,
    )


# -- ABC ----------------------------------------------------------------------------------------
_X_LINE = re.compile(r"(?m)^X:")
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
# What in a tune's text is no note: comments, "chord symbols", !decorations!, [K:inline
# fields] and field lines (headers, w: lyrics); of what is left, each note or rest letter
# counts (an upper bound: +decorations+ stay, for +CEG+ is a chord in ABC 1.6).
_ABC_NOT_NOTES = re.compile(r'%[^\n]*|"[^"\n]*"|![^!\n]*!|\[[A-Za-z]:[^\]\n]*\]'
                            r"|^[A-Za-z]:[^\n]*", re.MULTILINE)
_ABC_NOTE = r"[A-Ga-gxz]"
# Header fields kept in Melody.metadata, under readable names.
_ABC_FIELDS = {"O": "origin", "C": "composer", "R": "rhythm", "B": "book", "S": "abc_source",
               "A": "area", "Z": "transcription"}


def split_abc_tunes(text: str) -> list[str]:
    """Split an ABC file into tunes at `X:` lines (cheap: no music parsing).

    Field lines before the first `X:` form the file header; ABC applies them to every tune,
    so they are copied into each tune after its `X:` line. A text without `X:` but with a
    `K:` field is one tune.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _X_LINE.finditer(text)]
    if not starts:
        return [text] if re.search(r"(?m)^K:", text) else []
    header = [line for line in text[: starts[0]].split("\n") if _FIELD.match(line)]
    tunes = []
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        tune = text[begin:end]
        if header:
            first, _, rest = tune.partition("\n")
            tune = "\n".join([first, *header, rest])
        tunes.append(tune)
    return tunes


def _tune_header(tune: str) -> dict[str, str]:
    """Header fields of one tune, up to and including `K:`; repeated fields joined by newlines."""
    fields: dict[str, str] = {}
    for line in tune.split("\n"):  # not splitlines(): EsAC text holds a stray \x85 (NEL)
        match = _FIELD.match(line)
        if not match:
            if line.strip() and not line.startswith("%"):
                break  # music starts (a header without K:)
            continue
        name, value = match.group(1), match.group(2)
        fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        if name == "K":
            break
    return fields


def abc_tune_headers(text: str) -> list[dict[str, str]]:
    """Per tune of an ABC file its header fields (`X`, `T`, `O`, `N`, `M`, `K`, ...) as
    strings, without parsing any music: used to select tunes before the costly parse."""
    return [_tune_header(tune) for tune in split_abc_tunes(text)]


# Leading fields of EsAC origins that name a continent or a part of one, not a country.
_MACRO_REGIONS = {
    "europa", "mitteleuropa", "osteuropa", "suedosteuropa", "nordeuropa", "suedeuropa",
    "westeuropa", "asien", "ostasien", "sdasien", "suedasien", "sdostasien", "suedostasien",
    "vorderer orient", "amerika", "nord - amerika", "sued - amerika", "mittelamerika", "opa",
}
_CHINESE_PROVINCES = {"yunnan", "hunan", "sichuan", "shaanxi", "shanxi", "jiangsu", "shandong"}


def origin_region(origin: str) -> str:
    """The country-level region of an ABC `O:` origin as the Essen collection writes it:
    "Europa, Mitteleuropa, Deutschland (BRD), Hessen" -> "Deutschland"; "Luxemburg" ->
    "Luxemburg"; "Yunnan, Menghai" -> "China". Empty string when unknown."""
    for field in origin.split(","):
        name = re.sub(r"\(.*?\)|\?", "", field).strip()
        if not name or name.lower() in _MACRO_REGIONS:
            continue
        return "China" if name.lower() in _CHINESE_PROVINCES else name
    return ""


def fix_text(text: str) -> str:
    """Repair the C1 control characters some EsAC titles carry: they are Atari ST / code page
    437 letters (0x84 -> a-umlaut, 0x9e -> sharp s) stored as if they were Latin-1."""
    if not any("\x80" <= ch <= "\x9f" for ch in text):
        return text
    return "".join(
        ("\u00df" if ch == "\x9e" else bytes([ord(ch)]).decode("cp437"))
        if "\x80" <= ch <= "\x9f" else ch for ch in text)


def _abc_metadata(fields: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for letter, name in _ABC_FIELDS.items():
        if fields.get(letter):
            meta[name] = fields[letter].split("\n")[0] if letter != "O" else fields[letter]
    if fields.get("N"):
        meta["id"] = fields["N"].split("\n")[0]
    if "origin" in meta:
        meta["region"] = origin_region(meta["origin"])
    if fields.get("X"):
        meta["x"] = fields["X"]
    return meta


def parse_abc_tune(tune: str, source: str) -> Melody:
    """One ABC tune (text from `X:` to the next tune) -> `Melody`, parsed by music21.

    Uses music21's ABC tokenizer and translator directly (what `converter.parse(...,
    format='abc')` does for one tune, minus its format detection) without its beaming and
    re-barring passes (see `_plain_abc_translation`).
    Raises `BadInputError` with the reason when music21 cannot read the tune, or when its text
    holds more notes than `fugato.limits.MAX_NOTES` (counted before music21 parses it).
    """
    from music21 import abcFormat

    check_notes_in_text(source, _ABC_NOT_NOTES.sub("", tune), _ABC_NOTE)
    fields = _tune_header(tune)
    assumed_key = not re.search(r"(?m)^K:", tune)
    if assumed_key:
        tune = _with_key_c(tune)
    elif "K" not in fields:
        raise BadInputError(source, "ABC header ends before its K: (key) field")
    try:
        with quiet(), _plain_abc_translation():
            handler = abcFormat.ABCHandler(abcVersion=(1, 3, 0))
            handler.process(tune)
            score = abcFormat.translate.abcToStreamScore(handler)
            melody = melody_from_music21(score, source)
    except BadInputError:
        raise
    except Exception as error:  # music21 raises many kinds on malformed ABC
        raise BadInputError(source, f"music21 cannot parse the tune: {one_line(error)}"
                            ) from error
    if not melody.title and fields.get("T"):
        melody.title = fields["T"].split("\n")[0]
    melody.title = fix_text(melody.title)
    melody.metadata.update(_abc_metadata(fields))
    if assumed_key:
        melody.metadata["note"] = "no K: field: read in C major, as abc2midi does"
    return melody


def _with_key_c(tune: str) -> str:
    """`tune` with `K:C` after its header (ABC requires a K: field to end the header; readers
    such as abc2midi assume C major without one)."""
    lines = tune.split("\n")
    end = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("%")
                and not _FIELD.match(line)), len(lines))
    return "\n".join([*lines[:end], "K:C", *lines[end:]])


def _abc_tune_ids(tunes: Sequence[str]) -> list[str]:
    """Stable per-file ids: `X12`; repeated X numbers get `X12.2`, `X12.3`; no X: `T1`."""
    ids: list[str] = []
    seen: dict[str, int] = {}
    for i, tune in enumerate(tunes):
        x = _tune_header(tune).get("X", "").strip()
        base = f"X{x}" if x else f"T{i + 1}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}.{seen[base]}")
    return ids


def abc_tunes_with_ids(text: str, source: str) -> list[tuple[str, str]]:
    """(source id like `han1.abc#X12`, tune text) for every tune of an ABC file."""
    tunes = split_abc_tunes(text)
    return [(f"{source}#{tid}", tune) for tid, tune in zip(_abc_tune_ids(tunes), tunes,
                                                            strict=True)]


def read_abc_tunes(text: str, source: str) -> list[tuple[str, Melody | BadInputError]]:
    """Parse every tune of an ABC file.

    Returns (tune id, Melody or the BadInputError saying why it failed) per tune, in file
    order; tune ids are `f"{source}#X{n}"`. A failing tune never stops the others.
    """
    out: list[tuple[str, Melody | BadInputError]] = []
    for tune_id, tune in abc_tunes_with_ids(text, source):
        try:
            out.append((tune_id, parse_abc_tune(tune, tune_id)))
        except BadInputError as error:
            out.append((tune_id, error))
    return out


def _decode_text(data: bytes, path: Path) -> str:
    if not data.strip():
        raise BadInputError(path, "empty file")
    if b"\x00" in data[:4096]:
        raise BadInputError(path, "binary data, not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older ABC collections are Latin-1


def _read_abc(path: Path) -> list[Melody]:
    text = _decode_text(path.read_bytes(), path)
    results = read_abc_tunes(text, path.name)
    if not results:
        raise BadInputError(path, "no ABC tune found (no X: or K: field)")
    melodies = [r for _, r in results if isinstance(r, Melody)]
    if not melodies:
        first = results[0][1]
        reason = first.reason if isinstance(first, BadInputError) else "unknown"
        raise BadInputError(path, f"none of {len(results)} ABC tunes could be read ({reason})")
    return melodies


# -- MusicXML / Humdrum via music21 -------------------------------------------------------------
_XML_NOTE = rb"<note[\s/>]"
_ROOTFILE = re.compile(rb"""<rootfile\b[^>]*?full-path\s*=\s*["']([^"']+)["']""")


def _read_music21_file(path: Path) -> list[Melody]:
    """Part 0 of every score of a MusicXML (plain or `.mxl`) or Humdrum file. MusicXML is
    read by fugato (an `.mxl` inflated with the caps of `fugato.limits`) and its notes
    counted before music21 parses the text."""
    from music21 import converter, stream

    if path.stat().st_size == 0:
        raise BadInputError(path, "empty file")
    data = None
    if path.suffix.lower() in MUSICXML_EXTENSIONS:
        data = _musicxml_text(path)
        check_notes_in_text(path, data, _XML_NOTE)
    try:
        with quiet():
            parsed = converter.parse(path, forceSource=True) if data is None else \
                converter.parseData(data, format="musicxml", forceSource=True)
            scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
            return [melody_from_music21(score, path.name) for score in scores]
    except BadInputError as error:
        raise BadInputError(path, error.reason) from error
    except Exception as error:
        raise BadInputError(path, f"music21 cannot read it: {one_line(error)}") from error


def _musicxml_text(path: Path) -> bytes:
    """The MusicXML bytes of a plain file, or of the score that an `.mxl` archive's
    `META-INF/container.xml` names: `BadInputError` for a file that is no zip archive, lacks
    that file, or inflates past `fugato.limits.MAX_INFLATED_BYTES`."""
    import zipfile

    if path.suffix.lower() != ".mxl":
        return path.read_bytes()
    try:
        with zipfile.ZipFile(path) as archive:
            if "META-INF/container.xml" not in archive.namelist():
                raise BadInputError(path, "compressed MusicXML without META-INF/container.xml "
                                    "(the file naming its score)")
            check_archive(archive, path)
            found = _ROOTFILE.search(read_member(archive, "META-INF/container.xml", path))
            if found is None:
                raise BadInputError(path, "META-INF/container.xml names no score (rootfile)")
            return read_member(archive, found.group(1).decode("utf-8", "replace"), path)
    except (zipfile.BadZipFile, OSError) as error:
        raise BadInputError(path, f"not a compressed MusicXML file (zip): {one_line(error)}"
                            ) from error


# -- MIDI via symusic ---------------------------------------------------------------------------
def _rescale(ticks: np.ndarray | Sequence[int], tpq: int) -> np.ndarray:
    """File ticks -> fugato ticks (`TPQ` per quarter), exact when tpq divides TPQ."""
    ticks = np.asarray(ticks, dtype=np.int64)
    if tpq == TPQ:
        return ticks
    return (ticks * TPQ + tpq // 2) // tpq


def _midi_signatures(score: Any) -> list[TimeSignature]:
    """The time signatures of a symusic score in fugato ticks, one per tick, changes only."""
    signatures: list[TimeSignature] = []
    for ts in score.time_signatures:
        sig = TimeSignature(int(_rescale([ts.time], score.tpq)[0]), ts.numerator, ts.denominator)
        if signatures and signatures[-1].tick == sig.tick:
            signatures[-1] = sig
        elif not signatures or str(signatures[-1]) != str(sig):
            signatures.append(sig)
    return signatures


def _read_midi(path: Path) -> list[Melody]:
    """All non-drum tracks of a MIDI file reduced to their top line (symusic); the note count
    and the span are checked (`fugato.limits.check_tune`) before the notes become a melody."""
    import symusic

    if path.stat().st_size == 0:
        raise BadInputError(path, "empty file")
    try:
        # tick-based (symusic's stubs type the factory's result as a generic placeholder)
        score = cast("symusic.core.ScoreTick", symusic.Score(str(path)))
    except Exception as error:  # symusic raises RuntimeError for malformed MIDI
        raise BadInputError(path, f"not a readable MIDI file: {one_line(error)}") from error
    tracks = [t for t in score.tracks if not t.is_drum and t.note_num() > 0]
    if not tracks:
        raise BadInputError(path, "no (non-drum) notes in the MIDI file")
    arrays = [t.notes.numpy() for t in tracks]
    pitches = np.concatenate([a["pitch"] for a in arrays]).astype(np.int64)
    onsets = _rescale(np.concatenate([a["time"] for a in arrays]), score.tpq)
    ends = _rescale(np.concatenate([a["time"] + a["duration"].astype(np.int64) for a in arrays]),
                    score.tpq)
    signatures = _midi_signatures(score)
    check_tune(path, int(ends.max()), len(pitches), signatures)
    pitches, onsets, durations, poly = skyline(pitches, onsets, ends - onsets)
    if len(pitches) == 0:
        raise BadInputError(path, "all MIDI notes have zero length")
    metadata: dict[str, Any] = {"tracks": len(tracks)}
    if poly:
        metadata["reduced_from_polyphony"] = True
    key = None
    if len(score.key_signatures):
        ks = score.key_signatures[0]
        key = key_name(ks.key, bool(ks.tonality))
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
    title = tracks[0].name or path.stem
    return [Melody(pitches, onsets, durations, time_signatures=signatures, key=key,
                   tempo=round(tempo, 3), title=title, source=path.name, metadata=metadata)]


# -- dispatch -----------------------------------------------------------------------------------
def read_file(path: str | os.PathLike[str]) -> list[Melody]:
    """Read a music file into melodies, chosen by extension.

    `.abc`: every tune that parses (BadInputError if none does); `.xml`/`.musicxml`/`.mxl`
    and `.krn`: part 0 of each score, via music21; `.mid`/`.midi`: all non-drum tracks merged
    and reduced to their top line, via symusic. Any failure raises `BadInputError(path,
    reason)`, and so does a file past a limit of `fugato.limits` (a tune's notes and span in
    quarters and bars, an archive's inflated size), checked before the tune is built.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise BadInputError(path, "no such file")
    if suffix not in MUSIC_EXTENSIONS:
        raise BadInputError(path, f"unknown music file type {suffix!r} "
                                  f"(known: {', '.join(MUSIC_EXTENSIONS)})")
    try:
        if suffix in ABC_EXTENSIONS:
            return _read_abc(path)
        if suffix in MIDI_EXTENSIONS:
            return _read_midi(path)
        return _read_music21_file(path)
    except BadInputError:
        raise
    except (OSError, ValueError) as error:
        raise BadInputError(path, one_line(error)) from error


# -- writing ------------------------------------------------------------------------------------
def _concatenate(melodies: Sequence[Melody]) -> list[tuple[int, Melody]]:
    """(start tick, melody): each starts on the bar line after a bar of rest after the last."""
    placed: list[tuple[int, Melody]] = []
    cursor = 0
    for melody in melodies:
        placed.append((cursor, melody))
        bar = melody.time_signatures[-1].bar_ticks if melody.time_signatures else 4 * TPQ
        end = cursor + max(melody.end, 1)
        cursor = -(-end // bar) * bar + bar  # round up to a bar line, then one bar of rest
    return placed


def write_midi(melodies: Melody | Sequence[Melody], path: str | os.PathLike[str],
               program: int = 0, velocity: int = 90) -> None:
    """Write one or several melodies to a one-track MIDI file (TPQ 960, atomically).

    Several melodies are concatenated on the same track: each starts on the first bar line
    after one full bar of rest following the previous one, with its own tempo, time signature
    and key events. `program` is the General MIDI program (0 = piano).
    """
    import symusic

    if isinstance(melodies, Melody):
        melodies = [melodies]
    # Any: symusic's stubs type its factories' results as generic placeholders
    score: Any = symusic.Score(TPQ)
    track: Any = symusic.Track("melody", int(program), False)
    for start, melody in _concatenate(melodies):
        score.tempos.append(symusic.Tempo(start, float(melody.tempo)))
        for ts in melody.time_signatures or [TimeSignature(0, 4, 4)]:
            score.time_signatures.append(
                symusic.TimeSignature(start + ts.tick, ts.numerator, ts.denominator))
        signature = key_signature(melody.key)
        if signature is not None:
            score.key_signatures.append(
                symusic.KeySignature(start, signature[0], int(signature[1])))
        for pitch, onset, duration in zip(melody.pitches.tolist(), melody.onsets.tolist(),
                                          melody.durations.tolist(), strict=True):
            track.notes.append(symusic.Note(start + onset, duration, pitch, velocity))
    score.tracks.append(track)
    with atomic_path(path) as tmp:
        score.dump_midi(str(tmp))


def _bars(melody: Melody) -> list[tuple[int, int, TimeSignature]]:
    """(start tick, length, signature) of every bar, the pickup bar first when there is one."""
    signatures = melody.time_signatures or [TimeSignature(0, 4, 4)]
    starts = melody.bar_starts().tolist()
    if not starts or starts[0] > 0:
        starts.insert(0, 0)
    bars = []
    for i, start in enumerate(starts):
        sig = [s for s in signatures if s.tick <= start][-1] if start >= signatures[0].tick \
            else signatures[0]
        stop = starts[i + 1] if i + 1 < len(starts) else start + sig.bar_ticks
        bars.append((start, stop - start, sig))
    while bars and bars[-1][0] >= max(melody.end, 1):
        bars.pop()
    return bars


Piece = tuple[int, int, "int | None", str]


def _bar_pieces(melody: Melody) -> Iterator[tuple[int, int, TimeSignature, list[Piece]]]:
    """Per bar: (start, length, signature, pieces); a piece is (offset in the bar, length,
    pitch or None for a rest, tie: "" | "start" | "continue" | "stop"), all in ticks."""
    events = [(to_ticks(e.onset), to_ticks(e.end), e.pitch) for e in melody.with_rests()]
    first = 0
    for start, length, sig in _bars(melody):
        stop = start + length
        while first < len(events) and events[first][1] <= start:
            first += 1
        pieces = []
        for onset, end, pitch in events[first:]:
            if onset >= stop:
                break
            tie = ""
            if pitch is not None and (onset < start or end > stop):
                tie = "continue" if onset < start and end > stop else \
                    "stop" if onset < start else "start"
            pieces.append((max(onset, start) - start, min(end, stop) - max(onset, start),
                           pitch, tie))
        yield start, length, sig, pieces


@functools.lru_cache(maxsize=4096)
def _expressible(ticks: int) -> bool:
    """Whether notation can write this many ticks (notes, dots, tuplets, or a tied sum)."""
    from music21 import duration

    return duration.Duration(Fraction(ticks, TPQ)).type != "inexpressible"


def _notatable(melody: Melody) -> bool:
    return all(_expressible(length) for _, _, _, pieces in _bar_pieces(melody)
               for _, length, _, _ in pieces)


def quantized(melody: Melody, steps_per_quarter: int) -> Melody:
    """Onsets and ends rounded to a grid (`steps_per_quarter` must divide `TPQ`); overlaps
    cut at the next onset, notes that vanish dropped."""
    step = TPQ // steps_per_quarter
    onsets = np.rint(melody.onsets / step).astype(np.int64) * step
    ends = np.rint((melody.onsets + melody.durations) / step).astype(np.int64) * step
    ends[:-1] = np.minimum(ends[:-1], onsets[1:])
    keep = ends > onsets
    pickup = int(round(melody.pickup / step)) * step
    return melody.replace(pitches=melody.pitches[keep], onsets=onsets[keep],
                          durations=(ends - onsets)[keep], pickup=pickup)


def melody_to_music21(melody: Melody) -> Any:
    """A music21 Score of one Part with measures, ties across bar lines and explicit rests."""
    from music21 import key, metadata, meter, note, stream, tempo, tie

    part = stream.Part()
    previous_sig = None
    for number, (_, length, sig, pieces) in enumerate(_bar_pieces(melody)):
        measure = stream.Measure(number=number if melody.pickup else number + 1)
        if number == 0:
            signature = key_signature(melody.key)
            if signature is not None:
                k = key.KeySignature(signature[0])
                measure.insert(0, k.asKey("minor" if signature[1] else "major"))
            measure.insert(0, tempo.MetronomeMark(number=melody.tempo, referent=1.0))
        if sig != previous_sig:
            measure.insert(0, meter.TimeSignature(f"{sig.numerator}/{sig.denominator}"))
            previous_sig = sig
        for offset, ticks, pitch, tie_kind in pieces:
            ql = Fraction(ticks, TPQ)
            item = note.Rest(quarterLength=ql) if pitch is None \
                else note.Note(pitch, quarterLength=ql)
            if tie_kind:
                item.tie = tie.Tie(tie_kind)
            measure.insert(Fraction(offset, TPQ), item)
        if number == 0 and melody.pickup and length < sig.bar_ticks:
            measure.paddingLeft = float(Fraction(sig.bar_ticks - length, TPQ))
        part.append(measure)
    score = stream.Score()
    score.insert(0, part)
    if melody.title:
        score.insert(0, metadata.Metadata(title=melody.title))
    return score


def write_musicxml(melody: Melody, path: str | os.PathLike[str], grid: int = 48) -> None:
    """Write one melody as MusicXML (`.mxl` compressed, else plain), atomically, via music21.

    Exact when notation can express every note and rest (sums of notes, dots and tuplets:
    anything on a 16th, triplet or quintuplet grid). Otherwise, e.g. for 7-tick notes read
    from a performed MIDI file, the melody is first quantised to `grid` steps per quarter
    (48: 64th notes and 32nd-note triplets).
    """
    if not _notatable(melody):
        melody = quantized(melody, grid)
    score = melody_to_music21(melody)
    fmt = "mxl" if Path(path).suffix.lower() == ".mxl" else "musicxml"
    with atomic_path(path) as tmp, quiet():
        score.write(fmt, fp=str(tmp))
