"""Dance and music metrics of the dual music-dance system against answers known by hand."""

import math

import numpy as np
import pytest

from fugato.metrics.dance import (
    beat_align_score,
    beat_alignment,
    beat_hit_rate,
    bone_length_error,
    chroma_key_shift,
    chroma_l1,
    diversity,
    frechet_joint_distance,
    joint_speed,
    kinematic_beats,
    notes_accuracy,
    transpose_chroma,
)
from fugato.motion.skeleton import SMPL_PARENTS, forward_kinematics, rest_positions
from fugato.music.keys import MAJOR_PROFILE, MINOR_PROFILE


def _sine_motion(frames: int = 200, period: int = 20) -> np.ndarray:
    """(frames, 3, 3) joints swinging along x in phase: x = a_j sin(2 pi t / period)."""
    t = np.arange(frames)
    amplitude = np.array([0.1, 0.2, 0.3])
    pos = np.zeros((frames, 3, 3))
    pos[:, :, 0] = amplitude * np.sin(2 * np.pi * t / period)[:, None]
    pos[:, :, 1] = [0.0, 0.5, 1.0]
    return pos


@pytest.mark.parametrize("smoothing", [0.0, 2.0])
def test_kinematic_beats_at_the_turning_points_of_a_sine(smoothing: float) -> None:
    # speed ~ |cos(2 pi t / 20)| is zero where the swing turns: t = 5, 15, 25, ...
    beats = kinematic_beats(_sine_motion(), smoothing=smoothing)
    np.testing.assert_array_equal(beats, np.arange(5, 200, 10))
    assert beats.dtype == np.int64


def test_joint_speed_units_and_batch() -> None:
    pos = np.zeros((2, 10, 4, 3))
    pos[1, :, :, 2] = np.arange(10)[:, None] * 0.04  # 0.04 m a frame = 1 m/s at 25 fps
    speed = joint_speed(pos)
    assert speed.shape == (2, 10)
    np.testing.assert_allclose(speed[0], 0.0)
    np.testing.assert_allclose(speed[1], 1.0)


def test_beat_alignment_identical_and_shifted() -> None:
    music = np.arange(0, 500, 25)
    assert beat_alignment(music, music) == 1.0
    assert beat_align_score(music, music) == 1.0
    assert beat_align_score(music, music, over="kinematic") == 1.0
    shifted = music + 10  # 10 frames from one beat, 15 from the next
    assert beat_alignment(shifted, music) == 0.0
    assert beat_align_score(shifted, music) == pytest.approx(math.exp(-100 / 18), abs=1e-12)
    assert beat_align_score(shifted, music) < 0.005
    # within the tolerance (inclusive) and just outside
    assert beat_alignment(music + 5, music) == 1.0
    assert beat_alignment(music + 6, music, tolerance=5) == 0.0


def test_beat_align_score_direction() -> None:
    music = np.array([10, 50])
    kinematic = np.array([10, 12, 14, 50])
    # Bailando: mean over music beats, each to its nearest kinematic beat: both exact
    assert beat_align_score(kinematic, music) == 1.0
    # FACT: mean over kinematic beats, each to its nearest music beat
    expected = (1 + math.exp(-4 / 18) + math.exp(-16 / 18) + 1) / 4
    assert beat_align_score(kinematic, music, over="kinematic") == pytest.approx(expected)
    with pytest.raises(ValueError):
        beat_align_score(kinematic, music, over="both")


def test_empty_beat_sets() -> None:
    assert math.isnan(beat_alignment([], [1, 2]))
    assert beat_alignment([3], []) == 0.0
    assert math.isnan(beat_align_score([1], []))
    assert beat_align_score([], [1]) == 0.0
    assert math.isnan(beat_hit_rate([1], []))
    assert beat_hit_rate([], [1]) == 0.0


def test_beat_hit_rate() -> None:
    true = np.array([0, 25, 50])
    assert beat_hit_rate(true, true) == 1.0
    assert beat_hit_rate(np.array([1, 27, 60, 61, 62]), true) == pytest.approx(2 / 3)
    assert beat_hit_rate(np.array([3]), np.array([0]), tolerance=3) == 1.0


def test_frechet_joint_distance_of_a_translated_copy() -> None:
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(30, 24, 3))
    shift = np.array([0.3, 0.0, 0.4])
    assert frechet_joint_distance(pos + shift, pos) == pytest.approx(0.5)
    assert frechet_joint_distance(pos, pos) == 0.0
    # one ground truth against a batch of generations
    assert frechet_joint_distance(np.stack([pos, pos + shift]), pos) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        frechet_joint_distance(pos, pos[:10])


def test_diversity() -> None:
    rng = np.random.default_rng(1)
    one = rng.normal(size=(40, 24, 3))
    assert diversity(np.stack([one] * 5)) == 0.0
    d = np.array([0.3, 0.4, 0.0])  # 0.5 m
    three = np.stack([one, one + d, one + 2 * d])  # pair distances 0.5, 1.0, 0.5
    assert diversity(three) == pytest.approx(2.0 / 3.0)
    with pytest.raises(ValueError):
        diversity(one[None])


def test_bone_length_error_is_zero_for_forward_kinematics_and_sees_a_stretched_bone() -> None:
    rng = np.random.default_rng(2)
    moving = forward_kinematics(rng.normal(0, 0.7, (2, 30, 24, 3)), rng.normal(0, 1, (2, 30, 3)))
    assert bone_length_error(moving) < 1e-12
    assert bone_length_error(rest_positions()) == 0.0
    # the left hand is a leaf (no child): moving it changes one bone, the forearm's end
    hand, wrist = 22, int(SMPL_PARENTS[22])
    assert hand not in SMPL_PARENTS
    stretched = moving.copy()
    stretched[1, 4, hand] += 0.5 * (moving[1, 4, hand] - moving[1, 4, wrist])
    length = np.linalg.norm(rest_positions()[hand] - rest_positions()[wrist])
    assert bone_length_error(stretched) == pytest.approx(0.5 * length, rel=1e-9)


def test_chroma_l1() -> None:
    rng = np.random.default_rng(3)
    chroma = rng.uniform(size=(2, 10, 12))
    assert chroma_l1(chroma, chroma) == 0.0
    assert chroma_l1(np.clip(chroma + 0.25, None, 2.0), chroma) == pytest.approx(0.25)
    assert chroma_l1(np.zeros((4, 12)), np.ones((4, 12))) == 1.0
    with pytest.raises(ValueError):
        chroma_l1(chroma, chroma[:, :5])


def _key_chroma(profile: np.ndarray, tonic: int, frames: int, seed: int) -> np.ndarray:
    """Frames with one strong pitch class drawn from a key profile, plus noise."""
    rng = np.random.default_rng(seed)
    p = np.roll(profile, tonic) ** 3
    classes = rng.choice(12, size=frames, p=p / p.sum())
    chroma = rng.uniform(0, 0.3, size=(frames, 12))
    chroma[np.arange(frames), classes] = 1.0
    return chroma


def test_key_shift_to_c_major_or_a_minor() -> None:
    assert chroma_key_shift(_key_chroma(MAJOR_PROFILE, 0, 400, 0)) == 0  # C major
    assert chroma_key_shift(_key_chroma(MAJOR_PROFILE, 2, 400, 0)) == 10  # D major: down 2
    assert chroma_key_shift(_key_chroma(MINOR_PROFILE, 9, 400, 0)) == 0  # A minor
    assert chroma_key_shift(_key_chroma(MINOR_PROFILE, 4, 400, 0)) == 5  # E minor: up 5
    assert chroma_key_shift(np.ones((10, 12))) == 0  # no key: not moved
    shifts = chroma_key_shift(np.stack([_key_chroma(MAJOR_PROFILE, k, 300, k)
                                        for k in range(3)]))
    np.testing.assert_array_equal(shifts, [0, 11, 10])


def test_notes_accuracy_of_a_transposed_copy_is_one() -> None:
    true = _key_chroma(MAJOR_PROFILE, 7, 300, 3)  # G major
    for k in range(12):
        assert notes_accuracy(np.roll(true, k, axis=-1), true) == 1.0
        assert notes_accuracy(transpose_chroma(true, k), true) == 1.0
    # any chroma, even without a clear key: the key estimate moves with the transposition
    noise = np.random.default_rng(4).uniform(size=(2, 50, 12))
    assert notes_accuracy(np.roll(noise, 5, axis=-1), noise) == 1.0
    other = np.random.default_rng(5).uniform(size=(2, 50, 12))
    assert notes_accuracy(other, noise) < 0.4
    with pytest.raises(ValueError):
        notes_accuracy(true, true[:10])


def test_notes_accuracy_counts_frames() -> None:
    true = _key_chroma(MAJOR_PROFILE, 0, 100, 6)
    pred = true.copy()
    # swap the argmax of 10 frames to another pitch class without changing the key much
    frames = np.arange(10)
    top = pred[frames].argmax(axis=1)
    pred[frames, top] = 0.0
    pred[frames, (top + 6) % 12] = 2.0
    assert chroma_key_shift(pred) == chroma_key_shift(true) == 0
    assert notes_accuracy(pred, true) == pytest.approx(0.9)
