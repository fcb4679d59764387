"""The `fugato dance` tools: a dance for a whole song, music for a whole dance.

Both chain the nets' 75-frame windows: `choreograph` continues each window from the previous
window's last frame (one coordinate frame for the whole song); `compose` starts each window from
the chord of the previous window's composed last second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fugato.audio.features import N_FEATURES
from fugato.errors import FugatoError
from fugato.models.dualdance.task import (
    FLOOR_PLANE,
    DualDance,
    chord_index,
    chord_indices,
)
from fugato.motion.representation import FPS, dance_to_motion
from fugato.train.run import Run


def dance_task(run: Run) -> DualDance:
    """The run's task; FugatoError for a run of another model."""
    if not isinstance(run.task, DualDance):
        raise FugatoError(f"{run.path}: a {run.config.model!r} run, not a dualdance run")
    return run.task


def choreograph_features(task: DualDance, music: np.ndarray, start_pose: np.ndarray,
                         seed: int = 0) -> np.ndarray:
    """Music features (n, 53) of a whole song -> dance frames (n, 147) in one coordinate
    frame: windows overlap by one frame, each window's first pose is the previous window's
    last frame, normalised as in training (floor-plane translation 0, facing +z), and the
    window is turned back and moved to continue from there. The last window is padded with
    the song's last row when short."""
    from fugato.audio.features import pad_frames
    from fugato.motion.representation import heading, turn

    window = task.config.data.window
    n = len(music)
    if n == 0:
        raise FugatoError("no music frames")
    last = start_pose.astype(np.float32)[None]
    frames = [last]
    start = 0
    k = 0
    while start < n - 1 or k == 0:
        chunk, _ = pad_frames(music[start:start + window], window)
        yaw, origin = heading(last[0]), last[0, FLOOR_PLANE].copy()
        pose = last.copy()
        pose[:, FLOOR_PLANE] = 0.0
        pose = turn(pose, -yaw)
        out = task.generate_dance(chunk[None], pose, seed + k)[0]
        out[0] = pose[0]  # the given first pose, exactly
        out = turn(out, yaw)
        out[:, FLOOR_PLANE] += origin
        frames.append(out[1:])
        last = out[-1:]
        start += window - 1
        k += 1
    return np.concatenate(frames)[:n]


def choreograph(run: Run, music_path: str | Path, out: str | Path, seconds: float | None = None,
                seed: int = 0) -> list[Path]:
    """Dance to a song: `out/<song>.bvh`, `<song>-dance.npy` (n, 147) frames, `<song>.gif`
    (the first `sample.gif_seconds`) and `<song>.png` (a strip of poses). Returns the paths."""
    from fugato.atomic import atomic_path
    from fugato.audio.features import music_features
    from fugato.motion.bvh import write_bvh
    from fugato.motion.plot import plot_stick_strip, write_stick_gif
    from fugato.motion.representation import dance_positions

    task = dance_task(run)
    if task.start_pose is None:
        raise FugatoError(f"{run.path}: the checkpoint holds no start pose")
    if seconds is not None and not seconds > 0:
        raise FugatoError(f"--seconds {seconds} is not positive")
    music_path = Path(music_path)
    music = music_features(music_path, duration=seconds)  # BadInputError for a missing file
    dance = choreograph_features(task, music, task.start_pose, seed)
    if not np.isfinite(dance).all():
        raise FugatoError(f"{run.path}: the generated dance has NaN")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = music_path.stem
    paths = [out / f"{stem}.bvh", out / f"{stem}-dance.npy", out / f"{stem}.gif",
             out / f"{stem}.png"]
    write_bvh(paths[0], dance_to_motion(dance, stem))
    with atomic_path(paths[1]) as tmp, open(tmp, "wb") as f:
        np.save(f, dance)
    positions = dance_positions(dance)
    step = 2  # 12.5 fps is plenty for a stick figure
    shown = positions[: int(task.config.sample.gif_seconds * FPS)][::step]
    write_stick_gif(shown, paths[2], fps=FPS / step, title=f"{stem} (generated)")
    plot_stick_strip(positions, paths[3], frames=10, fps=FPS, title=f"{stem} (generated)")
    return paths


def motion_to_dance(path: str | Path, seconds: float | None = None) -> np.ndarray:
    """A Tang-style motion `.npz` or a BVH of the SMPL skeleton (as `fugato dance choreograph`
    writes it) -> (n, 147) dance frames of its longest valid segment (first `seconds`),
    resampled to 25 fps and normalised as one training window (x, z from the first frame, y
    above the segment's floor)."""
    from fugato.motion.bvh import motion_from_bvh
    from fugato.motion.data import load_tang, resample, split_valid
    from fugato.motion.dataset import FOOT_JOINTS, DanceRecord
    from fugato.motion.skeleton import forward_kinematics

    motion = motion_from_bvh(path) if Path(path).suffix.lower() == ".bvh" else load_tang(path)
    if motion.fps != FPS:
        motion = resample(motion, FPS)
    segments = split_valid(motion)
    if not segments:
        raise FugatoError(f"{path}: no valid (NaN-free) frame")
    longest = max(segments, key=len)
    if seconds is not None:
        longest = longest[: max(2, int(round(seconds * FPS)))]
    n = len(longest)
    if n < 2:
        raise FugatoError(f"{path}: the longest valid segment has {n} frame")
    feet = forward_kinematics(longest.poses, longest.trans)[:, FOOT_JOINTS, 1]
    record = DanceRecord(
        name=Path(path).stem, poses=longest.poses, trans=longest.trans,
        music=np.zeros((n, N_FEATURES), np.float32), seg_starts=np.array([longest.start]),
        seg_lengths=np.array([n]), frames=n, audio_frames=n, audio_cut=0, nan_cut=0,
        floor=float(np.median(feet.min(axis=1))), audio_md5="")
    return record.encode(np.arange(n)[None])[1][0]


def compose_frames(task: DualDance, dance: np.ndarray, chord: int, seed: int = 0
                   ) -> np.ndarray:
    """Dance frames (n, 147) -> composed (n, 13) chroma + beat, window by window (the last
    padded by repeating the last frame); each window after the first starts from the chord of
    the previous window's composed last second. Each window is normalised as in training
    (starting at x = z = 0, facing +z)."""
    from fugato.motion.representation import heading, turn

    window, frames = task.config.data.window, task.config.net.chord_frames
    n = len(dance)
    out = []
    for k, start in enumerate(range(0, n, window)):
        chunk = dance[start:start + window]
        chunk = np.pad(chunk, ((0, window - len(chunk)), (0, 0)), mode="edge")
        chunk[:, FLOOR_PLANE] -= chunk[:1, FLOOR_PLANE]
        chunk = turn(chunk, -heading(chunk[0]))
        music = task.generate_music(chunk[None], np.array([chord]), seed + k)[0]
        out.append(music)
        chord = int(chord_indices(music[-frames:, :12][None], frames)[0])
    return np.concatenate(out)[:n]


def compose(run: Run, motion_path: str | Path, out: str | Path, seconds: float | None = None,
            chord: str | None = None, seed: int = 0) -> list[Path]:
    """Music for a dance: `out/<motion>.mid` (a melody: one note per composed beat interval,
    pitch from the composed chroma, `fugato.music.chroma.chroma_to_melody`) and
    `<motion>-music.npy` (n, 13) chroma + beat. Returns the paths."""
    from fugato.atomic import atomic_path
    from fugato.music.chroma import beat_peaks, chroma_to_melody
    from fugato.music.io import write_midi

    task = dance_task(run)
    if seconds is not None and not seconds > 0:
        raise FugatoError(f"--seconds {seconds} is not positive")
    dance = motion_to_dance(motion_path, seconds)
    composed = compose_frames(task, dance, chord_index(chord or task.config.sample.chord), seed)
    stem = Path(motion_path).stem
    beats = beat_peaks(composed[:, 12], task.config.sample.beat_threshold)
    melody = chroma_to_melody(composed[:, :12], beats, fps=FPS,
                              title=f"fugato dualdance: music for {stem}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.mid", out / f"{stem}-music.npy"]
    write_midi(melody, paths[0])
    with atomic_path(paths[1]) as tmp, open(tmp, "wb") as f:
        np.save(f, composed)
    return paths
