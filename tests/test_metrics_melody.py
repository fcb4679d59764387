import numpy as np
import pytest

from fugato.metrics import (
    duration_bins,
    duration_distribution,
    earth_movers,
    euclidean,
    fusion_scores,
    pitch_class_distribution,
    relative_evaluation,
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


def test_fusion_scores_of_a_mixture_are_neutral() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random(12), rng.random(12)
    a, b = a / a.sum(), b / b.sum()
    f = 0.5 * a + 0.5 * b
    scores = fusion_scores(earth_movers(a, f), earth_movers(b, f), earth_movers(a, b))
    assert scores["diff"] == pytest.approx(0.0, abs=1e-12)
    assert scores["ratio"] == pytest.approx(1.0)
    outside = fusion_scores(earth_movers(a, np.roll(a, 3)), earth_movers(b, np.roll(a, 3)),
                            earth_movers(a, b))
    assert outside["ratio"] > 1.0 and outside["diff"] > 0


def random_melodies(rng: np.random.Generator, n: int, notes: tuple[int, int],
                    low: int = 60) -> list[Melody]:
    out = []
    for _ in range(n):
        k = int(rng.integers(*notes))
        quarters = rng.choice([0.5, 1.0, 1.5], size=k)
        out.append(melody(list(rng.integers(low, low + 12, size=k)), list(quarters)))
    return out


def test_relative_evaluation_separates_similar_from_different_sets() -> None:
    rng = np.random.default_rng(0)
    reference = random_melodies(rng, 40, (10, 20))
    similar = random_melodies(rng, 40, (10, 20))
    longer = random_melodies(rng, 40, (60, 80))
    same = relative_evaluation(reference, similar, ["note_count", "pitch_class_histogram"])
    apart = relative_evaluation(reference, longer, ["note_count"])
    assert same["note_count"]["overlap"] > 0.6
    assert apart["note_count"]["overlap"] < 0.05
    assert apart["note_count"]["kl"] > 5 * same["note_count"]["kl"]
    assert same["pitch_class_histogram"]["overlap"] > 0.6
