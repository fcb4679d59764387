"""Key finding: known scales, real Essen tunes against their written keys and music21."""

import numpy as np
import pytest
from essen_sample import essen_melodies

from fugato.music.keys import estimate_key, key_correlations, with_key
from fugato.music.melody import TPQ, Melody, key_tonic


def scale_melody(tonic: int, minor: bool = False) -> Melody:
    steps = [0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11]
    # tonic and fifth held longer, as a tune would
    pitches = np.array([60 + tonic + s for s in steps + [12, 7, 0]], dtype=np.int16)
    durations = np.array([2, 1, 1, 1, 2, 1, 1, 2, 2, 4], dtype=np.int64) * TPQ
    onsets = np.concatenate([[0], np.cumsum(durations)[:-1]])
    return Melody(pitches, onsets, durations)


@pytest.mark.parametrize("tonic", range(12))
def test_scales_are_found_in_every_key(tonic: int) -> None:
    assert key_tonic(estimate_key(scale_melody(tonic))) == tonic
    assert estimate_key(scale_melody(tonic)).endswith("major")
    minor = estimate_key(scale_melody(tonic, minor=True))
    assert minor.endswith("minor") and key_tonic(minor) == tonic


def test_empty_melody_has_no_key_and_keyed_melodies_keep_theirs() -> None:
    empty = Melody(np.zeros(0, np.int16), np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert estimate_key(empty) is None and not key_correlations(empty).any()
    keyed = scale_melody(2).replace(key="G major")
    assert with_key(keyed) is keyed
    guessed = with_key(scale_melody(2))
    assert guessed.key == "D major" and guessed.metadata["key_estimated"]


def test_real_tunes_agree_with_written_keys_and_music21() -> None:
    from music21 import note, stream
    from music21.analysis.discrete import KrumhanslKessler

    tunes = [m for m in essen_melodies(per_file=10, files=3) if key_tonic(m.key) is not None]
    assert len(tunes) >= 20
    ours = [key_tonic(estimate_key(m)) for m in tunes]
    written = np.mean([o == key_tonic(m.key) for o, m in zip(ours, tunes, strict=True)])
    # Essen's K: fields are key signatures (a G-minor tune may read "G major"): 70% on this
    # sample, for music21's analysis as for ours
    assert written >= 0.65
    agree = []
    for melody, tonic in zip(tunes, ours, strict=True):
        s = stream.Stream()
        for p, d in zip(melody.pitches, melody.durations, strict=True):
            s.append(note.Note(int(p), quarterLength=float(d) / TPQ))
        agree.append(KrumhanslKessler().getSolution(s).tonic.pitchClass == tonic)
    assert np.mean(agree) >= 0.95
