"""BSS Eval v4 (`fugato.metrics.separation.bss_eval_v4`): one window equals mir_eval's
full-track `bss_eval_images` (the same 512-tap time-invariant filters), windowed SDR equals
mir_eval's framewise images SDR (images SDR needs no filters), museval's framing, the obvious
cases ranked, and windows with a silent true source dropped from the pooled median."""

import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

from fugato.metrics.separation import V4_METRICS, bss_eval_v4, pooled, window_starts

RATE = 8000


def _track(seconds: float, channels: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(true sources, estimates), each (2, N) (or (2, N, channels)): two tones in noise, and
    estimates that are a random decaying FIR filter of 70% own source + 30% mixture, plus
    noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    shape = (n, channels) if channels else (n,)
    t = np.arange(n) / RATE
    tone = np.stack([np.sin(2 * np.pi * f * t) for f in (220.0, 330.0)])
    tone = tone[:, :, None] if channels else tone
    refs = (tone * (1 + 0.3 * rng.standard_normal((2, *shape)))
            + 0.2 * rng.standard_normal((2, *shape)))
    fir = rng.standard_normal(30) * np.exp(-np.arange(30) / 5)
    est = lfilter(fir, 1, 0.7 * refs + 0.3 * refs.sum(0), axis=1)
    return refs, est + 0.05 * rng.standard_normal(est.shape)


def _mir_eval(name: str, *args: object, **kwargs: object) -> tuple[np.ndarray, ...]:
    """mir_eval.separation.`name`(...) without its 0.8 deprecation warnings."""
    separation = pytest.importorskip("mir_eval.separation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return getattr(separation, name)(*args, **kwargs)


@pytest.mark.parametrize("channels", [0, 2])
def test_one_window_equals_mir_eval_bss_eval_images(channels: int) -> None:
    refs, est = _track(2.0 if not channels else 1.0, channels)
    ours = bss_eval_v4(refs, est)
    theirs = _mir_eval("bss_eval_images", refs, est, compute_permutation=False)
    for i, key in enumerate(V4_METRICS):
        assert ours[key].shape == (2, 1)
        np.testing.assert_allclose(ours[key][:, 0], theirs[i], rtol=0, atol=1e-6)
    assert np.ptp(ours["sir"]) < 40 and (ours["sdr"] < ours["sir"]).all()  # real-ish values


def test_windowed_sdr_equals_mir_eval_framewise_images_sdr() -> None:
    refs, est = _track(1.5, seed=1)  # 12,000 samples: windows at 0, 3,000, 6,000
    ours = bss_eval_v4(refs, est, window=4000, hop=3000)
    theirs = _mir_eval("bss_eval_images_framewise", refs, est, window=4000, hop=3000)
    assert ours["sdr"].shape == theirs[0].shape == (2, 3)
    np.testing.assert_allclose(ours["sdr"], theirs[0], rtol=0, atol=1e-6)
    # the filters are fitted on the whole track, not per window (v3): ISR, SIR, SAR differ
    assert not np.allclose(ours["sir"], theirs[2], atol=1e-3)


def test_museval_framing() -> None:
    np.testing.assert_array_equal(window_starts(10, 4, 3)[0], [0, 3, 6])
    assert window_starts(10, 4, 3)[1] == 4
    starts, width = window_starts(20 * 22050, 15 * 22050)  # a 20-s chorale: its first 15 s
    assert list(starts) == [0] and width == 15 * 22050
    starts, width = window_starts(100, None)
    assert list(starts) == [0] and width == 100
    starts, width = window_starts(100, 150, 150)  # shorter than a window: all of it
    assert list(starts) == [0] and width == 100


def test_ranks_the_true_source_above_interference_above_noise() -> None:
    refs, _ = _track(1.0, seed=2)
    noise = np.random.default_rng(3).standard_normal(refs.shape)
    cases = [refs, refs + 0.1 * refs[::-1], noise]
    scores = [bss_eval_v4(refs, est, window=RATE // 2) for est in cases]
    assert (scores[0]["sdr"] == np.inf).all()
    assert (scores[0]["sdr"] > scores[1]["sdr"]).all()
    assert (scores[1]["sdr"] > scores[2]["sdr"]).all() and (scores[2]["sdr"] < 0).all()
    # a tenth of a source of about equal power as interference: about 20 dB SDR and SIR
    np.testing.assert_allclose(scores[1]["sdr"], 20.0, atol=1.5)
    np.testing.assert_allclose(scores[1]["sir"], 20.0, atol=1.5)
    assert (scores[1]["sir"] > scores[2]["sir"]).all()


def test_silent_windows_are_nan_and_left_out_of_the_median() -> None:
    refs, est = _track(1.5, seed=4)
    refs[0, 4000:8000] = 0  # the first source is silent in the second of three windows
    scores = bss_eval_v4(refs, est, window=4000)
    for key in V4_METRICS:  # museval: every source's metrics of that window are NaN
        assert np.isnan(scores[key][:, 1]).all() and np.isfinite(scores[key][:, [0, 2]]).all()
    sdr = scores["sdr"]
    other, _ = _track(0.5, seed=5)  # a second track of one window
    other_sdr = bss_eval_v4(other, other + 0.5 * other[::-1], window=4000)["sdr"]
    expected = np.median(np.concatenate([sdr[:, [0, 2]], other_sdr], axis=1), axis=1)
    np.testing.assert_array_equal(pooled([sdr, other_sdr]), expected)
    np.testing.assert_allclose(pooled([sdr], "mean"), sdr[:, [0, 2]].mean(1))
    assert np.isnan(pooled([sdr[:, 1:2]])).all()  # no scored window


def test_a_silent_estimate_scores_0_db() -> None:
    refs, est = _track(1.0, seed=6)
    est[1] = 0
    scores = bss_eval_v4(refs, est)
    assert scores["sdr"][1, 0] == pytest.approx(0.0, abs=1e-12)
    assert scores["isr"][1, 0] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(scores["sdr"][0]).all()
    np.testing.assert_array_equal(bss_eval_v4(refs, est, sdr_only=True)["sdr"], scores["sdr"])
    with pytest.raises(ValueError, match="differ"):
        bss_eval_v4(refs, est[:, :-1])
