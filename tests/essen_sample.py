"""A few real Essen tunes for fast tests, read by fugato's own ABC path (no corpus build).

Tunes are picked on their cheap headers first, so only the chosen ones are parsed by music21.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fugato.music.io import abc_tune_headers, abc_tunes_with_ids, parse_abc_tune
from fugato.music.melody import Melody


def essen_files() -> list[Path]:
    from music21 import corpus

    return sorted(Path(p) for p in corpus.getComposer("essenFolksong"))


@cache
def essen_melodies(meter: str | None = "4/4", per_file: int = 6, files: int = 3
                   ) -> tuple[Melody, ...]:
    """Up to `per_file` tunes in `meter` from each of the first `files` Essen files."""
    melodies: list[Melody] = []
    for path in essen_files()[:files]:
        text = path.read_text(encoding="utf-8", errors="replace")
        tunes = abc_tunes_with_ids(text, path.name)
        headers = abc_tune_headers(text)
        chosen = [(tune_id, tune) for (tune_id, tune), fields in zip(tunes, headers, strict=True)
                  if meter is None or fields.get("M", "").strip() == meter][:per_file]
        melodies += [parse_abc_tune(tune, tune_id) for tune_id, tune in chosen]
    return tuple(melodies)
