"""Paired music-dance windows of the Tang 2018 set: alignment, cuts, split by dance, cache."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from shared_data import DATA, needs

from fugato.audio.features import BEAT, music_features
from fugato.errors import FugatoError
from fugato.motion import axis_angle_to_matrix, forward_kinematics, load_tang
from fugato.motion import dataset as dataset_module
from fugato.motion.dataset import DanceDataset, dance_split
from fugato.motion.representation import (
    DANCE_DIM,
    DANCE_TRANS,
    dance_positions,
    decode_dance,
    encode_dance,
    heading,
    turn,
)

TANG = DATA / "dance_tang2018"
needs_tang = needs("dance_tang2018/DANCE_C_1.mp3")

TANG_COUNTS = {"C": 8, "R": 10, "T": 9, "W": 34}


def _tang_names() -> list[str]:
    return [f"DANCE_{g}_{i}" for g, n in TANG_COUNTS.items() for i in range(1, n + 1)]


# -- the split ------------------------------------------------------------------------------------
def test_split_by_dance_stratified_with_same_music_together() -> None:
    names = _tang_names()
    split = dance_split(names, seed=0)
    parts = [set(split[s]) for s in ("train", "valid", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(names)
    assert [len(p) for p in parts] == [49, 6, 6]
    for genre in TANG_COUNTS:
        for part in parts[1:]:
            assert any(n.startswith(f"DANCE_{genre}_") for n in part)
    for seed in range(20):
        s = dance_split(names, seed=seed)
        side = [k for k, v in s.items() if "DANCE_T_1" in v]
        assert side and "DANCE_T_9" in s[side[0]]
    # the order of the names does not matter; the seed does
    assert dance_split(list(reversed(names)), seed=0) == split
    assert any(dance_split(names, seed=k) != split for k in range(1, 5))


def test_split_keeps_a_group_together_when_it_fits_a_quota() -> None:
    names = [f"DANCE_W_{i}" for i in range(1, 21)]  # quota 2 each for valid and test
    together = [("DANCE_W_3", "DANCE_W_4")]
    for seed in range(30):
        split = dance_split(names, seed=seed, together=together)
        assert [len(split[s]) for s in ("train", "valid", "test")] == [16, 2, 2]
        assert any({"DANCE_W_3", "DANCE_W_4"} <= set(v) for v in split.values())


# -- errors ---------------------------------------------------------------------------------------
def test_bad_folders_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(FugatoError, match="no such folder") as error:
        DanceDataset.load(tmp_path / "missing")
    assert "\n" not in str(error.value)
    with pytest.raises(FugatoError, match="no .npz dance files"):
        DanceDataset.load(tmp_path)
    np.savez(tmp_path / "DANCE_C_1.npz", smpl_poses=np.zeros((10, 72)),
             smpl_trans=np.zeros((10, 3)))
    with pytest.raises(FugatoError, match="no dance DANCE_C_2"):
        DanceDataset.load(tmp_path, names=["DANCE_C_2"])
    with pytest.raises(FugatoError, match="no dance could be read.*no such file") as error:
        DanceDataset.load(tmp_path, progress=False)  # the .mp3 is missing
    assert "\n" not in str(error.value)


# -- a synthetic dance: NaN in the middle, audio shorter than the motion -------------------------
def _synthetic_folder(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    frames = 300  # 12 s of motion, 10 s of audio
    poses = rng.normal(0, 0.4, size=(frames, 72)).astype(np.float32)
    poses[100:130] = np.nan
    trans = np.cumsum(rng.normal(0, 0.01, size=(frames, 3)), axis=0) + [1.0, 0.3, -2.0]
    np.savez(folder / "DANCE_W_1.npz", smpl_poses=poses, smpl_trans=trans.astype(np.float32),
             betas=np.zeros(10, np.float32), fps=np.float64(25))
    sr = 22050
    t = np.arange(10 * sr) / sr
    y = 0.2 * np.sin(2 * np.pi * 440 * t)
    clicks = (np.arange(len(t)) % (sr // 2)) < 200  # 120 BPM clicks
    y[clicks] += 0.8 * np.sin(2 * np.pi * 2000 * t[clicks])
    soundfile.write(folder / "DANCE_W_1.mp3", y.astype(np.float32), sr, format="MP3")


def test_cuts_at_audio_end_and_nan_windows_never_cross_them(tmp_path: Path) -> None:
    folder = tmp_path / "dances"
    _synthetic_folder(folder)
    ds = DanceDataset.load(folder, workers=1, progress=False)
    record = ds.dances["DANCE_W_1"]
    music = music_features(folder / "DANCE_W_1.mp3")
    n_audio = len(music)
    assert 245 <= n_audio <= 256  # 10 s of mp3 at 25 fps (+ encoder padding)
    assert record.audio_frames == n_audio
    assert record.audio_cut == 300 - n_audio
    assert record.nan_cut == 30
    np.testing.assert_array_equal(record.seg_starts, [0, 130])
    np.testing.assert_array_equal(record.seg_lengths, [100, n_audio - 130])
    stats = ds.stats()
    assert stats["audio_cut_frames"] == 300 - n_audio and stats["nan_cut_frames"] == 30
    assert stats["kept_frames"] == n_audio - 30

    w = ds.windows("all", length=75, stride=25)
    assert w.music.shape[1:] == (75, 53) and w.dance.shape[1:] == (75, DANCE_DIM)
    assert w.music.dtype == np.float32 and w.dance.dtype == np.float32
    np.testing.assert_array_equal(w.starts, [0, 25, 130, 155])
    for start in w.starts:  # inside one segment, never past the audio
        assert start + 75 <= 100 or (start >= 130 and start + 75 <= n_audio)
    assert not np.isnan(w.dance).any() and not np.isnan(w.music).any()
    # music rows are the song's features at the same frames
    np.testing.assert_array_equal(w.music, music[w.starts[:, None] + np.arange(75)])
    assert w.music[..., BEAT].sum() > 0
    # translation: x, z from the window's first frame; y above the dance's floor
    np.testing.assert_array_equal(w.dance[:, 0, DANCE_TRANS][:, [0, 2]], 0.0)
    source = load_tang(folder / "DANCE_W_1.npz")
    np.testing.assert_allclose(w.dance[:, :, DANCE_TRANS][..., 1],
                               source.trans[w.starts[:, None] + np.arange(75), 1] - record.floor,
                               atol=1e-6)
    assert w.uncovered == (n_audio - 130) - (25 + 75)  # the second segment's tail

    # whole segments, and the cache: a second load reads the same arrays without building
    segments = ds.segments("all")
    assert [s.start for s in segments] == [0, 130]
    assert [len(s.dance) for s in segments] == [100, n_audio - 130]
    again = DanceDataset.load(folder, workers=1, progress=False)
    np.testing.assert_array_equal(again.windows("all").dance, ds.windows("all").dance)
    assert ds.cache_path is not None
    cached = list(ds.cache_path.glob("*.npz"))
    assert len(cached) == 1 and not [p for p in ds.cache_path.iterdir() if p.name.startswith(".")]


# -- real dances (2 x 20 s) -----------------------------------------------------------------------
@needs_tang
def test_real_dances_windows_decode_to_the_source() -> None:
    names = ["DANCE_C_1", "DANCE_T_9"]
    ds = DanceDataset.load(TANG, names=names, max_seconds=20, workers=1, progress=False)
    assert ds.names == names and not ds.skipped
    w = ds.windows("all")
    assert w.music.shape == (12, 75, 53) and w.dance.shape == (12, 75, 147)
    assert np.isfinite(w.music).all() and np.isfinite(w.dance).all()
    assert sorted(set(w.names.tolist())) == names
    for name in names:
        source = load_tang(TANG / f"{name}.npz")
        mine = w.names == name
        index = w.starts[mine][:, None] + np.arange(75)
        # every window starts facing +z; turned back, it is the source
        np.testing.assert_allclose(heading(w.dance[mine][:, 0]), 0.0, atol=1e-5)
        source_heading = heading(encode_dance(source.poses[index[:, 0]],
                                              source.trans[index[:, 0]]))
        back = turn(w.dance[mine], source_heading[:, None])
        rotations, _ = decode_dance(back)
        np.testing.assert_allclose(rotations, axis_angle_to_matrix(source.poses[index]),
                                   atol=1e-5)
        # positions from the windows = the source's, moved by the normalisation
        floor = ds.dances[name].floor
        true = forward_kinematics(source.poses[index], source.trans[index])
        offset = source.trans[index[:, 0]][:, None, None, :] * [1, 0, 1] + [0, floor, 0]
        np.testing.assert_allclose(dance_positions(back), true - offset, atol=1e-4)
        assert 0.6 < w.dance[mine][..., 145].mean() < 1.2  # pelvis above the floor, metres
    # the split of a loaded dataset: by dance, no overlap
    assert sorted(sum(ds.split.values(), [])) == sorted(names)


def test_pool_build_and_identical_music_kept_together(tmp_path: Path) -> None:
    folder = tmp_path / "dances"
    _synthetic_folder(folder)
    for suffix in (".npz", ".mp3"):  # a second dance on byte-identical music
        (folder / f"DANCE_W_2{suffix}").write_bytes((folder / f"DANCE_W_1{suffix}").read_bytes())
    ds = DanceDataset.load(folder, max_seconds=4, workers=2, progress=False)
    assert ds.names == ["DANCE_W_1", "DANCE_W_2"] and not ds.skipped
    assert ds.same_music() == [["DANCE_W_1", "DANCE_W_2"]]
    assert any(set(ds.names) <= set(v) for v in ds.split.values())
    assert all(r.frames == 100 and r.audio_cut == 0 for r in ds.dances.values())
    np.testing.assert_array_equal(ds.dances["DANCE_W_1"].music, ds.dances["DANCE_W_2"].music)


def _copies(folder: Path, n: int) -> None:
    """n - 1 more dances on the synthetic folder's first one."""
    for i in range(2, n + 1):
        for suffix in (".npz", ".mp3"):
            (folder / f"DANCE_W_{i}{suffix}").write_bytes(
                (folder / f"DANCE_W_1{suffix}").read_bytes())


_PARENT = os.getpid()
_real_build_task = dataset_module._build_task


def _dies_in_a_worker(npz: str, max_seconds: float | None) -> tuple[str, Any]:
    """`_build_task`, except that a worker process running it dies at once."""
    if os.getpid() != _PARENT:
        os._exit(1)
    return _real_build_task(npz, max_seconds)


def test_a_dead_worker_is_a_crash_retried_in_the_parent_not_a_skipped_dance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "dances"
    _synthetic_folder(folder)
    _copies(folder, 3)
    monkeypatch.setattr(dataset_module, "_build_task", _dies_in_a_worker)
    ds = DanceDataset.load(folder, max_seconds=2, workers=2, progress=False)
    assert ds.names == ["DANCE_W_1", "DANCE_W_2", "DANCE_W_3"] and not ds.skipped


def test_a_data_set_mostly_skipped_stops_with_the_count(tmp_path: Path) -> None:
    folder = tmp_path / "dances"
    _synthetic_folder(folder)
    for i in (2, 3):
        (folder / f"DANCE_W_{i}.npz").write_bytes(b"not a dance")
    with pytest.raises(FugatoError, match="2 of 3 dances could not be read"):
        DanceDataset.load(folder, max_seconds=2, workers=1, progress=False)
    ds = DanceDataset.load(folder, max_seconds=2, workers=1, progress=False, max_skipped=1.0)
    assert ds.names == ["DANCE_W_1"] and len(ds.skipped) == 2


def test_pools_build_on_an_empty_numba_cache_never_crash(tmp_path: Path) -> None:
    """Two processes with two workers each, started together on a cold numba cache, then once
    more (loading what was written): before a lock let one process compile librosa's kernels
    while the others waited, their concurrent cache writes could leave a cache that segfaults
    every later call."""
    folder = tmp_path / "dances"
    _synthetic_folder(folder)
    _copies(folder, 2)
    script = ("import sys; from fugato.motion.dataset import DanceDataset; "
              "ds = DanceDataset.load(sys.argv[1], max_seconds=2, workers=2, progress=False, "
              "rebuild=True); assert not ds.skipped, ds.skipped")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    for processes in (2, 1):
        runs = [subprocess.Popen([sys.executable, "-c", script, str(folder)], text=True,
                                 env={**env, "FUGATO_CACHE": str(tmp_path / f"cache{i}")},
                                 stderr=subprocess.PIPE) for i in range(processes)]
        for run in runs:
            _, stderr = run.communicate(timeout=300)
            assert run.returncode == 0, stderr[-2000:]
    assert any((tmp_path / "numba").rglob("*.nbc"))


def test_turn_is_a_rigid_rotation_about_the_vertical_and_shifts_the_heading() -> None:
    rng = np.random.default_rng(4)
    dance = encode_dance(rng.normal(0, 0.7, (3, 5, 24, 3)), rng.normal(0, 0.3, (3, 5, 3)))
    turned = turn(dance, 0.7)
    np.testing.assert_allclose(np.angle(np.exp(1j * (heading(turned) - heading(dance)))), 0.7,
                               atol=1e-9)
    before = dance_positions(dance).reshape(3, -1, 3)
    after = dance_positions(turned).reshape(3, -1, 3)

    def distances(p: np.ndarray) -> np.ndarray:  # every joint of every frame to every other
        return np.linalg.norm(p[:, None] - p[:, :, None], axis=-1)

    np.testing.assert_allclose(distances(after), distances(before), atol=1e-9)
    np.testing.assert_allclose(after[..., 1], before[..., 1], atol=1e-9)  # heights stay
    np.testing.assert_allclose(turn(turned, -0.7), dance, atol=1e-12)


def test_a_span_given_as_int_or_float_is_one_cache_entry(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """2 and 2.0 seconds share one entry: keyed apart, each load removed the other's (same
    folder name) and every dualdance command rebuilt the features (80 s for the Tang set)."""
    folder = tmp_path / "dances"
    _synthetic_folder(folder)
    monkeypatch.setenv("FUGATO_CACHE", str(tmp_path / "cache"))
    built = []
    build_all = dataset_module._build_all

    def counting(paths: list[Path], *args: Any, **kwargs: Any) -> Any:
        built.extend(paths)
        yield from build_all(paths, *args, **kwargs)

    monkeypatch.setattr(dataset_module, "_build_all", counting)
    first = DanceDataset.load(folder, max_seconds=2, workers=1, progress=False)
    assert built and first.names
    built.clear()
    again = DanceDataset.load(folder, max_seconds=2.0, workers=1, progress=False)
    assert built == [] and again.names == first.names
