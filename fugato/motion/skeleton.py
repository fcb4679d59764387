"""The SMPL 24-joint skeleton and forward kinematics without the (licensed) SMPL body model.

Rest offsets are the mean-shape (betas = 0) joint offsets from each joint's parent that
Stanford-TML/EDGE `vis.py` (MIT) uses, in metres, in the SMPL frame: y up, the body facing
+z, its left side at +x. The rest pose is SMPL's T-pose. Forward kinematics puts the pelvis
at the given root translation; the SMPL model itself puts it at `trans + J_0(betas)`, a
constant offset in world space ((-0.002, -0.241, 0.028) m for the mean neutral shape, as
measured against AIST++ keypoints), so positions here equal SMPL's joints up to that constant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fugato.motion.rotations import axis_angle_to_matrix

if TYPE_CHECKING:
    import torch

N_JOINTS = 24

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)

# Parent of each joint (-1 for the root); every parent comes before its children, so one pass
# in index order is a valid kinematic order.
SMPL_PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18,
                         19, 20, 21])

# (24, 3) rest offset of each joint from its parent, metres (EDGE vis.py `smpl_offsets`).
SMPL_OFFSETS = np.array([
    [0.0, 0.0, 0.0],
    [0.05858135, -0.08228004, -0.01766408],
    [-0.06030973, -0.09051332, -0.01354254],
    [0.00443945, 0.12440352, -0.03838522],
    [0.04345142, -0.38646945, 0.008037],
    [-0.04325663, -0.38368791, -0.00484304],
    [0.00448844, 0.1379564, 0.02682033],
    [-0.01479032, -0.42687458, -0.037428],
    [0.01905555, -0.4200455, -0.03456167],
    [-0.00226458, 0.05603239, 0.00285505],
    [0.04105436, -0.06028581, 0.12204243],
    [-0.03483987, -0.06210566, 0.13032329],
    [-0.0133902, 0.21163553, -0.03346758],
    [0.07170245, 0.11399969, -0.01889817],
    [-0.08295366, 0.11247234, -0.02370739],
    [0.01011321, 0.08893734, 0.05040987],
    [0.12292141, 0.04520509, -0.019046],
    [-0.11322832, 0.04685326, -0.00847207],
    [0.2553319, -0.01564902, -0.02294649],
    [-0.26012748, -0.01436928, -0.03126873],
    [0.26570925, 0.01269811, -0.00737473],
    [-0.26910836, 0.00679372, -0.00602676],
    [0.08669055, -0.01063603, -0.01559429],
    [-0.0887537, -0.00865157, -0.01010708],
])

# Mirror image of each joint (left <-> right), for augmentation and left/right checks.
SMPL_MIRROR = np.array([0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18,
                        21, 20, 23, 22])

# COCO-17 keypoint (AIST++ `keypoints3d`) -> nearest SMPL joint, for the joints both share.
COCO_TO_SMPL: dict[str, tuple[int, int]] = {
    # name: (COCO index, SMPL index)
    "left_shoulder": (5, 16), "right_shoulder": (6, 17),
    "left_elbow": (7, 18), "right_elbow": (8, 19),
    "left_wrist": (9, 20), "right_wrist": (10, 21),
    "left_hip": (11, 1), "right_hip": (12, 2),
    "left_knee": (13, 4), "right_knee": (14, 5),
    "left_ankle": (15, 7), "right_ankle": (16, 8),
}


def rest_positions(offsets: np.ndarray = SMPL_OFFSETS,
                   parents: np.ndarray = SMPL_PARENTS) -> np.ndarray:
    """(24, 3) joint positions of the rest (T-)pose with the pelvis at the origin, metres."""
    out = np.zeros_like(np.asarray(offsets, dtype=np.float64))
    for j, p in enumerate(parents):
        if p >= 0:
            out[j] = out[p] + offsets[j]
    return out


def _as_matrices(rotations: np.ndarray) -> np.ndarray:
    """Local rotations (..., 24, 3) axis-angle, (..., 72) axis-angle or (..., 24, 3, 3)
    matrices -> (..., 24, 3, 3) float64."""
    r = np.asarray(rotations, dtype=np.float64)
    if r.ndim >= 1 and r.shape[-1] == 3 * N_JOINTS:
        r = r.reshape(*r.shape[:-1], N_JOINTS, 3)
    if r.ndim >= 2 and r.shape[-2:] == (N_JOINTS, 3):
        return axis_angle_to_matrix(r)
    if r.ndim >= 3 and r.shape[-3:] == (N_JOINTS, 3, 3):
        return r
    raise ValueError(f"rotations of shape {r.shape}: expected (..., 24, 3) axis-angle, "
                     "(..., 72) or (..., 24, 3, 3) matrices")


def _forward(rotations: np.ndarray, trans: np.ndarray | None, offsets: np.ndarray,
             parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions (..., J, 3) and world rotations (..., J, 3, 3)."""
    local = _as_matrices(rotations)
    lead = local.shape[:-3]
    offsets = np.asarray(offsets, dtype=np.float64)
    positions = np.zeros((*lead, len(parents), 3))
    world = np.zeros((*lead, len(parents), 3, 3))
    positions[..., 0, :] = 0.0 if trans is None else np.asarray(trans, dtype=np.float64)
    world[..., 0, :, :] = local[..., 0, :, :]
    for j in range(1, len(parents)):
        p = parents[j]
        positions[..., j, :] = positions[..., p, :] + world[..., p, :, :] @ offsets[j]
        world[..., j, :, :] = world[..., p, :, :] @ local[..., j, :, :]
    return positions, world


def forward_kinematics(rotations: np.ndarray, trans: np.ndarray | None = None,
                       offsets: np.ndarray = SMPL_OFFSETS,
                       parents: np.ndarray = SMPL_PARENTS) -> np.ndarray:
    """World joint positions (..., 24, 3) in metres from local joint rotations.

    `rotations`: (..., 24, 3) axis-angle (any norm), (..., 72) or (..., 24, 3, 3) matrices, each
    joint's rotation relative to its parent (joint 0: the global orientation); `trans`: (..., 3)
    pelvis position in metres (None: the origin). One vectorised step per joint, in kinematic
    order; frames and other leading dimensions are never looped over.
    """
    return _forward(rotations, trans, offsets, parents)[0]


def global_rotations(rotations: np.ndarray, parents: np.ndarray = SMPL_PARENTS) -> np.ndarray:
    """(..., 24, 3, 3) world rotation of each joint (the product of the local rotations from
    the root down), from the same inputs as `forward_kinematics`."""
    return _forward(rotations, None, SMPL_OFFSETS, parents)[1]


def forward_kinematics_torch(rotations: torch.Tensor, trans: torch.Tensor | None = None,
                             offsets: np.ndarray = SMPL_OFFSETS,
                             parents: np.ndarray = SMPL_PARENTS) -> torch.Tensor:
    """As `forward_kinematics` for tensors: local rotation matrices (..., 24, 3, 3) and pelvis
    positions (..., 3) -> (..., 24, 3), differentiable, on the rotations' device and dtype
    (turn 6D network outputs into matrices with `rotation_6d_to_matrix_torch` first)."""
    import torch

    off = torch.as_tensor(offsets, dtype=rotations.dtype, device=rotations.device)
    root = (torch.zeros(rotations.shape[:-3] + (3,), dtype=rotations.dtype,
                        device=rotations.device) if trans is None else trans)
    positions = [root]
    world = [rotations[..., 0, :, :]]
    for j in range(1, len(parents)):
        p = int(parents[j])
        positions.append(positions[p] + world[p] @ off[j])
        world.append(world[p] @ rotations[..., j, :, :])
    return torch.stack(positions, -2)


def bone_lengths(positions: np.ndarray, parents: np.ndarray = SMPL_PARENTS) -> np.ndarray:
    """(..., 24, 3) positions -> (..., 23) distance of each non-root joint to its parent."""
    pos = np.asarray(positions)
    children = np.arange(1, len(parents))
    return np.linalg.norm(pos[..., children, :] - pos[..., parents[children], :], axis=-1)
