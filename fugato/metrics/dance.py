"""Metrics of the dual music-dance system (Wu et al., ACM MM 2021) and of its neighbours.

Units: positions in metres, times in frames at 25 fps (`fugato.motion.representation.FPS`, the
music features' rate too), beats as ascending integer frame indices
(`fugato.audio.features.beat_frames` gives the music beats of a feature array). Everything is
vectorised numpy; nothing here trains or loads files.

Dance (music -> dance):

- `frechet_joint_distance`: what the paper calls the "Frechet distance" is a mean 3D joint
  distance to the ground truth (a mean per-joint position error), not a Frechet distance
  between fitted Gaussians.
- `diversity`: mean pairwise joint distance between generations from different start poses.
- `bone_length_error`: the largest change of a bone length from the rest skeleton (a check:
  positions that are forward kinematics of rotations keep every bone).
- `kinematic_beats`, `beat_alignment`: the paper's beat alignment, the share of kinematic
  beats (local minima of the mean joint speed) within 5 frames of a music beat.
- `beat_align_score`: the beat-align score (BAS) of FACT (Li et al. 2021, AIST++) and Bailando
  (Siyao et al. 2022), a Gaussian-weighted distance between the two beat sets.

Music (dance -> music):

- `notes_accuracy`: agreement of the frame-wise strongest pitch class, both sequences first
  transposed to C major / A minor.
- `beat_hit_rate`: share of true music beats matched by a predicted beat.
- `chroma_l1`: mean absolute difference of two chroma sequences.

Empty sets follow one rule: a score averaged over an empty set is undefined and returns NaN
(`np.nanmean` over windows skips it); a non-empty set with nothing to match against scores 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from fugato.motion.representation import FPS
from fugato.motion.skeleton import bone_lengths, rest_positions
from fugato.music.keys import histogram_key_correlations

BEAT_TOLERANCE = 5
"""Frames (200 ms at 25 fps) within which a kinematic beat counts as on a music beat (paper)."""

BAS_SIGMA = 3.0
"""Frames: the Gaussian width of the beat-align score (FACT and Bailando use 3)."""

SPEED_SMOOTHING = 2.0
"""Frames: standard deviation of the Gaussian that smooths the joint speed before its minima
are taken (80 ms at 25 fps; Bailando smooths with sigma 5 at 60 fps, 83 ms)."""

HIT_TOLERANCE = 2
"""Frames (80 ms at 25 fps, the nearest frame count to mir_eval's 70 ms beat window) within
which a predicted music beat hits a true one."""


def _positions(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or a.shape[-1] != 3:
        raise ValueError(f"{name} of shape {a.shape}: expected (..., J, 3) positions")
    return a


def _beats(x: npt.ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} of shape {a.shape}: expected (n,) frame indices")
    return np.sort(a.astype(np.float64))


def frechet_joint_distance(pred_pos: np.ndarray, true_pos: np.ndarray) -> float:
    """The paper's "Frechet distance": the mean over frames and joints of the Euclidean
    distance between predicted and ground-truth joint positions, in metres (lower is better).

    It is a mean per-joint position error (MPJPE without root alignment), NOT the Frechet
    distance between two Gaussians fitted to features (FID-style): the name follows the dual
    music-dance paper. `pred_pos`, `true_pos`: (..., T, J, 3) in metres, the same shape (or
    broadcastable, e.g. one ground truth against (G, T, J, 3) generations).
    """
    pred = _positions(pred_pos, "pred_pos")
    true = _positions(true_pos, "true_pos")
    try:
        diff = pred - true
    except ValueError:
        raise ValueError(f"pred_pos {pred.shape} and true_pos {true.shape} do not match"
                         ) from None
    return float(np.linalg.norm(diff, axis=-1).mean())


def diversity(positions: np.ndarray) -> float:
    """Variation between G generations (e.g. from the same music with 5 different start
    poses), in metres (higher is more diverse):

        D = mean over the G (G - 1) / 2 pairs a < b of
            mean over frames t and joints j of |x_a[t, j] - x_b[t, j]|.

    `positions`: (G, T, J, 3) with G >= 2. Identical generations give 0.
    """
    x = _positions(positions, "positions")
    if x.ndim != 4:
        raise ValueError(f"positions of shape {x.shape}: expected (G, T, J, 3)")
    g = len(x)
    if g < 2:
        raise ValueError(f"diversity needs at least 2 generations, got {g}")
    a, b = np.triu_indices(g, k=1)
    return float(np.linalg.norm(x[a] - x[b], axis=-1).mean())


def bone_length_error(positions: np.ndarray) -> float:
    """The largest absolute difference, in metres, between a bone length of SMPL joint
    positions (..., 24, 3) and the same bone of the mean-shape rest skeleton
    (`fugato.motion.skeleton.rest_positions`); 0 up to rounding for forward kinematics."""
    return float(np.abs(bone_lengths(positions) - bone_lengths(rest_positions())).max())


def joint_speed(positions: np.ndarray, fps: float = FPS) -> np.ndarray:
    """(..., T, J, 3) positions in metres -> (..., T) mean over joints of the joint speed in
    m/s, by central differences (one-sided at the two ends), so that speed[t] belongs to frame
    t itself (forward differences, as in Bailando, put it half a frame late)."""
    x = _positions(positions, "positions")
    if x.ndim < 3 or x.shape[-3] < 2:
        raise ValueError(f"positions of shape {x.shape}: expected (..., T >= 2, J, 3)")
    velocity = np.gradient(x, axis=-3) * fps
    return np.linalg.norm(velocity, axis=-1).mean(axis=-1)


def kinematic_beats(positions: np.ndarray, smoothing: float = SPEED_SMOOTHING,
                    fps: float = FPS) -> np.ndarray:
    """Kinematic beats of one motion: (n,) int64 ascending frame indices of the strict local
    minima of the mean joint speed (`joint_speed`), after smoothing it with a Gaussian of
    standard deviation `smoothing` frames (`SPEED_SMOOTHING` = 2, 80 ms; 0 turns it off;
    edges reflected). The first and last frames are never beats. `positions`: (T, J, 3)."""
    x = _positions(positions, "positions")
    if x.ndim != 3:
        raise ValueError(f"positions of shape {x.shape}: expected (T, J, 3) for one motion")
    speed = joint_speed(x, fps)
    if smoothing > 0:
        speed = gaussian_filter1d(speed, smoothing, mode="reflect")
    if len(speed) < 3:
        return np.zeros(0, dtype=np.int64)
    inner = speed[1:-1]
    return (np.flatnonzero((inner < speed[:-2]) & (inner < speed[2:])) + 1).astype(np.int64)


def _nearest_distance(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n,) distance from each point to the nearest of the (sorted, non-empty) targets."""
    i = np.searchsorted(targets, points)
    left = targets[np.clip(i - 1, 0, len(targets) - 1)]
    right = targets[np.clip(i, 0, len(targets) - 1)]
    return np.minimum(np.abs(points - left), np.abs(points - right))


def _share_near(points: np.ndarray, targets: np.ndarray, tolerance: float) -> float:
    """Share of `points` within `tolerance` frames of some target: NaN without points, 0
    without targets."""
    if len(points) == 0:
        return float("nan")
    if len(targets) == 0:
        return 0.0
    return float((_nearest_distance(points, targets) <= tolerance).mean())


def beat_alignment(kinematic_beats: npt.ArrayLike, music_beats: npt.ArrayLike,
                   tolerance: float = BEAT_TOLERANCE) -> float:
    """The paper's beat alignment: the share of kinematic beats that lie within `tolerance`
    frames (inclusive; 5 = 200 ms at 25 fps) of some music beat, in [0, 1].

    `kinematic_beats`, `music_beats`: (n,) and (m,) frame indices (any order). NaN without
    kinematic beats; 0 with kinematic beats but no music beat."""
    return _share_near(_beats(kinematic_beats, "kinematic_beats"),
                       _beats(music_beats, "music_beats"), tolerance)


def beat_align_score(kinematic_beats: npt.ArrayLike, music_beats: npt.ArrayLike,
                     sigma: float = BAS_SIGMA, over: str = "music") -> float:
    """The beat-align score (BAS) of FACT / Bailando, in [0, 1] (1: every beat has a partner
    at distance 0):

        BAS = mean over beats b of the `over` set of exp(-d(b)^2 / (2 sigma^2)),

    d(b) the distance in frames from b to the nearest beat of the other set.

    Direction: Bailando's evaluation code (`utils/beat_align_score.py`, `BA`) averages over the
    MUSIC beats, each scored by its nearest kinematic beat; that is the default
    (`over="music"`). FACT / AIST++ (`alignment_score` in google-research/mint) averages over
    the KINEMATIC beats, each scored by its nearest music beat: `over="kinematic"`. Bailando
    also finds kinematic beats with forward differences at 60 fps; use `kinematic_beats` here.
    Note sigma is in frames: 3 frames is 120 ms at 25 fps but 50 ms at 60 fps (AIST++).

    NaN when the `over` set is empty; 0 when only the other set is.
    """
    kin = _beats(kinematic_beats, "kinematic_beats")
    music = _beats(music_beats, "music_beats")
    if over == "music":
        points, targets = music, kin
    elif over == "kinematic":
        points, targets = kin, music
    else:
        raise ValueError(f"over={over!r}: choose 'music' (Bailando) or 'kinematic' (FACT)")
    if len(points) == 0:
        return float("nan")
    if len(targets) == 0:
        return 0.0
    d = _nearest_distance(points, targets)
    return float(np.exp(-(d * d) / (2.0 * sigma * sigma)).mean())


def chroma_key_shift(chroma: np.ndarray) -> np.ndarray:
    """(..., T, 12) chroma -> (...) int64 semitones to roll the chroma columns up by so that
    the sequence's key becomes C major or A minor.

    The key is estimated by Krumhansl-Schmuckler (the profiles of `fugato.music.keys`) from
    the chroma summed over time: major on tonic k shifts by -k, minor on tonic k by 9 - k
    (relative keys share one shift, so a major / minor confusion between them costs nothing).
    A sequence whose summed chroma is flat has no key and is not shifted."""
    c = np.asarray(chroma, dtype=np.float64)
    if c.ndim < 2 or c.shape[-1] != 12:
        raise ValueError(f"chroma of shape {c.shape}: expected (..., T, 12)")
    histogram = c.sum(axis=-2)
    # (...) key index: 0..11 major, 12..23 minor
    best = histogram_key_correlations(histogram).argmax(axis=-1)
    tonic = best % 12
    shift = np.where(best < 12, -tonic, 9 - tonic) % 12
    return np.where(histogram.std(axis=-1) > 0, shift, 0).astype(np.int64)


def transpose_chroma(chroma: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """(..., T, 12) chroma with pitch class k moved to (k + shift) mod 12; `shift`: an int or
    (...) one per sequence."""
    c = np.asarray(chroma)
    s = np.asarray(shift, dtype=np.int64)
    index = (np.arange(12) - s[..., None]) % 12  # new column k reads old column k - shift
    return np.take_along_axis(c, np.broadcast_to(index[..., None, :], c.shape), axis=-1)


def notes_accuracy(pred_chroma: np.ndarray, true_chroma: np.ndarray) -> float:
    """Share of frames whose strongest pitch class (chroma argmax) agrees, after each sequence
    is transposed on its own to C major / A minor (`chroma_key_shift`), so a prediction in
    another key is not punished for the key. In [0, 1].

    `pred_chroma`, `true_chroma`: (..., T, 12) of the same shape (e.g. the `CHROMA` columns of
    music features); the key of each sequence (each index of the leading dimensions) is
    estimated separately. A silent (all-zero) frame has argmax C after transposition, so two
    silent frames agree. NaN for sequences without frames."""
    pred = np.asarray(pred_chroma, dtype=np.float64)
    true = np.asarray(true_chroma, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"pred_chroma {pred.shape} and true_chroma {true.shape} differ")
    if pred.shape[-2] == 0:
        return float("nan")
    a = transpose_chroma(pred, chroma_key_shift(pred)).argmax(axis=-1)
    b = transpose_chroma(true, chroma_key_shift(true)).argmax(axis=-1)
    return float((a == b).mean())


def chroma_l1(pred_chroma: np.ndarray, true_chroma: np.ndarray) -> float:
    """Mean absolute difference of two chroma arrays (..., T, 12) of one shape, each value in
    [0, 1] (features scaled to a frame maximum of 1): 0 for equal chroma."""
    pred, true = np.asarray(pred_chroma), np.asarray(true_chroma)
    if pred.shape != true.shape:
        raise ValueError(f"pred_chroma {pred.shape} and true_chroma {true.shape} differ")
    return float(np.abs(pred - true).mean())


def beat_hit_rate(pred_beats: npt.ArrayLike, true_beats: npt.ArrayLike,
                  tolerance: float = HIT_TOLERANCE) -> float:
    """Share of the true music beats with a predicted beat within `tolerance` frames
    (inclusive; default 2 = 80 ms at 25 fps), in [0, 1]: a recall, so extra predicted beats
    are not punished (report the predicted / true beat count beside it if that matters).
    NaN without true beats; 0 with true beats but no predicted beat."""
    return _share_near(_beats(true_beats, "true_beats"), _beats(pred_beats, "pred_beats"),
                       tolerance)
