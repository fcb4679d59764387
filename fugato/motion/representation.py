"""The 147-d dance frame, both ways: 24 joints x 6D rotation and the root translation.

Columns (`DANCE_ROT6D`): joint j in 6j..6j+5, the first two columns of its local rotation
matrix as `fugato.motion.rotations` orders them (joint 0 is the global orientation); then
(`DANCE_TRANS`) the root translation in metres. Datasets normalise it per window
(`fugato.motion.dataset`: floor-plane origin at the first frame, y above the floor, first
frame facing +z); `turn` and `heading` are that normalisation's rotation about the vertical.
"""

from __future__ import annotations

import numpy as np

from fugato.motion.data import Motion
from fugato.motion.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from fugato.motion.skeleton import N_JOINTS, forward_kinematics

FPS = 25
"""Frames per second of every dance fugato models (the Tang set's rate)."""
DANCE_DIM = 6 * N_JOINTS + 3  # 147
DANCE_ROT6D = slice(0, 6 * N_JOINTS)
DANCE_TRANS = slice(6 * N_JOINTS, DANCE_DIM)


def encode_dance(poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Axis-angle poses (..., 24, 3) and root translation (..., 3) -> (..., 147) float64
    frames as they are (no normalisation)."""
    six = matrix_to_rotation_6d(axis_angle_to_matrix(np.asarray(poses)))
    return np.concatenate([six.reshape(*six.shape[:-2], 6 * N_JOINTS),
                           np.asarray(trans, dtype=np.float64)], axis=-1)


def decode_dance(dance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 147) dance features -> local rotation matrices (..., 24, 3, 3) float64 (6D by
    Gram-Schmidt) and root translation (..., 3) as stored (normalised per window)."""
    d = np.asarray(dance)
    if d.shape[-1] != DANCE_DIM:
        raise ValueError(f"dance of shape {d.shape}: expected (..., {DANCE_DIM})")
    six = d[..., DANCE_ROT6D].reshape(*d.shape[:-1], N_JOINTS, 6)
    return rotation_6d_to_matrix(six), d[..., DANCE_TRANS].astype(np.float64)


def heading(dance: np.ndarray) -> np.ndarray:
    """(..., 147) dance frames -> (...) heading in radians: the angle about the vertical (y)
    axis of the root's z axis (the body's front) projected on the floor, 0 facing +z."""
    root = rotation_6d_to_matrix(np.asarray(dance)[..., :6])
    front = root[..., :, 2]
    return np.arctan2(front[..., 0], front[..., 2])


def turn(dance: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Dance frames (..., 147) turned by `angle` (radians, broadcast over the leading axes)
    about the vertical axis through x = z = 0: the root's orientation and its floor-plane
    translation rotate, the joints' local rotations and the height do not. The 6D columns
    rotate as vectors, since R_y R keeps the first two columns' linear relation."""
    d = np.array(dance, dtype=np.result_type(dance, np.float32))
    c, s = np.cos(angle), np.sin(angle)
    for x, z in ((0, 2), (3, 5), (DANCE_TRANS.start, DANCE_TRANS.start + 2)):
        vx, vz = d[..., x].copy(), d[..., z].copy()
        d[..., x] = c * vx + s * vz
        d[..., z] = c * vz - s * vx
    return d


def dance_positions(dance: np.ndarray) -> np.ndarray:
    """(..., 147) dance features -> (..., 24, 3) joint positions in metres (mean-shape
    skeleton, floor at y = 0, each window starting at x = z = 0 for its pelvis)."""
    rotations, trans = decode_dance(dance)
    return forward_kinematics(rotations, trans)


def dance_to_motion(dance: np.ndarray, name: str) -> Motion:
    """Dance frames (n, 147) -> a 25 fps `Motion` (axis-angle poses, translation)."""
    rotations, trans = decode_dance(dance)
    return Motion(matrix_to_axis_angle(rotations), trans, float(FPS), name=name)
