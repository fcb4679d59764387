"""Bar attributes: hand-made bars with known values, numpy == torch == a plain loop, Essen bars."""

from __future__ import annotations

import numpy as np
import pytest
from essen_sample import essen_melodies

from fugato.music import attributes
from fugato.music.attributes import (
    ATTRIBUTES,
    PITCH_NORM,
    RHYTHM_WEIGHTS,
    compute_attributes,
    contour,
    note_density,
    pitch_range,
    rhythmic_complexity,
)
from fugato.music.encodings import MeasureEncoding

ENC = MeasureEncoding()
H, R = ENC.HOLD, ENC.REST


def bar(events: dict[int, int | str]) -> list[int]:
    """{tick: MIDI pitch or 'rest'} -> 24 tokens, holds elsewhere."""
    out = [H] * 24
    for tick, what in events.items():
        out[tick] = R if what == "rest" else ENC.pitch_token(what)
    return out


def loop_attributes(bars: np.ndarray) -> np.ndarray:
    """The definitions, one token at a time."""
    rows = []
    for b in bars.reshape(-1, 24).tolist():
        ticks = [i for i, t in enumerate(b) if t >= ENC.first_pitch_token]
        pitches = [ENC.token_pitch(b[i]) for i in ticks]
        steps = [q - p for p, q in zip(pitches[:-1], pitches[1:], strict=True)]
        rows.append([
            sum(RHYTHM_WEIGHTS[i] for i in ticks) / RHYTHM_WEIGHTS.sum(),
            (max(pitches) - min(pitches)) / PITCH_NORM if pitches else 0.0,
            len(ticks) / 24,
            sum(steps) / PITCH_NORM,
        ])
    return np.array(rows).reshape(*bars.shape[:-1], 4)


HAND_MADE = [
    # bar, rhythmic complexity numerator, pitch range, note density, contour (semitones)
    (bar({0: "rest"}), 0.0, 0, 0, 0),
    (bar({0: 60}), 0.20, 0, 1, 0),
    (bar({0: 60, 6: 64, 12: 67, 18: 72}), 0.20 + 0.67 + 0.25 + 0.67, 12, 4, 12),
    (bar({0: 72, 3: "rest", 6: 65, 9: 67, 12: "rest", 14: 60}), 0.20 + 0.67 + 0.5 + 2, 12, 4, -12),
    (bar({1: 60, 2: 84, 4: 55, 5: 61}), 1 + 2 + 2 + 1, 29, 4, 1),
    (bar({0: "rest", 20: 70}), 2, 0, 1, 0),
    (bar({}), 0.0, 0, 0, 0),  # a bar of holds (a note tied in from the previous bar)
]


@pytest.mark.parametrize("tokens, rhythm, span, notes, rise", HAND_MADE)
def test_hand_made_bars(tokens, rhythm, span, notes, rise):
    b = np.array(tokens)
    assert rhythmic_complexity(b, ENC) == pytest.approx(rhythm / RHYTHM_WEIGHTS.sum())
    assert pitch_range(b, ENC) == pytest.approx(span / 26)
    assert note_density(b, ENC) == pytest.approx(notes / 24)
    assert contour(b, ENC) == pytest.approx(rise / 26)


def test_weights_and_normaliser():
    assert RHYTHM_WEIGHTS.shape == (24,) and RHYTHM_WEIGHTS.sum() == pytest.approx(27.79)
    assert PITCH_NORM == 26
    every_tick = np.array([ENC.pitch_token(60)] * 24)
    assert rhythmic_complexity(every_tick) == pytest.approx(1.0)
    assert note_density(every_tick) == pytest.approx(1.0)


def random_bars(shape, seed=0):
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=(*shape, 24), p=[0.6, 0.1, 0.3])
    pitches = rng.integers(ENC.first_pitch_token, ENC.last_pitch_token + 1, kind.shape)
    return np.where(kind == 0, H, np.where(kind == 1, R, pitches))


def test_numpy_matches_the_loop_and_keeps_batch_shape():
    bars = random_bars((5, 7))
    out = compute_attributes(bars, ENC)
    assert out.shape == (5, 7, 4) and out.dtype == np.float64
    np.testing.assert_allclose(out, loop_attributes(bars), atol=1e-12)
    assert compute_attributes(bars[0, 0]).shape == (4,)
    one = compute_attributes(bars, ENC, names=("contour", "note_density"))
    np.testing.assert_array_equal(one, out[..., [3, 2]])


@pytest.mark.parametrize("torch_ops", [False, True], ids=["cpu-via-numpy", "torch-ops"])
def test_torch_matches_numpy(torch_ops, monkeypatch):
    torch = pytest.importorskip("torch")
    # CPU tensors normally go through numpy views; force the torch operations (used on GPUs)
    monkeypatch.setattr(attributes, "_TORCH_OPS_ON_CPU", torch_ops)
    bars = random_bars((64,), seed=1)
    expected = compute_attributes(bars, ENC)
    for dtype in (torch.int64, torch.int32, torch.uint8):
        out = compute_attributes(torch.as_tensor(bars, dtype=dtype), ENC)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.get_default_dtype()
        np.testing.assert_allclose(out.double().numpy(), expected, rtol=1e-6, atol=1e-6)
    for name, fn in zip(ATTRIBUTES, (rhythmic_complexity, pitch_range, note_density, contour),
                        strict=True):
        np.testing.assert_allclose(fn(torch.as_tensor(bars)).numpy(),
                                   expected[:, ATTRIBUTES.index(name)], rtol=1e-6, atol=1e-6)


def test_essen_bars():
    bars, _, _ = ENC.encode_corpus(essen_melodies("4/4", per_file=4, files=2))
    out = compute_attributes(bars, ENC)
    np.testing.assert_allclose(out, loop_attributes(bars), atol=1e-12)
    assert (out[:, 0] >= 0).all() and (out[:, 0] <= 1).all()
    assert (out[:, 2] > 0).mean() > 0.5  # most folk bars have a note


def test_other_pitch_range_and_bad_input():
    enc = MeasureEncoding((40, 100))
    b = np.array(bar({}))
    b[0], b[6] = enc.pitch_token(40), enc.pitch_token(100)
    assert pitch_range(b, enc) == pytest.approx(60 / 26)
    assert contour(b, enc, norm=60) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="24"):
        compute_attributes(np.zeros((3, 16), dtype=np.int64))
    with pytest.raises(ValueError, match="unknown"):
        compute_attributes(b, names=("loudness",))


def test_torch_on_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    bars = random_bars((3, 50), seed=2)
    out = compute_attributes(torch.as_tensor(bars, device="cuda"))
    assert out.device.type == "cuda" and out.shape == (3, 50, 4)
    np.testing.assert_allclose(out.cpu().double().numpy(), compute_attributes(bars),
                               rtol=1e-6, atol=1e-6)
