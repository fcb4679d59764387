"""Rotation conversions over arbitrary leading dimensions.

Conventions (the same in every function here):

- axis-angle: (..., 3), the rotation axis scaled by the angle in radians; any norm is accepted
  (norms above pi occur in fitted SMPL data), conversions back return norms in [0, pi].
- rotation matrix: (..., 3, 3), acting on column vectors (`v' = R @ v`).
- quaternion: (..., 4) unit quaternion, scalar first `(w, x, y, z)`.
- 6D: (..., 6), the first two columns of the matrix, column by column:
  `(R00, R10, R20, R01, R11, R21)` (Zhou et al., "On the continuity of rotation
  representations", CVPR 2019). Back to a matrix by Gram-Schmidt.
- Euler ZXY: (..., 3) angles `(z, x, y)` in radians with `R = Rz(z) @ Rx(x) @ Ry(y)`, the
  order of BVH channels `Zrotation Xrotation Yrotation`.

Functions without a suffix take and return numpy arrays (computed in float64); the ones ending
in `_torch` take and return tensors, keep dtype and device, and are safe under autograd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# Below this angle (radians) the Rodrigues coefficients use their Taylor series: the closed
# forms divide 0 by 0 at the identity and lose digits just above it.
_SMALL_ANGLE = 1e-4


def _skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices: `_skew(a) @ b == cross(a, b)`."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1),
                     np.stack([-y, x, zero], -1)], -2)


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices (Rodrigues).

    `R = I + a K + b K^2` with `K` the cross-product matrix of the unnormalised vector,
    `a = sin(t)/t`, `b = (1 - cos t)/t^2`: exact for any angle t (including t > pi) and
    smooth through t = 0.
    """
    v = np.asarray(axis_angle, dtype=np.float64)
    t2 = np.sum(v * v, axis=-1)
    t = np.sqrt(t2)
    small = t < _SMALL_ANGLE
    safe = np.where(small, 1.0, t)
    a = np.where(small, 1.0 - t2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - t2 / 24.0, (1.0 - np.cos(safe)) / (safe * safe))
    k = _skew(v)
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_quaternion(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z) with w >= 0.

    Each quaternion is read from the largest of its four squared components (Shepperd's
    method), so no division by a near-zero component happens at any angle.
    """
    m = np.asarray(matrix, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 w^2, 4 x^2, 4 y^2, 4 z^2
    squares = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                        1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], \
        m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], \
        m[..., 1, 0] + m[..., 0, 1]
    # candidate k is 4 * q_k * q computed from row k of the symmetric relations
    candidates = np.stack([
        np.stack([squares[..., 0], d21, d02, d10], -1),
        np.stack([d21, squares[..., 1], s10, s02], -1),
        np.stack([d02, s10, squares[..., 2], s21], -1),
        np.stack([d10, s02, s21, squares[..., 3]], -1),
    ], -2)
    best = np.nan_to_num(squares, nan=0.0).argmax(-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(quaternion: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3) rotation matrices."""
    q = np.asarray(quaternion, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def quaternion_to_axis_angle(quaternion: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z) -> (..., 3) axis-angle with norm in [0, pi]."""
    q = np.asarray(quaternion, dtype=np.float64)
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2.0 * np.arctan2(sin_half, q[..., 0])
    small = sin_half < 1e-12
    # angle / sin(angle/2) -> 2 as the angle -> 0
    scale = np.where(small, 2.0, angle / np.where(small, 1.0, sin_half))
    return q[..., 1:] * scale[..., None]


def axis_angle_to_quaternion(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle (any norm) -> (..., 4) unit quaternions (w, x, y, z)."""
    v = np.asarray(axis_angle, dtype=np.float64)
    t = np.linalg.norm(v, axis=-1)
    small = t < _SMALL_ANGLE
    # sin(t/2) / t -> 1/2 - t^2/48
    scale = np.where(small, 0.5 - t * t / 48.0, np.sin(t / 2) / np.where(small, 1.0, t))
    return np.concatenate([np.cos(t / 2)[..., None], v * scale[..., None]], -1)


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle with norm in [0, pi].

    Through the quaternion, which stays accurate near 0 and near pi (the closed form
    `acos((trace - 1) / 2)` loses the axis at pi)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def canonical_axis_angle(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle of the same rotations with norm in [0, pi]."""
    return quaternion_to_axis_angle(axis_angle_to_quaternion(axis_angle))


def matrix_to_rotation_6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two columns, `(R00, R10, R20, R01, R11, R21)`."""
    m = np.asarray(matrix)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], -1)


def rotation_6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt: column 0 is the first 3-vector normalised,
    column 1 the second made orthogonal to it and normalised, column 2 their cross product
    (so the result is orthonormal with determinant +1 for any input with independent halves)."""
    d = np.asarray(d6, dtype=np.float64)
    b1 = d[..., :3] / np.linalg.norm(d[..., :3], axis=-1, keepdims=True)
    a2 = d[..., 3:]
    b2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = b2 / np.linalg.norm(b2, axis=-1, keepdims=True)
    return np.stack([b1, b2, np.cross(b1, b2)], -1)


def axis_angle_to_rotation_6d(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 6) (see `matrix_to_rotation_6d`)."""
    return matrix_to_rotation_6d(axis_angle_to_matrix(axis_angle))


def rotation_6d_to_axis_angle(d6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3) axis-angle with norm in [0, pi]."""
    return matrix_to_axis_angle(rotation_6d_to_matrix(d6))


def geodesic_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in radians, in [0, pi], of the rotation taking `a` to `b`; (..., 3, 3) each,
    broadcast against each other -> (...).

    `atan2(sin, cos)` of the relative rotation `a^T b`, with the sine from its skew part and the
    cosine from its trace, each clipped to its range: accurate near 0 and near pi, where
    `acos` of the trace alone loses half the digits.
    """
    r = np.swapaxes(np.asarray(a, np.float64), -1, -2) @ np.asarray(b, np.float64)
    cos = np.clip((np.trace(r, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    skew = np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0],
                     r[..., 1, 0] - r[..., 0, 1]], -1)
    sin = np.clip(np.linalg.norm(skew, axis=-1) / 2.0, 0.0, 1.0)
    return np.arctan2(sin, cos)


def matrix_to_euler_zxy(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) angles `(z, x, y)` in radians with `R = Rz(z) Rx(x) Ry(y)`,
    x in [-pi/2, pi/2]. At gimbal lock (x = +-pi/2) y is set to 0 and z takes the whole
    remaining turn, so the angles still rebuild the same matrix."""
    m = np.asarray(matrix, dtype=np.float64)
    # R = [[cz cy - sz sx sy, -sz cx, cz sy + sz sx cy],
    #      [sz cy + cz sx sy,  cz cx, sz sy - cz sx cy],
    #      [-cx sy,            sx,    cx cy]]
    x = np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    cos_x = np.hypot(m[..., 2, 0], m[..., 2, 2])
    locked = cos_x < 1e-9
    z = np.where(locked, np.arctan2(m[..., 1, 0], m[..., 0, 0]),
                 np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    y = np.where(locked, 0.0, np.arctan2(-m[..., 2, 0], m[..., 2, 2]))
    return np.stack([z, x, y], -1)


def _axis_rotation(angle: np.ndarray, axis: int) -> np.ndarray:
    """(...,) angles in radians -> (..., 3, 3) rotations about coordinate axis 0, 1 or 2."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros((*np.shape(angle), 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i], m[..., j, j] = c, c
    m[..., i, j], m[..., j, i] = -s, s
    return m


def euler_to_matrix(angles: np.ndarray, order: str = "ZXY") -> np.ndarray:
    """(..., 3) angles in radians -> (..., 3, 3); `order` names the axis of each angle and the
    product order, `R = R_order[0] @ R_order[1] @ R_order[2]` (the BVH channel convention)."""
    a = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), (*a.shape[:-1], 3, 3))
    for k, name in enumerate(order.upper()):
        out = out @ _axis_rotation(a[..., k], "XYZ".index(name))
    return out


def quaternion_slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical linear interpolation along the shorter arc: (..., 4), (..., 4) and weights
    (...) in [0, 1] (0 gives q0) -> (..., 4) unit quaternions."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)  # q and -q are the same rotation: take the short way
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    near = sin < 1e-6  # almost the same rotation: linear interpolation is exact enough
    safe = np.where(near, 1.0, sin)
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(near, t, np.sin(t * theta) / safe)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


# --- torch (autograd-safe) -----------------------------------------------------------------

def rotation_6d_to_matrix_torch(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) tensors by Gram-Schmidt, as `rotation_6d_to_matrix`; the
    normalisations have an epsilon floor, so a degenerate input gives no NaN."""
    import torch
    import torch.nn.functional as F

    b1 = F.normalize(d6[..., :3], dim=-1, eps=1e-8)
    a2 = d6[..., 3:]
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-8)
    return torch.stack([b1, b2, torch.linalg.cross(b1, b2, dim=-1)], -1)


def matrix_to_rotation_6d_torch(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6) tensors: the first two columns, as `matrix_to_rotation_6d`."""
    import torch

    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], -1)


def axis_angle_to_matrix_torch(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) tensors (Rodrigues with a Taylor series near angle 0, so the
    gradient at the identity is finite)."""
    import torch

    t2 = (axis_angle * axis_angle).sum(-1)
    small = t2 < _SMALL_ANGLE**2
    t = torch.sqrt(torch.where(small, torch.ones_like(t2), t2))
    a = torch.where(small, 1.0 - t2 / 6.0, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24.0, (1.0 - torch.cos(t)) / (t * t))
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([torch.stack([zero, -z, y], -1), torch.stack([z, zero, -x], -1),
                     torch.stack([-y, x, zero], -1)], -2)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def geodesic_distance_torch(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Angle in radians between rotation matrices (..., 3, 3) -> (...), for training losses.

    `atan2(sin, cos)` as `geodesic_distance`; the sine is `sqrt(|skew|^2 / 4 + eps)` so its
    gradient stays finite (zero) at identical rotations, where `acos` of the trace and the plain
    norm both give NaN. The epsilon adds at most `sqrt(eps)` (1e-6 rad) to the angle.
    """
    import torch

    r = a.transpose(-1, -2) @ b
    cos = ((r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    skew = torch.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0],
                        r[..., 1, 0] - r[..., 0, 1]], -1)
    sin = torch.sqrt((skew * skew).sum(-1) / 4.0 + eps)
    return torch.atan2(sin, cos)
