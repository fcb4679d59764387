"""Dance motion: rotation conversions, forward kinematics against AIST++ keypoints, loaders,
resampling, BVH round trips, plots and bad files."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from shared_data import DATA, needs

from fugato.errors import FugatoError
from fugato.motion import (
    COCO_TO_SMPL,
    SMPL_JOINT_NAMES,
    SMPL_MIRROR,
    SMPL_OFFSETS,
    SMPL_PARENTS,
    Motion,
    axis_angle_to_matrix,
    axis_angle_to_matrix_torch,
    axis_angle_to_quaternion,
    bone_lengths,
    canonical_axis_angle,
    euler_to_matrix,
    forward_kinematics,
    forward_kinematics_torch,
    geodesic_distance,
    geodesic_distance_torch,
    global_rotations,
    load_aistpp,
    load_aistpp_keypoints,
    load_tang,
    matrix_to_axis_angle,
    matrix_to_euler_zxy,
    matrix_to_rotation_6d,
    motion_from_bvh,
    plot_stick_strip,
    quaternion_slerp,
    quaternion_to_matrix,
    read_bvh,
    resample,
    rest_positions,
    rotation_6d_to_matrix,
    rotation_6d_to_matrix_torch,
    split_valid,
    write_bvh,
    write_stick_gif,
)

AIST = DATA / "aistpp"
TANG = DATA / "dance_tang2018"
AIST_NAMES = sorted(p.stem for p in (AIST / "motions").glob("*.pkl"))
needs_aist = needs("aistpp/motions")
needs_tang = needs("dance_tang2018/DANCE_R_1.npz")


def random_axis_angles(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) axis-angles with norms spread over [0, 3 pi], plus the awkward cases."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    out = axes * rng.uniform(0, 3 * np.pi, size=(n, 1))
    out[:4] = np.array([[0, 0, 0], [1e-9, 0, 0], [0, np.pi, 0], [0, 0, -np.pi]])
    return out


def random_motion(n: int = 30, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    poses = random_axis_angles(n * 24, seed).reshape(n, 24, 3) * 0.6
    trans = np.cumsum(rng.normal(scale=0.02, size=(n, 3)), axis=0) + [0, 0.9, 0]
    return Motion(poses, trans, fps=25.0, name="random")


# --- rotations -----------------------------------------------------------------------------

def test_axis_angle_round_trip_including_norms_above_pi() -> None:
    aa = random_axis_angles(2000)
    assert (np.linalg.norm(aa, axis=1) > np.pi).mean() > 0.5
    m = axis_angle_to_matrix(aa)
    np.testing.assert_allclose(m, Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    back = matrix_to_axis_angle(m)
    assert np.linalg.norm(back, axis=1).max() <= np.pi + 1e-12
    np.testing.assert_allclose(axis_angle_to_matrix(back), m, atol=1e-12)
    inside = np.linalg.norm(aa, axis=1) < np.pi - 1e-6
    np.testing.assert_allclose(back[inside], aa[inside], atol=1e-9)
    canonical = canonical_axis_angle(aa)
    assert np.linalg.norm(canonical, axis=1).max() <= np.pi + 1e-12
    np.testing.assert_allclose(axis_angle_to_matrix(canonical), m, atol=1e-12)
    as_torch = axis_angle_to_matrix_torch(torch.tensor(aa))
    np.testing.assert_allclose(as_torch.numpy(), m, atol=1e-12)
    # leading dimensions pass through
    assert axis_angle_to_matrix(aa[:24].reshape(2, 4, 3, 3)).shape == (2, 4, 3, 3, 3)


def test_6d_round_trip_and_gram_schmidt() -> None:
    m = axis_angle_to_matrix(random_axis_angles(500)).reshape(5, 100, 3, 3)
    d6 = matrix_to_rotation_6d(m)
    assert d6.shape == (5, 100, 6)
    np.testing.assert_array_equal(d6[..., :3], m[..., :, 0])  # documented order: column 0 first
    np.testing.assert_allclose(rotation_6d_to_matrix(d6), m, atol=1e-12)
    noisy = d6 * 1.7 + np.random.default_rng(1).normal(scale=0.3, size=d6.shape)
    r = rotation_6d_to_matrix(noisy)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    first = noisy[..., :3] / np.linalg.norm(noisy[..., :3], axis=-1, keepdims=True)
    np.testing.assert_allclose(r[..., :, 0], first, atol=1e-12)


def test_geodesic_distance_of_known_rotations() -> None:
    eye = np.eye(3)
    quarter = axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))
    half = axis_angle_to_matrix(np.array([np.pi, 0, 0]))
    assert geodesic_distance(eye, quarter) == pytest.approx(np.pi / 2, abs=1e-12)
    assert geodesic_distance(eye, half) == pytest.approx(np.pi, abs=1e-12)
    assert geodesic_distance(quarter, quarter) == pytest.approx(0.0, abs=1e-12)
    a = axis_angle_to_matrix(random_axis_angles(300, seed=2))
    b = axis_angle_to_matrix(random_axis_angles(300, seed=3))
    expected = (Rotation.from_matrix(a).inv() * Rotation.from_matrix(b)).magnitude()
    np.testing.assert_allclose(geodesic_distance(a, b), expected, atol=1e-10)
    np.testing.assert_allclose(geodesic_distance(b, a), expected, atol=1e-10)
    # tiny angles keep their digits (acos of the trace would give 0 or 1e-8 noise)
    tiny = axis_angle_to_matrix(np.array([0, 1e-9, 0]))
    assert geodesic_distance(eye, tiny) == pytest.approx(1e-9, rel=1e-6)


def test_euler_zxy_round_trip_and_slerp() -> None:
    m = axis_angle_to_matrix(random_axis_angles(500, seed=4))
    e = matrix_to_euler_zxy(m)
    np.testing.assert_allclose(euler_to_matrix(e, "ZXY"), m, atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix(e, "ZXY"),
                               Rotation.from_euler("ZXY", e).as_matrix(), atol=1e-12)
    locked = euler_to_matrix(np.array([[0.3, np.pi / 2, 0.4], [-1.0, -np.pi / 2, 2.0]]))
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler_zxy(locked)), locked, atol=1e-9)
    q0 = axis_angle_to_quaternion(np.zeros(3))
    q1 = -axis_angle_to_quaternion(np.array([0, 0, np.pi / 2]))  # same rotation, far sign
    mid = quaternion_to_matrix(quaternion_slerp(q0, q1, 0.5))
    np.testing.assert_allclose(mid, axis_angle_to_matrix(np.array([0, 0, np.pi / 4])),
                               atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_versions_match_numpy_with_finite_gradients(dtype: torch.dtype) -> None:
    m = axis_angle_to_matrix(random_axis_angles(64, seed=5))
    d6 = torch.tensor(matrix_to_rotation_6d(m) * 2.0, dtype=dtype, requires_grad=True)
    r = rotation_6d_to_matrix_torch(d6)
    np.testing.assert_allclose(r.detach().numpy(), m, atol=1e-5)
    # identical rotations: the distance is ~0 and its gradient finite
    same = geodesic_distance_torch(r, r.detach())
    assert same.max().item() < 1e-5
    same.sum().backward()
    assert d6.grad is not None and torch.isfinite(d6.grad).all()
    # half turns (sine 0 again) and ordinary pairs
    half = torch.tensor(axis_angle_to_matrix(np.array([[np.pi, 0, 0], [0, 0, np.pi]])),
                        dtype=dtype, requires_grad=True)
    geodesic_distance_torch(half, torch.eye(3, dtype=dtype)).sum().backward()
    assert half.grad is not None and torch.isfinite(half.grad).all()
    other = axis_angle_to_matrix(random_axis_angles(64, seed=6))
    got = geodesic_distance_torch(torch.tensor(m, dtype=dtype), torch.tensor(other, dtype=dtype))
    np.testing.assert_allclose(got.numpy(), geodesic_distance(m, other), atol=1e-4)


# --- forward kinematics --------------------------------------------------------------------

def test_skeleton_tables_are_consistent() -> None:
    assert len(SMPL_JOINT_NAMES) == len(SMPL_PARENTS) == len(SMPL_OFFSETS) == 24
    assert all(SMPL_PARENTS[j] < j for j in range(1, 24))
    rest = rest_positions()
    for j, name in enumerate(SMPL_JOINT_NAMES):
        mirror = SMPL_JOINT_NAMES[SMPL_MIRROR[j]]
        assert mirror == name.replace("left", "@").replace("right", "left").replace("@", "right")
        if name.startswith("left"):  # SMPL: the body's left side is +x
            assert rest[j, 0] > 0 > rest[SMPL_MIRROR[j], 0]
    assert rest[15, 1] > rest[0, 1] > rest[7, 1]  # head above pelvis above ankles: y up


def test_forward_kinematics_keeps_bone_lengths_and_agrees_across_inputs() -> None:
    motion = random_motion(40)
    pos = forward_kinematics(motion.poses, motion.trans)
    assert pos.shape == (40, 24, 3)
    lengths = bone_lengths(pos)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(SMPL_OFFSETS[1:], axis=1),
                                                        lengths.shape), atol=1e-6)
    np.testing.assert_allclose(pos[:, 0], motion.trans, atol=1e-7)
    np.testing.assert_allclose(forward_kinematics(motion.matrices(), motion.trans), pos)
    np.testing.assert_allclose(forward_kinematics(motion.poses.reshape(40, 72), motion.trans), pos)
    # a (2, 20) batch gives the same frames
    batched = forward_kinematics(motion.poses.reshape(2, 20, 24, 3), motion.trans.reshape(2, 20, 3))
    np.testing.assert_allclose(batched.reshape(40, 24, 3), pos, atol=1e-12)
    np.testing.assert_allclose(forward_kinematics(np.zeros((24, 3))), rest_positions())
    world = global_rotations(motion.poses)
    local = motion.matrices()
    np.testing.assert_allclose(world[:, 7], local[:, 0] @ local[:, 1] @ local[:, 4] @ local[:, 7],
                               atol=1e-12)  # left ankle: pelvis, hip, knee, ankle
    torch_pos = forward_kinematics_torch(torch.tensor(motion.matrices()),
                                         torch.tensor(motion.trans, dtype=torch.float64))
    np.testing.assert_allclose(torch_pos.numpy(), pos, atol=1e-12)


def fk_errors(name: str) -> tuple[dict[str, float], np.ndarray, float]:
    """Per joint group mean distance (metres) between FK of an AIST++ motion at its own 60 fps
    and its COCO `keypoints3d_optim`, both in mean-shape SMPL metres (keypoints / scaling), after
    removing one constant offset: the mean difference over all frames and the compared joints.
    Also returns that offset and the error with left and right swapped."""
    motion = load_aistpp(AIST / "motions" / f"{name}.pkl", fps=None)
    keypoints = load_aistpp_keypoints(AIST / "keypoints3d" / f"{name}.pkl")
    keypoints = keypoints / motion.metadata["smpl_scaling"]
    assert len(keypoints) == len(motion) and motion.fps == 60
    pos = motion.positions()
    groups = ["shoulder", "elbow", "wrist", "knee", "ankle"]
    pairs = [COCO_TO_SMPL[f"{side}_{g}"] for g in groups for side in ("left", "right")]
    coco, smpl = [c for c, _ in pairs], [s for _, s in pairs]
    offset = (keypoints[:, coco] - pos[:, smpl]).mean(axis=(0, 1))
    err = np.linalg.norm(keypoints[:, coco] - pos[:, smpl] - offset, axis=-1)  # (N, 10)
    result = {g: float(err[:, 2 * i:2 * i + 2].mean()) for i, g in enumerate(groups)}
    result["all"] = float(err.mean())
    swapped = [SMPL_MIRROR[s] for s in smpl]
    off_sw = (keypoints[:, coco] - pos[:, swapped]).mean(axis=(0, 1))
    err_sw = float(np.linalg.norm(keypoints[:, coco] - pos[:, swapped] - off_sw, axis=-1).mean())
    return result, offset, err_sw


@needs_aist
@pytest.mark.parametrize("name", AIST_NAMES)
def test_forward_kinematics_matches_aistpp_keypoints(name: str) -> None:
    """The acceptance check of the skeleton. Measured (cm; shoulders / elbows / wrists / knees /
    ankles, all): d04_mBR2 2.1 / 0.9 / 0.8 / 3.7 / 3.5, 2.2; d06_mBR2 1.7 / 0.9 / 0.3 / 0.8 /
    0.7, 0.9; d03_mJS2 0.9 / 0.5 / 0.5 / 0.9 / 0.6, 0.7; d02_mJS4 2.3 / 1.6 / 2.2 / 2.4 / 0.8,
    1.8. The legs of d04 miss 3 cm because its dancer's shins are 35-37 cm in the fit's units
    against 43 cm on the mean-shape skeleton: AIST++ fits SMPL without shape parameters, so
    that error is the data's (the keypoints), not the kinematics'."""
    errors, offset, swapped = fk_errors(name)
    print(name, {k: f"{100 * v:.2f} cm" for k, v in errors.items()})
    assert errors["all"] < 0.03
    assert max(errors["shoulder"], errors["elbow"], errors["wrist"]) < 0.03
    assert max(errors["knee"], errors["ankle"]) < 0.045
    # the constant is SMPL's rest pelvis J_0 of the mean (neutral) shape, in SMPL metres
    np.testing.assert_allclose(offset, [-0.002, -0.241, 0.028], atol=0.005)
    assert swapped > 3 * errors["all"]  # COCO left is SMPL left


# --- loaders -------------------------------------------------------------------------------

@needs_tang
def test_tang_nan_frames_are_cut_into_valid_segments() -> None:
    motion = load_tang(TANG / "DANCE_R_1.npz")
    assert len(motion) == 3375 and motion.fps == 25 and motion.name == "DANCE_R_1"
    betas = motion.metadata["betas"]
    assert motion.audio == TANG / "DANCE_R_1.mp3"
    assert isinstance(betas, np.ndarray) and betas.shape == (10,)
    bad = ~np.isfinite(motion.poses).all(axis=(1, 2))
    assert bad.sum() == 606
    segments = split_valid(motion)
    assert segments.dropped == 606 and segments.total == 3375
    assert sum(len(s) for s in segments) == 3375 - 606
    for s in segments:
        assert np.isfinite(s.poses).all() and np.isfinite(s.trans).all()
        np.testing.assert_array_equal(s.poses, motion.poses[s.start:s.start + len(s)])
        assert s.audio == motion.audio
    # the valid frames, norms above pi included, give a rigid skeleton
    lengths = bone_lengths(segments[0][:500].positions())
    assert np.ptp(lengths, axis=0).max() < 1e-5


@needs_tang
def test_tang_nan_counts_match_the_index() -> None:
    index = json.loads((TANG / "index.json").read_text())
    for name in ("DANCE_C_1", "DANCE_R_1", "DANCE_T_1", "DANCE_W_1"):
        segments = split_valid(load_tang(TANG / f"{name}.npz"))
        assert segments.total == index[name]["frames"]
        assert segments.dropped == index[name]["nan_frames"]


def test_split_valid_on_synthetic_gaps() -> None:
    motion = random_motion(20)
    poses, trans = motion.poses.copy(), motion.trans.copy()
    poses[[0, 5, 6, 12], 3, 1] = np.nan
    trans[15] = np.inf
    segments = split_valid(motion.replace(poses=poses, trans=trans))
    assert [(s.start, len(s)) for s in segments] == [(1, 4), (7, 5), (13, 2), (16, 4)]
    assert segments.dropped == 5
    short = split_valid(motion.replace(poses=poses, trans=trans), min_frames=3)
    assert [s.start for s in short] == [1, 7, 16] and short.dropped == 7


@needs_aist
def test_aistpp_resampling_to_25_fps() -> None:
    path = AIST / "motions" / f"{AIST_NAMES[0]}.pkl"
    raw = pickle.loads(path.read_bytes())
    original = load_aistpp(path, fps=None)
    assert original.fps == 60 and len(original) == len(raw["smpl_poses"])
    np.testing.assert_allclose(original.trans, raw["smpl_trans"] / raw["smpl_scaling"],
                               rtol=1e-6)
    motion = load_aistpp(path)
    n = len(original)
    assert motion.fps == 25 and abs(len(motion) - n * 25 / 60) <= 1
    # every 5th frame at 25 fps is every 12th at 60 fps: the same time stamp (k / 5 * 0.2 s)
    shared = np.arange(0, len(motion), 5)
    source = shared // 5 * 12
    np.testing.assert_allclose(geodesic_distance(motion.matrices()[shared],
                                                 original.matrices()[source]), 0, atol=1e-6)
    np.testing.assert_allclose(motion.trans[shared], original.trans[source], atol=1e-6)
    # frame 1 (t = 0.04 s = source frame 2.4) lies on the arc from frame 2 to frame 3
    r1, r2, r3 = motion.matrices()[1], original.matrices()[2], original.matrices()[3]
    np.testing.assert_allclose(geodesic_distance(r2, r1), 0.4 * geodesic_distance(r2, r3),
                               atol=1e-6)
    np.testing.assert_allclose(motion.trans[1], 0.6 * original.trans[2] + 0.4 * original.trans[3],
                               atol=1e-6)
    assert len(resample(original[:13], 25)) == 6  # 0, 2.4, ..., 12 source frames


def test_bad_files_raise_fugato_errors_naming_the_file(tmp_path: Path) -> None:
    cases: dict[str, str | None] = {}
    cases["missing.npz"] = None
    np.savez(tmp_path / "nokeys.npz", poses=np.zeros((3, 72)))
    cases["nokeys.npz"] = "smpl_poses"
    np.savez(tmp_path / "shape.npz", smpl_poses=np.zeros((3, 69)), smpl_trans=np.zeros((3, 3)))
    cases["shape.npz"] = "(N, 72)"
    np.savez(tmp_path / "trans.npz", smpl_poses=np.zeros((3, 72)), smpl_trans=np.zeros((4, 3)))
    cases["trans.npz"] = "smpl_trans"
    (tmp_path / "garbage.npz").write_bytes(b"not a zip at all")
    cases["garbage.npz"] = "npz"
    for name, reason in cases.items():
        with pytest.raises(FugatoError, match=name) as info:
            load_tang(tmp_path / name)
        assert reason is None or reason in str(info.value)
        assert "\n" not in str(info.value)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    (tmp_path / "noscale.pkl").write_bytes(pickle.dumps(
        {"smpl_poses": np.zeros((3, 72)), "smpl_trans": np.zeros((3, 3))}))
    (tmp_path / "text.pkl").write_text("hello")
    for name, reason in [("list.pkl", "list"), ("noscale.pkl", "smpl_scaling"),
                         ("text.pkl", "pickle"), ("gone.pkl", "no such file")]:
        with pytest.raises(FugatoError, match=name) as info:
            load_aistpp(tmp_path / name)
        assert reason in str(info.value)
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT a\n{\n OFFSET 0 0\nMOTION\n")
    with pytest.raises(FugatoError, match="bad.bvh"):
        read_bvh(tmp_path / "bad.bvh")


# --- BVH and plots -------------------------------------------------------------------------

def test_bvh_round_trip_keeps_positions(tmp_path: Path) -> None:
    motion = random_motion(50)
    poses = motion.poses.copy()
    poses[3, 5] = matrix_to_axis_angle(euler_to_matrix(np.array([0.4, np.pi / 2, -0.3])))
    motion = motion.replace(poses=poses)
    path = tmp_path / "dance.bvh"
    write_bvh(path, motion)
    assert [p.name for p in tmp_path.iterdir()] == ["dance.bvh"]  # no temporary left over
    bvh = read_bvh(path)
    assert bvh.motion.shape == (50, 6 + 3 * 23) and bvh.fps == 25
    assert bvh.names[0] == "pelvis" and set(bvh.names) == set(SMPL_JOINT_NAMES)
    assert bvh.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c in bvh.channels[1:])
    assert len(bvh.end_sites) == 5  # feet, head, hands
    order = [bvh.names.index(n) for n in SMPL_JOINT_NAMES]
    np.testing.assert_allclose(bvh.offsets[order] / 100, SMPL_OFFSETS, atol=1e-8)  # centimetres
    parents = [-1 if p < 0 else SMPL_JOINT_NAMES.index(bvh.names[p]) for p in bvh.parents[order]]
    assert parents == SMPL_PARENTS.tolist()
    back = motion_from_bvh(path)
    np.testing.assert_allclose(back.positions(), motion.positions(), atol=1e-4)
    # rebuilt straight from the file's own rotations, offsets and root channels
    from_file = forward_kinematics(bvh.local_rotations()[:, order], bvh.root_translation() / 100,
                                   offsets=bvh.offsets[order] / 100)
    np.testing.assert_allclose(from_file, motion.positions(), atol=1e-4)
    broken = motion.poses.copy()
    broken[7] = np.nan
    with pytest.raises(FugatoError, match="split_valid"):
        write_bvh(tmp_path / "broken.bvh", motion.replace(poses=broken))


def test_stick_figure_png_and_gif(tmp_path: Path) -> None:
    from PIL import Image, ImageSequence

    pos = random_motion(12).positions()
    plot_stick_strip(pos, tmp_path / "strip.png", frames=4, fps=25, title="random")
    assert (tmp_path / "strip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_stick_gif(pos[:6], tmp_path / "dance.gif", fps=25, dpi=40)
    with Image.open(tmp_path / "dance.gif") as gif:
        assert gif.format == "GIF" and len(list(ImageSequence.Iterator(gif))) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dance.gif", "strip.png"]
