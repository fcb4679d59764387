"""Dance motion files -> `Motion`: SMPL joint rotations and root translation per frame.

Two formats (see shared/data/README.md):

- Tang et al. 2018 ballroom dances, `DANCE_<G>_<n>.npz`: `smpl_poses` (N, 72) axis-angle,
  `smpl_trans` (N, 3) metres, `fps` = 25, music in the `.mp3` beside it. `DANCE_R_1` ends in
  606 NaN frames: `split_valid` cuts such frames out before anything reaches a model.
- AIST++ motion pickles: `smpl_poses` (N, 72), `smpl_trans` (N, 3) and `smpl_scaling` (1,) at
  60 fps. `smpl_trans / smpl_scaling` is the pelvis position in metres of the mean-shape SMPL
  body (the fit scales that body by `smpl_scaling` into the capture's centimetres), which is
  what `forward_kinematics` expects; the dancer's real size is `smpl_scaling / 100` times it.

Both are in the SMPL frame: y up. About 3% of the Tang axis-angles have norms above pi: they are
valid rotations, and every conversion here goes through rotation matrices or quaternions.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fugato.errors import BadInputError, one_line
from fugato.limits import MAX_SECONDS, MOTION_FPS, check_archive, check_most, check_range
from fugato.motion.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_rotation_6d,
    quaternion_slerp,
    quaternion_to_axis_angle,
)
from fugato.motion.skeleton import N_JOINTS, forward_kinematics

AISTPP_FPS = 60.0


@dataclass(frozen=True, eq=False)
class Motion:
    """One dance: `poses` (N, 24, 3) float32 SMPL local joint rotations as axis-angle (radians;
    joint 0 is the global orientation), `trans` (N, 3) float32 pelvis position in metres (y up),
    `fps` frames per second.

    `name` is the file stem; `source` the file it came from; `audio` the music file beside it,
    if any; `start` the index of frame 0 in the source file's frames at this `fps` (non-zero for
    a segment from `split_valid`), so `start / fps` seconds into the audio is where it begins.
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    name: str = ""
    source: Path | None = None
    audio: Path | None = None
    start: int = 0
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses, dtype=np.float32)
        if poses.ndim == 2 and poses.shape[1] == 3 * N_JOINTS:
            poses = poses.reshape(len(poses), N_JOINTS, 3)
        trans = np.asarray(self.trans, dtype=np.float32)
        if poses.ndim != 3 or poses.shape[1:] != (N_JOINTS, 3):
            raise ValueError(f"poses of shape {poses.shape}: expected (N, 24, 3) or (N, 72)")
        if trans.shape != (len(poses), 3):
            raise ValueError(f"trans of shape {trans.shape}: expected ({len(poses)}, 3)")
        if not self.fps > 0:
            raise ValueError(f"fps {self.fps!r} is not positive")
        object.__setattr__(self, "poses", poses)
        object.__setattr__(self, "trans", trans)

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def duration(self) -> float:
        """Seconds: frames / fps."""
        return len(self) / self.fps

    def replace(self, **changes: object) -> Motion:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __getitem__(self, index: slice) -> Motion:
        """Frames `index` (a slice with step 1), keeping `start` pointing into the source."""
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a Motion is sliced by a contiguous range of frames, motion[a:b]")
        begin, _, _ = index.indices(len(self))
        return self.replace(poses=self.poses[index], trans=self.trans[index],
                            start=self.start + begin)

    def matrices(self) -> np.ndarray:
        """(N, 24, 3, 3) float64 local rotation matrices."""
        return axis_angle_to_matrix(self.poses)

    def rotation_6d(self) -> np.ndarray:
        """(N, 24, 6) float64: first two columns of each local rotation matrix."""
        return matrix_to_rotation_6d(self.matrices())

    def positions(self) -> np.ndarray:
        """(N, 24, 3) float64 world joint positions in metres (mean-shape skeleton)."""
        return forward_kinematics(self.poses, self.trans)

    def valid_frames(self) -> np.ndarray:
        """(N,) bool: frames whose rotations and translation are all finite."""
        return (np.isfinite(self.poses).all(axis=(1, 2)) & np.isfinite(self.trans).all(axis=1))


class Segments(list[Motion]):
    """The valid segments of a motion, in time order; `dropped` frames were left out."""

    def __init__(self, segments: list[Motion], dropped: int, total: int) -> None:
        super().__init__(segments)
        self.dropped = dropped
        self.total = total


def split_valid(motion: Motion, min_frames: int = 1) -> Segments:
    """Cut frames with NaN or inf out of `motion`: the contiguous runs of valid frames, each
    a `Motion` whose `start` gives its place in the source. Runs shorter than `min_frames` are
    left out too; `Segments.dropped` counts every frame left out (invalid or in a short run)."""
    valid = motion.valid_frames()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    segments = [motion[int(a):int(b)] for a, b in edges.reshape(-1, 2) if b - a >= min_frames]
    kept = sum(len(s) for s in segments)
    return Segments(segments, dropped=len(motion) - kept, total=len(motion))


def resample(motion: Motion, fps: float) -> Motion:
    """The motion at a new frame rate: frame k at time `k / fps` seconds, for every such time
    within the source's span (first to last frame). Joint rotations by slerp between the two
    neighbouring source frames (per joint, along the shorter arc), translation linearly.

    A frame whose time coincides with a source frame reproduces it (up to float32 rounding);
    NaN in a neighbouring source frame gives NaN (cut it out with `split_valid` afterwards).
    `start` is rescaled to the new rate.
    """
    if not fps > 0:
        raise ValueError(f"fps {fps!r} is not positive")
    n = len(motion)
    if fps == motion.fps or n == 0:
        return motion.replace(fps=float(fps))
    # tiny tolerance so a last frame that lands exactly on the last source frame is kept
    count = int(math.floor((n - 1) * fps / motion.fps + 1e-9)) + 1
    position = np.arange(count) * motion.fps / fps  # in source frames; k * 60 / 25 is exact
    lo = np.minimum(np.floor(position + 1e-9).astype(np.int64), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    w = np.clip(position - lo, 0.0, 1.0)
    w[w < 1e-9] = 0.0
    q = axis_angle_to_quaternion(motion.poses)  # (n, 24, 4)
    qs = quaternion_slerp(q[lo], q[hi], np.broadcast_to(w[:, None], (count, N_JOINTS)))
    # keep the source's own axis-angle where no interpolation happens (exact, any norm)
    poses = np.where((w == 0)[:, None, None], motion.poses[lo], quaternion_to_axis_angle(qs))
    trans = (1 - w)[:, None] * motion.trans[lo] + w[:, None] * motion.trans[hi]
    start = int(round(motion.start * fps / motion.fps))
    return motion.replace(poses=poses, trans=trans, fps=float(fps), start=start)


def check_motion(path: object, frames: int, fps: float) -> None:
    """`BadInputError` naming the file for a motion whose frame rate (frames per second) is
    outside `fugato.limits.MOTION_FPS`, or that lasts over `MAX_SECONDS` (frames / fps): a
    file's declared rate, checked before its frames are read or resampled."""
    check_range(path, "frame rate", fps, MOTION_FPS, "fps")
    check_most(path, "motion of", frames / fps, MAX_SECONDS, "seconds")


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise BadInputError(path, "no such file")


def _load_pickle(path: Path) -> object:
    """The object in a pickle file; `BadInputError` naming the file if it cannot be read.
    Only open pickles you trust: unpickling can run code."""
    _require_file(path)
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as error:  # pickle raises many types on a bad file
        raise BadInputError(path, f"not a readable pickle ({type(error).__name__})") from None


def _array(data: object, key: str, path: Path) -> np.ndarray:
    try:
        value = data[key]  # type: ignore[index]
    except (KeyError, IndexError, TypeError, ValueError):
        raise BadInputError(path, f"no '{key}' entry") from None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(path, f"'{key}' is not numeric") from None


def _checked(poses: np.ndarray, trans: np.ndarray, path: Path) -> None:
    if poses.ndim != 2 or poses.shape[1] != 3 * N_JOINTS or len(poses) == 0:
        raise BadInputError(path, f"smpl_poses has shape {poses.shape}, expected (N, 72)")
    if trans.shape != (len(poses), 3):
        raise BadInputError(path, f"smpl_trans has shape {trans.shape}, "
                                  f"expected ({len(poses)}, 3) to match smpl_poses")


def load_tang(path: str | Path) -> Motion:
    """A `DANCE_<G>_<n>.npz` file of the Tang et al. 2018 set (25 fps, metres); `audio` is the
    `.mp3` beside it when there is one, `metadata['betas']` the fitted (10,) shape (unused by
    the mean-shape skeleton). NaN frames are kept: pass the result through `split_valid`.
    What the archive inflates to, the frame rate and the duration are checked against
    `fugato.limits` (`check_archive`, `check_motion`) before the frames are used."""
    path = Path(path)
    _require_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive(archive, path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, MemoryError) as error:
        # MemoryError: an array header declaring more than the member holds
        raise BadInputError(path, f"not a readable .npz file ({one_line(error)})") from None
    poses = _array(arrays, "smpl_poses", path)
    trans = _array(arrays, "smpl_trans", path)
    _checked(poses, trans, path)
    try:
        fps = float(np.asarray(arrays.get("fps", 25.0)).reshape(()))
    except (TypeError, ValueError):
        raise BadInputError(path, "fps is not one number") from None
    check_motion(path, len(poses), fps)
    metadata: dict[str, object] = {}
    if "betas" in arrays:
        metadata["betas"] = np.asarray(arrays["betas"], dtype=np.float32)
    audio = path.with_suffix(".mp3")
    return Motion(poses, trans, fps, name=path.stem, source=path,
                  audio=audio if audio.is_file() else None, metadata=metadata)


def load_aistpp(path: str | Path, fps: float | None = 25.0) -> Motion:
    """An AIST++ motion pickle (60 fps), translation divided by `smpl_scaling` (see the module
    docstring for its units), resampled to `fps` (None: keep 60 fps). AIST++ has no audio in
    shared/data: `audio` is None. Only open pickles you trust: unpickling can run code."""
    path = Path(path)
    data = _load_pickle(path)
    if not isinstance(data, dict):
        raise BadInputError(path, f"holds a {type(data).__name__}, expected a dict")
    poses = _array(data, "smpl_poses", path)
    trans = _array(data, "smpl_trans", path)
    scaling = _array(data, "smpl_scaling", path).reshape(-1)
    _checked(poses, trans, path)
    if scaling.shape != (1,) or not scaling[0] > 0:
        raise BadInputError(path, f"smpl_scaling {scaling} is not one positive number")
    metadata: dict[str, object] = {"smpl_scaling": float(scaling[0])}
    if "smpl_loss" in data and np.size(data["smpl_loss"]) == 1:  # the fit's residual
        metadata["smpl_loss"] = float(np.asarray(data["smpl_loss"], dtype=np.float64))
    motion = Motion(poses, trans / scaling[0], AISTPP_FPS, name=path.stem, source=path,
                    metadata=metadata)
    return motion if fps is None else resample(motion, fps)


def load_aistpp_keypoints(path: str | Path, optimised: bool = True) -> np.ndarray:
    """(N, 17, 3) float64 COCO-order 3D keypoints of an AIST++ `keypoints3d/*.pkl` file, in
    the capture's centimetres at 60 fps (divide by the motion's `smpl_scaling` to compare with
    forward kinematics). `optimised`: the `keypoints3d_optim` entry, without the NaN that the
    raw triangulation `keypoints3d` has in some frames."""
    path = Path(path)
    data = _load_pickle(path)
    key = "keypoints3d_optim" if optimised else "keypoints3d"
    points = _array(data, key, path)
    if points.ndim != 3 or points.shape[1:] != (17, 3):
        raise BadInputError(path, f"{key} has shape {points.shape}, expected (N, 17, 3)")
    return points
