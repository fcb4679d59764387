import numpy as np
import pytest

from fugato.metrics import (
    duration_bins,
    duration_distribution,
    duration_distributions,
    earth_movers,
    earth_movers_rows,
    euclidean,
    fusion_scores,
    pitch_class_distribution,
    pitch_class_distributions,
    relative_evaluation,
)
from fugato.metrics.fusion import window_fusion_distances
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


def test_per_melody_distributions_are_each_melodys_own() -> None:
    rng = np.random.default_rng(0)
    melodies = [melody(list(rng.integers(48, 84, k)), list(rng.choice([0.25, 0.5, 1, 3], k)))
                for k in (1, 5, 9)] + [Melody([], [], [])]
    for rows, single in ((duration_distributions(melodies), duration_distribution),
                         (pitch_class_distributions(melodies), pitch_class_distribution)):
        for row, m in zip(rows, melodies, strict=True):
            np.testing.assert_allclose(row, single([m]))


def test_earth_movers_rows_match_scipy_on_uneven_positions() -> None:
    rng = np.random.default_rng(1)
    positions = np.sort(rng.uniform(0, 8, 12))
    rows, q = rng.random((6, 12)), rng.random(12)
    rows[2] = 0.0
    got = earth_movers_rows(rows, q, positions)
    assert np.isnan(got[2])
    for i in (0, 1, 3, 4, 5):
        assert got[i] == pytest.approx(earth_movers(rows[i], q, positions))


def test_per_window_table_scores_windows_off_the_genre_segment() -> None:
    a, b = np.eye(4)[0] * 0.5 + np.eye(4)[1] * 0.5, np.eye(4)[2] * 0.5 + np.eye(4)[3] * 0.5
    positions = np.arange(4.0)
    on_segment = np.stack([a, b, (a + b) / 2, np.zeros(4)])  # pure A, pure B, a blend, empty
    scores = window_fusion_distances(a, b, on_segment, positions)
    assert scores["eud"]["diff"] == pytest.approx(0) and scores["em"]["ratio"] == pytest.approx(1)
    narrow = np.stack([np.eye(4)[0], np.eye(4)[3]])  # one pitch class each: off the segment
    off = window_fusion_distances(a, b, narrow, positions)
    assert off["eud"]["ratio"] > 1.2 and off["eud"]["diff"] > 0
    # EM: the point at 0 is 0.5 from A and 2.5 from B, which are 2 apart (the point at 3 alike)
    assert off["em"]["ratio"] == pytest.approx(1.5) and off["em"]["diff"] == pytest.approx(1)


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
