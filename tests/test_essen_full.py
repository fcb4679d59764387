"""Acceptance on the whole Essen corpus: the build, and exact encode -> decode round trips.

The cold build takes one to three minutes on 2 cores (it is the corpus benchmark's job to time
it); the rest of the suite reuses the session's cache.
"""

import pytest

from fugato.music import load_corpus
from fugato.music.encodings import EventEncoding, MeasureEncoding
from fugato.music.melody import TPQ


@pytest.fixture(scope="module")
def essen():
    return load_corpus("essen", workers=2, progress=False)


def test_essen_builds_with_almost_every_tune(essen) -> None:
    assert essen.seen == 8514
    assert len(essen.melodies) >= 8300
    parts = {part: len(essen.split(part)) for part in ("train", "valid", "test")}
    assert sum(parts.values()) == len(essen.melodies)
    assert 0.75 < parts["train"] / len(essen.melodies) < 0.85


def test_measure_encoding_round_trips_on_grid_bars(essen) -> None:
    encoding = MeasureEncoding()
    exact = total = off_grid = 0
    for melody in essen.melodies:
        bars, skipped, starts = encoding.encode_bars(melody, return_starts=True)
        off_grid += skipped.get("off_grid", 0)
        for row, start in zip(bars, starts, strict=True):
            total += 1
            exact += encoding.decode(row) == melody.slice(int(start), int(start) + 4 * TPQ)
    print(f"MeasureEncoding: {exact}/{total} bars exact, {off_grid} off-grid bars skipped")
    assert total > 25_000
    assert exact / total >= 0.99
    assert off_grid / (total + off_grid) < 0.01


@pytest.mark.parametrize("steps_per_quarter", [4, 8])
def test_event_encoding_round_trips_windows(essen, steps_per_quarter: int) -> None:
    encoding = EventEncoding(steps_per_quarter=steps_per_quarter)
    length = 4 * steps_per_quarter  # one 4/4 bar's worth of grid steps
    span = length * encoding.step_ticks
    exact = total = 0
    for melody in essen.melodies:
        windows = encoding.windows(encoding.encode(melody), length, length)
        for i, window in enumerate(windows):
            total += 1
            exact += encoding.decode(window) == melody.slice(i * span, (i + 1) * span)
    print(f"EventEncoding({steps_per_quarter}): {exact}/{total} windows exact")
    assert total > 90_000
    assert exact / total >= 0.99
    if steps_per_quarter == 8:
        assert exact == total  # Essen's shortest notes are 32nds: all on this grid


def test_transposition_augmentation_keeps_the_range(essen) -> None:
    encoding = MeasureEncoding()
    bars, tune_index, _ = encoding.encode_corpus(essen.melodies[:500])
    augmented = encoding.transpositions(bars, groups=tune_index)
    sounding = encoding.token_pitch(augmented[augmented >= encoding.first_pitch_token])
    assert len(augmented) > 5 * len(bars)
    assert sounding.min() >= 55 and sounding.max() <= 84
