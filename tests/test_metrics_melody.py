import numpy as np
import pytest

from fugato.metrics import (
    duration_bins,
    duration_distribution,
    earth_movers,
    euclidean,
    pitch_class_distribution,
)
from fugato.music.melody import TPQ, Melody


def melody(pitches: list[int], quarters: list[float]) -> Melody:
    durations = [int(q * TPQ) for q in quarters]
    onsets = np.cumsum([0, *durations[:-1]])
    return Melody(pitches, onsets, durations)


def test_distributions_count_notes() -> None:
    m = melody([60, 62, 64, 72], [1, 1, 0.5, 0.5])
    npd = pitch_class_distribution([m])
    assert npd[0] == pytest.approx(0.5) and npd[2] == npd[4] == pytest.approx(0.25)
    dd = duration_distribution([m])
    bins = duration_bins()
    assert dd[np.isclose(bins, 1.0)][0] == pytest.approx(0.5)
    assert dd[np.isclose(bins, 0.5)][0] == pytest.approx(0.5)
    assert dd.sum() == pytest.approx(1.0)


def test_earth_movers_is_the_shift_between_histograms() -> None:
    p = np.array([0, 1, 0, 0, 0.0])
    q = np.array([0, 0, 0, 1, 0.0])
    assert earth_movers(p, q) == pytest.approx(2.0)
    assert earth_movers(p, q, positions=np.arange(5) * 0.25) == pytest.approx(0.5)
    assert earth_movers(p, p) == 0.0
    assert euclidean(p, q) == pytest.approx(np.sqrt(2))


def test_mixture_sits_exactly_between_its_parts() -> None:
    # DESIGN.md: for M = w A + (1-w) B, d(A,M) + d(B,M) = d(A,B) for EM and EUD alike.
    rng = np.random.default_rng(0)
    a, b = rng.random(12), rng.random(12)
    a, b = a / a.sum(), b / b.sum()
    m = 0.3 * a + 0.7 * b
    assert earth_movers(a, m) + earth_movers(b, m) == pytest.approx(earth_movers(a, b))
    assert euclidean(a, m) + euclidean(b, m) == pytest.approx(euclidean(a, b))
