"""Token encodings: vocabulary, round trips on real Essen tunes, grid, transposition, windows."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from essen_sample import essen_melodies

from fugato.music.encodings import (
    BAR_TICKS,
    GRID_TICKS,
    EventEncoding,
    MeasureEncoding,
    encoding_from_dict,
    tonic_shift,
)
from fugato.music.melody import TPQ, Melody, TimeSignature


def melody(notes, **fields) -> Melody:
    """(pitch, onset, duration) in quarters -> Melody."""
    return Melody(pitches=[n[0] for n in notes], onsets=[round(n[1] * TPQ) for n in notes],
                  durations=[round(n[2] * TPQ) for n in notes], **fields)


@pytest.fixture(scope="module")
def essen():
    return essen_melodies("4/4", per_file=6, files=3)


# -- protocol -------------------------------------------------------------------------------
@pytest.mark.parametrize("enc", [MeasureEncoding(), MeasureEncoding((48, 90), False),
                                 EventEncoding(), EventEncoding(8, (50, 90), 0)])
def test_to_dict_round_trip_is_json_safe(enc):
    d = json.loads(json.dumps(enc.to_dict()))
    again = encoding_from_dict(d)
    assert again == enc and type(again) is type(enc)
    assert again.token_names == enc.token_names and again.vocab_size == len(enc.token_names)


def test_unknown_encoding_type():
    with pytest.raises(ValueError, match="unknown encoding"):
        encoding_from_dict({"type": "nope"})


def test_vocabulary_is_the_same_in_another_process():
    code = ("import json; from fugato.music.encodings import MeasureEncoding, EventEncoding; "
            "print(json.dumps([MeasureEncoding().token_names, EventEncoding().token_names]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [MeasureEncoding().token_names, EventEncoding().token_names]
    assert MeasureEncoding().token_names[:3] == ["__", "rest", "55"]
    assert MeasureEncoding().vocab_size == 2 + 30


def test_music_package_does_not_import_torch():
    code = ("import sys, fugato.music.encodings, fugato.music.attributes; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- MeasureEncoding ------------------------------------------------------------------------
def test_grid_ticks():
    assert GRID_TICKS[:6].tolist() == [0, 240, 320, 480, 640, 720]
    assert GRID_TICKS[-1] == 3 * TPQ + 720 and len(GRID_TICKS) == 24


def test_measure_tokens_of_a_hand_made_bar():
    enc = MeasureEncoding()
    # quarter, eighth, eighth rest, an eighth-note triplet on beat 3, a rest on beat 4
    m = melody([(60, 0, 1), (62, 1, 0.5), (64, 2, 1 / 3), (65, 2 + 1 / 3, 1 / 3),
                (67, 2 + 2 / 3, 1 / 3)])
    bars, skipped = enc.encode_bars(m)
    names = [enc.token_names[t] for t in bars[0]]
    assert names == ["60", "__", "__", "__", "__", "__",
                     "62", "__", "__", "rest", "__", "__",
                     "64", "__", "65", "__", "67", "__",
                     "rest", "__", "__", "__", "__", "__"]
    assert skipped == {"time_signature": 0, "off_grid": 0, "pitch_range": 0}
    assert enc.decode(bars) == m


def test_tie_across_bar_line_is_a_hold_and_rests_restart():
    enc = MeasureEncoding()
    m = melody([(60, 3, 2), (62, 6, 1)])  # 60 tied over the bar line; rest over the next one
    bars = enc.encode(m)
    assert bars[1, 0] == enc.HOLD and bars[0, 18] == enc.pitch_token(60)
    assert bars[1, 6] == enc.REST and bars[1, 12] == enc.pitch_token(62)
    # each bar alone: the notes starting in it, cut at its end
    assert enc.decode(bars[0]) == melody([(60, 3, 1)])
    assert enc.decode(bars[1]) == melody([(62, 2, 1)])
    # together: the tie is whole again
    assert enc.decode(bars) == m


def test_off_grid_and_out_of_range_bars_are_counted():
    enc = MeasureEncoding()
    m = melody([(60, 0, 0.2), (62, 1, 1),        # bar 0: onset fine, rest at 0.2 off grid
                (64, 4, 1), (66, 5.1, 1),        # bar 1: onset at 1.1 off grid
                (40, 8, 1),                      # bar 2: below 55
                (67, 12, 4)])                    # bar 3: fine
    bars, skipped = enc.encode_bars(m)
    assert skipped == {"time_signature": 0, "off_grid": 2, "pitch_range": 1}
    assert bars.tolist() == [[enc.pitch_token(67)] + [enc.HOLD] * 23]


def test_only_four_quarter_bars_are_encoded():
    enc = MeasureEncoding()
    sigs = [TimeSignature(0, 3, 4), TimeSignature(3 * TPQ, 2, 2), TimeSignature(7 * TPQ, 6, 8)]
    m = melody([(60, i, 1) for i in range(10)], time_signatures=sigs)
    bars, skipped, starts = enc.encode_bars(m, return_starts=True)
    assert starts.tolist() == [3 * TPQ] and skipped["time_signature"] == 2  # 3/4 and 6/8 bars


def test_pickup_becomes_a_bar_padded_with_rest():
    m = melody([(60, 0, 0.5), (62, 0.5, 4)], pickup=TPQ)
    bars, _, starts = MeasureEncoding().encode_bars(m, return_starts=True)
    assert starts.tolist() == [TPQ - BAR_TICKS, TPQ]
    assert bars[0, 0] == MeasureEncoding.REST and bars[1, 0] == MeasureEncoding.HOLD
    bars, _, starts = MeasureEncoding(include_pickup=False).encode_bars(m, return_starts=True)
    assert starts.tolist() == [TPQ]


def test_measure_round_trip_on_essen(essen):
    enc = MeasureEncoding()
    exact = total = 0
    for m in essen:
        bars, _, starts = enc.encode_bars(m, return_starts=True)
        for row, start in zip(bars, starts, strict=True):
            total += 1
            exact += enc.decode(row) == m.slice(int(start), int(start) + BAR_TICKS)
    assert total > 100
    assert exact == total


def test_encode_corpus(essen):
    enc = MeasureEncoding()
    bars, tune_index, stats = enc.encode_corpus(essen)
    assert bars.dtype == np.int64 and bars.shape == (stats["bars"], 24)
    assert tune_index.shape == (len(bars),) and np.all(np.diff(tune_index) >= 0)
    assert stats["tunes"] == len(essen)
    # one vectorised pass over the corpus equals encoding tune by tune, awkward tunes included
    odd = [
        melody([(60, 0, 0.5), (62, 0.5, 4)], pickup=TPQ),  # pickup, tie over the bar line
        melody([(60, i, 1) for i in range(7)], time_signatures=[TimeSignature(0, 3, 4)]),
        melody([(60, 0, 1), (64, 2, 5)], time_signatures=[TimeSignature(2 * TPQ, 4, 4)]),
        melody([]),
        melody([(61, 0.1, 8)]),
    ]
    tunes = [odd[0], *essen[:3], *odd[1:], *essen[3:5]]
    bars, tune_index, stats = enc.encode_corpus(tunes)
    for i, tune in enumerate(tunes):
        alone, skipped = enc.encode_bars(tune)
        np.testing.assert_array_equal(bars[tune_index == i], alone)
    assert stats["tunes"] == len(tunes) and stats["bars"] == len(bars)
    assert enc.encode_corpus([])[0].shape == (0, 24)


def test_transpositions_stay_in_range(essen):
    enc = MeasureEncoding()
    bars, tune_index, _ = enc.encode_corpus(essen[:4])
    aug, source, shift = enc.transpositions(bars, return_index=True)
    notes = aug >= enc.first_pitch_token
    assert aug[notes].min() == enc.first_pitch_token or not notes.any()
    assert aug[notes].max() <= enc.last_pitch_token
    np.testing.assert_array_equal(aug[shift == 0], bars[np.unique(source)])  # originals kept
    # every in-range shift is there, and no other: count them per bar
    pitches = np.where(bars >= 2, bars, np.nan)
    with np.errstate(invalid="ignore"):
        room = enc.last_pitch_token - np.nanmax(pitches, 1) + np.nanmin(pitches, 1) - 2 + 1
    expected = np.where(np.isnan(room), 1, room).astype(int)
    np.testing.assert_array_equal(np.bincount(source, minlength=len(bars)), expected)
    # holds and rests never move
    np.testing.assert_array_equal(aug < 2, bars[source] < 2)
    # per tune: a shift is allowed only if the whole tune fits
    per_tune, src, sh = enc.transpositions(bars, groups=tune_index, return_index=True)
    for tune in np.unique(tune_index):
        rows = bars[tune_index == tune]
        p = rows[rows >= 2]
        shifts = set(sh[tune_index[src] == tune].tolist())
        assert shifts == set(range(2 - p.min(), enc.last_pitch_token - p.max() + 1))
    assert per_tune[per_tune >= 2].max() <= enc.last_pitch_token


def test_transposition_of_a_bar():
    enc = MeasureEncoding()
    bar = np.array([[enc.pitch_token(80)] + [0] * 11 + [enc.pitch_token(83)] + [1] * 11,
                    [1] + [0] * 23])
    aug, source, shift = enc.transpositions(bar, return_index=True)
    assert shift[source == 0].tolist() == list(range(55 - 80, 84 - 83 + 1))
    assert shift[source == 1].tolist() == [0]
    assert len(aug) == 27 + 1


# -- EventEncoding --------------------------------------------------------------------------
def test_event_tokens_of_a_hand_made_melody():
    enc = EventEncoding(steps_per_quarter=4)
    m = melody([(60, 0.5, 1), (62, 1.5, 0.25), (64, 2, 0.5)])
    tokens = enc.encode(m)
    names = [enc.token_names[t] for t in tokens]
    assert names == ["note_off", "hold", "note_on(60)", "hold", "hold", "hold",
                     "note_on(62)", "note_off", "note_on(64)", "hold"]
    assert enc.decode(tokens) == m
    assert enc.decode(np.r_[enc.BOS, tokens]) == m  # a leading bos takes no time


def test_quantisation_moves_are_counted():
    enc = EventEncoding(steps_per_quarter=4)
    m = melody([(60, 0, 0.3), (62, 1 / 3, 2 / 3), (64, 1, 1 / 3), (65, 1.35, 0.6), (67, 2.01, 1)])
    tokens, stats = enc.encode_with_stats(m)
    assert stats["notes"] == 5 and stats["moved"] >= 3
    out = enc.decode(tokens)
    assert len(out) <= 5 and (out.onsets % enc.step_ticks == 0).all()
    assert (out.durations > 0).all()


def test_two_notes_on_one_step_keep_the_later():
    enc = EventEncoding(steps_per_quarter=4)
    m = melody([(60, 0, 1 / 32), (62, 1 / 32, 1)])  # a grace-like note
    tokens, stats = enc.encode_with_stats(m)
    assert stats["dropped"] == 1 and enc.token_names[tokens[0]] == "note_on(62)"


def test_tonic_transposition():
    assert tonic_shift(7, 0) == 5 and tonic_shift(5, 0) == -5 and tonic_shift(6, 0) == -6
    assert all(-6 <= tonic_shift(t, g) <= 5 for t in range(12) for g in range(12))
    enc = EventEncoding(steps_per_quarter=4, transpose_to_tonic=0)
    m = melody([(67, 0, 1), (71, 1, 1)], key="G major")
    assert enc.decode(enc.encode(m)).pitches.tolist() == [72, 76]  # G -> C, up 5
    no_key = melody([(67, 0, 1)])
    assert enc.decode(enc.encode(no_key)).pitches.tolist() == [67]


def test_out_of_range_pitch():
    enc = EventEncoding(pitch_range=(60, 72))
    with pytest.raises(ValueError, match="outside"):
        enc.encode(melody([(59, 0, 1)]))
    windows, index, stats = enc.encode_corpus([melody([(59, 0, 1)]), melody([(60, 0, 4)])],
                                              8, 4, return_stats=True)
    assert stats["out_of_range"] == 1 and set(index.tolist()) == {1}


def test_windows_shape_and_stride():
    tokens = np.arange(20)
    w = EventEncoding.windows(tokens, 6, 4)
    assert w.shape == (4, 6) and w.dtype == np.int64 and w.flags.c_contiguous
    np.testing.assert_array_equal(w[:, 0], [0, 4, 8, 12])
    np.testing.assert_array_equal(w[2], np.arange(8, 14))
    assert EventEncoding.windows(tokens, 21, 1).shape == (0, 21)
    assert EventEncoding.windows(tokens, 20, 7).shape == (1, 20)


def test_event_round_trip_on_essen(essen):
    enc = EventEncoding()
    length = 4 * enc.steps_per_quarter
    exact = total = 0
    for m in essen:
        tokens, stats = enc.encode_with_stats(m)
        assert stats["moved"] == 0
        assert enc.decode(tokens) == m
        for i, window in enumerate(enc.windows(tokens, length, length // 2)):
            start = i * (length // 2) * enc.step_ticks
            total += 1
            exact += enc.decode(window) == m.slice(start, start + length * enc.step_ticks)
    assert total > 100 and exact == total


def test_event_encode_corpus(essen):
    enc = EventEncoding(steps_per_quarter=8, transpose_to_tonic=0)
    windows, tune_index, stats = enc.encode_corpus(essen, 36, 18, return_stats=True)
    assert windows.shape == (stats["windows"], 36) and tune_index.shape == (len(windows),)
    first = enc.windows(enc.encode(essen[0]), 36, 18)
    np.testing.assert_array_equal(windows[tune_index == 0], first)
    assert windows.max() < enc.vocab_size and windows.min() >= enc.NOTE_OFF
