"""The dance metrics of the field, beside fugato's own (`fugato.metrics.dance`).

Every definition was read in its authors' evaluation code and rewritten here vectorised; the
time constants the authors set in frames of 60 fps AIST++ motion (`FIELD_FPS`) are kept in
seconds, so that 25 fps Tang dances (`fugato.motion.representation.FPS`) are measured over the
same time spans. Positions are (..., T, 24, 3) SMPL joints in metres, y up (`dance_positions`);
beats are ascending integer frame indices.

Music -> dance:

- `kinetic_features` (72 per motion) and `geometric_features` (32): the kinetic and the
  geometric ("manual", Mueller et al. 2005) features of FACT (Li et al. 2021,
  google-research/mint `tools/calculate_scores.py`) and Bailando (Siyao et al. 2022,
  lisiyao21/Bailando `utils/features/`, `utils/metrics_new.py`).
- `feature_fid` (FID_k, FID_g): the Frechet distance of `fugato.metrics.fid` between the
  features of two motion sets, both standardised by the reference set's mean and standard
  deviation (lower is better).
- `feature_diversity` (Div_k, Div_g): the mean pairwise Euclidean distance between the
  standardised features of a set (Bailando's `calculate_avg_distance`); closer to the real
  dances' value is better.
- `beat_align_bailando`, `beat_align_fact`: the beat-align score (BAS) computed Bailando's way
  (over the music beats, kinematic beats from the smoothed joint speed) and FACT's way (over
  the motion beats, minima of the unsmoothed speed within +-167 ms); higher is better.
- `physical_foot_contact` (PFC, Tseng et al. 2023, Stanford-TML/EDGE `eval/eval_pfc.py`): foot
  skating weighted by the root's acceleration; lower is better.

Dance -> music:

- `beat_coverage_hit`, `beat_f1`: the beat coverage and beat hit scores of D2M-GAN (Zhu et al.
  2022, L-YeZhu/Beats_Scores) and LORIS (Yu et al. 2023, OpenGVLab/LORIS `beats_scores.py`),
  and their harmonic mean: beats counted in time bins, composed music beats against the
  dance's kinematic beats (`fugato.metrics.dance.kinematic_beats`).

What each ranks right on real Tang dances (real > jittered > another song's > noise) is tested
in tests/test_dance_field_metrics.py; the orderings a metric gets wrong are listed there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import argrelextrema
from scipy.spatial.distance import pdist

from fugato.metrics.dance import beat_align_score, joint_speed, kinematic_beats
from fugato.metrics.fid import fid
from fugato.motion.representation import FPS
from fugato.motion.skeleton import N_JOINTS, SMPL_JOINT_NAMES, rest_positions

FIELD_FPS = 60
"""Frames per second of AIST++, the rate at which FACT, Bailando and D2M-GAN set their
frame-count constants; EDGE resamples to 30 fps (`PFC_FPS`)."""

BAS_SIGMA_SECONDS = 3 / FIELD_FPS
"""The beat-align score's Gaussian width: 3 frames at 60 fps, 50 ms (1.25 frames at 25 fps)."""

BAILANDO_SMOOTHING_SECONDS = 5 / FIELD_FPS
"""Bailando smooths the mean joint speed with a Gaussian of 5 frames at 60 fps, 83 ms."""

FACT_ORDER_SECONDS = 10 / FIELD_FPS
"""FACT's motion beats are speed minima below every frame within 10 frames at 60 fps (167 ms;
4 frames at 25 fps) on either side."""

KINETIC_WINDOW_SECONDS = 2 / FIELD_FPS
"""The kinetic features average velocities over +-2 frames at 60 fps (33 ms each side; at
25 fps the nearest whole count, 1 frame)."""

PFC_FPS = 30
"""EDGE's frame rate: its foot speeds are metres per 1/30 s frame."""

PFC_SCALE = 1e4
"""EDGE multiplies the mean of the PFC term by 10^4."""

BEAT_BIN_SECONDS = 0.2
"""Time bins of the beat coverage and hit scores: 5 Hz, as in later D2M reimplementations;
D2M-GAN and LORIS count beats per second (`bin_seconds=1`), too coarse for 3 s windows."""

_REST = rest_positions()
_J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
HUMERUS = float(np.linalg.norm(_REST[_J["left_elbow"]] - _REST[_J["left_shoulder"]]))
"""hl: the mean-shape humerus length, 0.257 m; with `SHOULDER_WIDTH` (sw, 0.391 m) and
`HIP_WIDTH` (hw, 0.119 m) equal to Bailando's constants (the same SMPL rest joints)."""
SHOULDER_WIDTH = float(np.linalg.norm(_REST[_J["left_shoulder"]] - _REST[_J["right_shoulder"]]))
HIP_WIDTH = float(np.linalg.norm(_REST[_J["left_hip"]] - _REST[_J["right_hip"]]))

_EXTRA = ("zero", "y_unit", "minus_y_unit", "y_min")
_POINT = {**_J, **{name: N_JOINTS + i for i, name in enumerate(_EXTRA)}}

# Bailando's 32 boolean features (`utils/features/manual_new.py`) in its order: (kind, points,
# threshold). Thresholds in metres (times hl, sw, hw), degrees (angle), or m/s (move, nmove,
# fast): Bailando writes k * hl for velocities measured per 1/120 s but measures 60 fps frames,
# so the speed that applies is k * hl / 2 per second, the value here. Point names: SMPL joints
# (`SMPL_JOINT_NAMES`), the origin, +-y unit vectors, and (0, lowest joint height, 0).
_V = HUMERUS / 2
GEOMETRIC_FEATURES: tuple[tuple[str, tuple[str, ...], float | tuple[float, float]], ...] = (
    ("nmove", ("neck", "right_hip", "left_hip", "right_wrist"), 1.8 * _V),
    ("nmove", ("neck", "left_hip", "right_hip", "left_wrist"), 1.8 * _V),
    ("nplane", ("spine3", "neck", "neck", "right_wrist"), 0.2 * HUMERUS),
    ("nplane", ("spine3", "neck", "neck", "left_wrist"), 0.2 * HUMERUS),
    ("move", ("spine1", "spine3", "right_wrist"), 1.8 * _V),
    ("move", ("spine1", "spine3", "left_wrist"), 1.8 * _V),
    ("angle", ("right_elbow", "right_shoulder", "right_elbow", "right_wrist"), (0, 110)),
    ("angle", ("left_elbow", "left_shoulder", "left_elbow", "left_wrist"), (0, 110)),
    ("nplane", ("left_shoulder", "right_shoulder", "left_wrist", "right_wrist"),
     2.5 * SHOULDER_WIDTH),
    ("move", ("left_wrist", "right_wrist", "right_wrist"), 1.4 * _V),
    ("move", ("right_wrist", "pelvis", "left_wrist"), 1.4 * _V),
    ("move", ("left_wrist", "pelvis", "right_wrist"), 1.4 * _V),
    ("fast", ("right_wrist",), 2.5 * _V),
    ("fast", ("left_wrist",), 2.5 * _V),
    ("plane", ("pelvis", "left_hip", "left_foot", "right_ankle"), 0.38 * HUMERUS),
    ("plane", ("pelvis", "right_hip", "right_foot", "left_ankle"), 0.38 * HUMERUS),
    ("nplane", ("zero", "y_unit", "y_min", "right_ankle"), 1.2 * HUMERUS),
    ("nplane", ("zero", "y_unit", "y_min", "left_ankle"), 1.2 * HUMERUS),
    ("nplane", ("left_hip", "right_hip", "left_ankle", "right_ankle"), 2.1 * HIP_WIDTH),
    ("angle", ("right_knee", "right_hip", "right_knee", "right_ankle"), (0, 110)),
    ("angle", ("left_knee", "left_hip", "left_knee", "left_ankle"), (0, 110)),
    ("fast", ("right_ankle",), 2.5 * _V),
    ("fast", ("left_ankle",), 2.5 * _V),
    ("angle", ("neck", "pelvis", "right_shoulder", "right_elbow"), (25, 180)),
    ("angle", ("neck", "pelvis", "left_shoulder", "left_elbow"), (25, 180)),
    ("angle", ("neck", "pelvis", "right_hip", "right_knee"), (50, 180)),
    ("angle", ("neck", "pelvis", "left_hip", "left_knee"), (50, 180)),
    ("plane", ("right_ankle", "neck", "left_ankle", "pelvis"), 0.5 * HUMERUS),
    ("angle", ("neck", "pelvis", "zero", "y_unit"), (70, 110)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "right_wrist"), -1.2 * HUMERUS),
    ("nplane", ("zero", "minus_y_unit", "y_min", "left_wrist"), -1.2 * HUMERUS),
    ("fast", ("pelvis",), 2.3 * _V),
)
"""The geometric features: see `geometric_features`."""


def _motion(positions: np.ndarray, min_frames: int = 3) -> np.ndarray:
    x = np.asarray(positions, dtype=np.float64)
    if x.ndim < 3 or x.shape[-2:] != (N_JOINTS, 3) or x.shape[-3] < min_frames:
        raise ValueError(f"positions of shape {x.shape}: expected (..., T >= {min_frames}, "
                         f"{N_JOINTS}, 3) SMPL joints")
    return x


def kinetic_features(positions: np.ndarray, fps: float = FPS,
                     window: int | None = None) -> np.ndarray:
    """(..., T, 24, 3) positions in metres -> (..., 72) float64 kinetic features of each
    motion: per joint (joint-major), the mean over frames of its horizontal (x, z) and
    vertical (y) squared speed, m^2/s^2, and of its acceleration magnitude, m/s^2.

    As fairmotion / FACT / Bailando (`KineticFeatures`): the velocity at frame i = 1..T-1 is
    the mean of the frame differences p[k] - p[k-1] for k within `window` frames of i (those
    that exist), the acceleration the mean of p[k+1] - 2 p[k] + p[k-1] over the same k (those
    with both neighbours). `window`: frames each side (default: 33 ms, `KINETIC_WINDOW_SECONDS`,
    rounded, at least 1). Deviation: their `calc_average_acceleration` computes
    v1 = p[k] - p[k-1] / dt, dividing p[k-1] alone by dt (an operator precedence slip that turns
    the "energy expenditure" into a position term); this is the acceleration it means."""
    x = _motion(positions)
    w = window if window is not None else max(1, round(KINETIC_WINDOW_SECONDS * fps))
    t = x.shape[-3]
    i = np.arange(1, t)
    lo, hi = np.maximum(i - w, 1), np.minimum(i + w, t - 1)  # sum of p[k] - p[k-1], k = lo..hi
    velocity = (x[..., hi, :, :] - x[..., lo - 1, :, :]) * fps / (hi - lo + 1)[:, None, None]
    horizontal = (velocity[..., 0] ** 2 + velocity[..., 2] ** 2).mean(axis=-2)
    vertical = (velocity[..., 1] ** 2).mean(axis=-2)
    hi_a = np.minimum(i + w, t - 2)  # second differences need k + 1 <= T - 1
    ok = hi_a >= lo
    lo, hi_a = lo[ok], hi_a[ok]
    # sum over k = lo..hi of (p[k+1] - p[k]) - (p[k] - p[k-1]) telescopes
    accel = ((x[..., hi_a + 1, :, :] - x[..., hi_a, :, :]) - (x[..., lo, :, :]
             - x[..., lo - 1, :, :])) * fps**2 / (hi_a - lo + 1)[:, None, None]
    energy = np.linalg.norm(accel, axis=-1).mean(axis=-2)
    return np.stack([horizontal, vertical, energy], axis=-1).reshape(*x.shape[:-3], 3 * N_JOINTS)


def _with_extra_points(x: np.ndarray) -> np.ndarray:
    """(..., 24, 3) -> (..., 28, 3): the joints, then `_EXTRA`'s points."""
    extra = np.zeros((*x.shape[:-2], len(_EXTRA), 3))
    extra[..., 1, 1], extra[..., 2, 1] = 1.0, -1.0
    extra[..., 3, 1] = x[..., 1].min(axis=-1)
    return np.concatenate([x, extra], axis=-2)


def _unit(v: np.ndarray) -> np.ndarray:
    """Vectors (..., 3) scaled to length 1; NaN for zero vectors (their features are False)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _geometric(kind: str, now: list[np.ndarray], before: list[np.ndarray],
               threshold: float | tuple[float, float], fps: float) -> np.ndarray:
    """One feature per frame (..., T-1) bool; `now` / `before` its points at frames t, t-1."""
    a, b = now, before
    with np.errstate(invalid="ignore"):
        if kind == "move":  # velocity of a2 relative to a0, along a0 -> a1
            v = ((a[2] - a[0]) - (b[2] - b[0])) * fps
            return _dot(v, _unit(a[1] - a[0])) > threshold
        if kind == "nmove":  # velocity of a3 relative to a0, along the normal of a0 a1 a2
            v = ((a[3] - a[0]) - (b[3] - b[0])) * fps
            return _dot(v, _unit(np.cross(a[2] - a[0], a[1] - a[0]))) > threshold
        if kind == "plane":  # a3's signed distance from the plane through a0 a1 a2
            return _dot(a[3] - a[0], _unit(np.cross(a[2] - a[0], a[1] - a[0]))) > threshold
        if kind == "nplane":  # a3's distance from the plane through a2 with normal a1 - a0
            return _dot(a[3] - a[2], _unit(a[1] - a[0])) > threshold
        if kind == "angle":  # the angle between a1 - a0 and a3 - a2, degrees, open range
            lo, hi = threshold  # type: ignore[misc]
            cos = _dot(_unit(a[1] - a[0]), _unit(a[3] - a[2]))
            angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
            return (angle > lo) & (angle < hi)
        if kind == "fast":
            return np.linalg.norm(a[0] - b[0], axis=-1) * fps > threshold
    raise ValueError(f"unknown geometric feature kind {kind!r}")


def geometric_features(positions: np.ndarray, fps: float = FPS) -> np.ndarray:
    """(..., T, 24, 3) positions in metres -> (..., 32) float64 geometric features of each
    motion, each in [0, 1]: the share of frames t = 1..T-1 where each of Bailando's 32 boolean
    pose and motion relations holds (`GEOMETRIC_FEATURES`, after Mueller, Roeder and Clausen
    2005): hands, feet and pelvis fast; a hand moving across the trunk's plane, up the spine,
    away from the other hand or along the line to the pelvis; a hand above the neck or near
    the floor, the hands wide apart; elbows and knees bent; a foot raised, off the other leg's
    plane, the feet wide; an arm or a leg lifted from the trunk's axis; the hips out of the
    ankles-neck plane; the trunk lying. Velocities are frame differences (t - 1 to t) times
    `fps`; lengths scale with the mean-shape body (`HUMERUS`, `SHOULDER_WIDTH`, `HIP_WIDTH`).

    All 32 are implemented: each is a plain geometric relation of joints FK gives. Deviations
    from Bailando's code (`manual_new.py`): features 5-6 ("a hand moves up") take the wrist's
    velocity as Mueller defines them, where Bailando's arguments take the chest's (relative to
    the spine, constant for a rigid spine: always False); velocity thresholds are the speeds
    Bailando's code applies at 60 fps (see `GEOMETRIC_FEATURES`)."""
    x = _with_extra_points(_motion(positions, 2))
    now, before = x[..., 1:, :, :], x[..., :-1, :, :]
    columns = []
    for kind, points, threshold in GEOMETRIC_FEATURES:
        index = [_POINT[p] for p in points]
        rel = _geometric(kind, [now[..., j, :] for j in index],
                         [before[..., j, :] for j in index], threshold, fps)
        columns.append(rel.mean(axis=-1))
    return np.stack(columns, axis=-1)


def standardise(features: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features, reference), (N, F) and (M, F), both standardised by the reference's mean and
    standard deviation (FACT's and Bailando's normalisation before FID and diversity), without
    the features that are constant over the reference: Bailando divides them by 1e-10, which
    turns any generated deviation into a distance of 10^10; they carry no scale to measure in."""
    f = np.asarray(features, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if f.ndim != 2 or r.ndim != 2 or f.shape[1] != r.shape[1]:
        raise ValueError(f"features {f.shape} and reference {r.shape}: expected (N, F), (M, F)")
    mean, std = r.mean(axis=0), r.std(axis=0)
    keep = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    return (f[:, keep] - mean[keep]) / std[keep], (r[:, keep] - mean[keep]) / std[keep]


def feature_fid(features: np.ndarray, reference: np.ndarray) -> float:
    """FID_k / FID_g: the Frechet distance (`fugato.metrics.fid.fid`) between the Gaussians of
    two feature sets (N, F) and (M, F) (kinetic or geometric features, one row per motion),
    after `standardise` by the reference; in squared standard deviations, lower is better.
    Needs N, M >= 2 (and well over F for a stable covariance)."""
    f, r = standardise(features, reference)
    if len(f) < 2 or len(r) < 2:
        raise ValueError(f"FID needs at least 2 motions a side, got {len(f)} and {len(r)}")
    return fid(f, r)


def feature_diversity(features: np.ndarray, reference: np.ndarray) -> float:
    """Div_k / Div_g: the mean Euclidean distance between the rows of (N, F) features, N >= 2,
    over the N (N - 1) / 2 pairs, after `standardise` by the (M, F) reference, in standard
    deviations. Closer to the real dances' value is better (an ideal model is as varied as the
    real dances, no more); pass the reference as `features` for the real value."""
    f, _ = standardise(features, reference)
    if len(f) < 2:
        raise ValueError(f"diversity needs at least 2 motions, got {len(f)}")
    return float(pdist(f).mean())


def bailando_kinematic_beats(positions: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Bailando's kinematic beats of one motion (T, 24, 3): strict local minima of the mean
    joint speed smoothed by a Gaussian of `BAILANDO_SMOOTHING_SECONDS` (83 ms; `kinematic_beats`
    with that smoothing). (n,) int64 frames."""
    return kinematic_beats(positions, smoothing=BAILANDO_SMOOTHING_SECONDS * fps, fps=fps)


def fact_motion_beats(positions: np.ndarray, fps: float = FPS) -> np.ndarray:
    """FACT's motion beats of one motion (T, 24, 3): frames whose mean joint speed (unsmoothed)
    is below that of every other frame within `FACT_ORDER_SECONDS` (167 ms) on either side
    (`scipy.signal.argrelextrema(speed, np.less, order)`, near the ends comparing with the
    frames that exist). (n,) int64 frames. Deviation: the speed is by central differences
    (`joint_speed`), where FACT's backward differences put it half a frame early."""
    x = _motion(positions, 2)
    if x.ndim != 3:
        raise ValueError(f"positions of shape {x.shape}: expected (T, 24, 3) for one motion")
    order = max(1, round(FACT_ORDER_SECONDS * fps))
    return argrelextrema(joint_speed(x, fps), np.less, order=order)[0].astype(np.int64)


def beat_align_bailando(positions: np.ndarray, music_beats: npt.ArrayLike,
                        fps: float = FPS) -> float:
    """The beat-align score Bailando's way (`utils/beat_align_score.py`, `BA`): the mean over
    the music beats of exp(-d^2 / (2 sigma^2)), d the time to the nearest
    `bailando_kinematic_beats` beat, sigma = 50 ms (`BAS_SIGMA_SECONDS`). In [0, 1], higher is
    better; NaN without music beats, 0 without kinematic beats. `positions`: (T, 24, 3)."""
    return beat_align_score(bailando_kinematic_beats(positions, fps), music_beats,
                            sigma=BAS_SIGMA_SECONDS * fps, over="music")


def beat_align_fact(positions: np.ndarray, music_beats: npt.ArrayLike,
                    fps: float = FPS) -> float:
    """The beat-align score FACT's way (mint `tools/calculate_beat_scores.py`,
    `alignment_score`): the mean over the `fact_motion_beats` of exp(-d^2 / (2 sigma^2)), d the
    time to the nearest music beat, sigma = 50 ms. In [0, 1], higher is better; NaN without
    motion beats (FACT returns 0), 0 without music beats. `positions`: (T, 24, 3)."""
    return beat_align_score(fact_motion_beats(positions, fps), music_beats,
                            sigma=BAS_SIGMA_SECONDS * fps, over="kinematic")


def physical_foot_contact(positions: np.ndarray, fps: float = FPS) -> float:
    """EDGE's physical foot contact score (PFC) of motions (..., T, 24, 3), T >= 3, averaged
    over motions: lower is better (0: a foot rests whenever the root accelerates).

        PFC = 10^4 * mean over frames t of  a(t) / max_t a(t) * v_L(t) * v_R(t)

    a: the root's (pelvis) acceleration magnitude, its upward component clamped at 0 (falling
    needs no support); v_L, v_R: the slower of each foot's two joints (ankle, toe) in
    horizontal speed, in metres per 1/30 s (EDGE's 30 fps frame), so the value does not depend
    on `fps`. A motion whose root never accelerates scores 0. Deviation: velocities and
    accelerations are central differences at the same frame t = 1..T-2, where EDGE pairs the
    acceleration at t with the foot velocity from t to t + 1."""
    x = _motion(positions)
    root = x[..., 0, :]
    accel = (root[..., 2:, :] - 2 * root[..., 1:-1, :] + root[..., :-2, :]) * fps**2
    accel[..., 1] = np.maximum(accel[..., 1], 0.0)
    a = np.linalg.norm(accel, axis=-1)
    peak = a.max(axis=-1, keepdims=True)
    a = np.divide(a, peak, out=np.zeros_like(a), where=peak > 0)
    feet = x[..., [_J["left_ankle"], _J["left_foot"], _J["right_ankle"], _J["right_foot"]], :]
    step = feet[..., 2:, :, :] - feet[..., :-2, :, :]
    speed = np.hypot(step[..., 0], step[..., 2]) * fps / 2 / PFC_FPS  # (..., T-2, 4)
    left, right = speed[..., :2].min(axis=-1), speed[..., 2:].min(axis=-1)
    return float(PFC_SCALE * (a * left * right).mean())


def _bins(beats: npt.ArrayLike, frames: int, width: float) -> np.ndarray:
    b = np.asarray(beats)
    if b.ndim != 1:
        raise ValueError(f"beats of shape {b.shape}: expected (n,) frame indices")
    b = b[(b >= 0) & (b < frames)]
    occupied = np.zeros(int(np.ceil(frames / width)), dtype=bool)
    occupied[(b // width).astype(np.int64)] = True
    return occupied


def beat_coverage_hit(music_beats: npt.ArrayLike, kinematic_beats: npt.ArrayLike,
                      frames: int, fps: float = FPS,
                      bin_seconds: float = BEAT_BIN_SECONDS) -> tuple[float, float]:
    """(coverage, hit) of music beats against a dance's kinematic beats, in [0, 1], higher is
    better for both. The `frames` of a window are cut into bins of `bin_seconds` (5 Hz; 1 s in
    D2M-GAN and LORIS) and a bin holds a beat or not: B_t bins hold a kinematic beat (the
    reference), B_g a music beat, B_a both.

    - hit = B_a / B_t (D2M-GAN's and LORIS's beat hit score: a recall, which dense beats win);
    - coverage = B_a / B_g (LORIS's beat coverage score: a precision). D2M-GAN's coverage,
      B_g / B_t (a count ratio, best at 1), is hit / coverage.

    fugato's rule for empty sets: hit is NaN without kinematic beats, coverage NaN without music
    beats; either is 0 when only the other set is empty. Beats outside 0..frames-1 are ignored."""
    width = bin_seconds * fps
    if width <= 0 or frames < 1:
        raise ValueError(f"bin_seconds {bin_seconds} and frames {frames} must be positive")
    music = _bins(music_beats, frames, width)
    dance = _bins(kinematic_beats, frames, width)
    both = int((music & dance).sum())
    hit = both / dance.sum() if dance.any() else float("nan")
    coverage = both / music.sum() if music.any() else float("nan")
    return float(coverage), float(hit)


def beat_f1(coverage: float, hit: float) -> float:
    """The harmonic mean of `beat_coverage_hit`'s coverage (precision) and hit (recall): LORIS's
    F1 (`beats_scores.py`), which it takes of the coverage and hit averaged over the clips
    (pass the means). 0 when both are 0; NaN when either is."""
    if np.isnan(coverage) or np.isnan(hit):
        return float("nan")
    total = coverage + hit
    return float(2 * coverage * hit / total) if total > 0 else 0.0
