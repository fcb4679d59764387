"""Dance motion for the dual music-dance system: SMPL rotations and their conversions, forward
kinematics on the mean-shape skeleton, loaders for the Tang 2018 and AIST++ data, BVH export
and stick-figure plots.

Arrays are numpy unless a name ends in `_torch`. Importing this package is cheap: torch is
imported only by the `_torch` functions, matplotlib only by the plots.
"""

from fugato.motion.bvh import BvhData, motion_from_bvh, read_bvh, write_bvh
from fugato.motion.data import (
    AISTPP_FPS,
    Motion,
    Segments,
    load_aistpp,
    load_aistpp_keypoints,
    load_tang,
    resample,
    split_valid,
)
from fugato.motion.plot import plot_stick_strip, write_stick_gif
from fugato.motion.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_matrix_torch,
    axis_angle_to_quaternion,
    axis_angle_to_rotation_6d,
    canonical_axis_angle,
    euler_to_matrix,
    geodesic_distance,
    geodesic_distance_torch,
    matrix_to_axis_angle,
    matrix_to_euler_zxy,
    matrix_to_quaternion,
    matrix_to_rotation_6d,
    matrix_to_rotation_6d_torch,
    quaternion_slerp,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rotation_6d_to_axis_angle,
    rotation_6d_to_matrix,
    rotation_6d_to_matrix_torch,
)
from fugato.motion.skeleton import (
    COCO_TO_SMPL,
    N_JOINTS,
    SMPL_JOINT_NAMES,
    SMPL_MIRROR,
    SMPL_OFFSETS,
    SMPL_PARENTS,
    bone_lengths,
    forward_kinematics,
    forward_kinematics_torch,
    global_rotations,
    rest_positions,
)

__all__ = [
    "AISTPP_FPS", "COCO_TO_SMPL", "N_JOINTS", "SMPL_JOINT_NAMES", "SMPL_MIRROR", "SMPL_OFFSETS",
    "SMPL_PARENTS", "BvhData", "Motion", "Segments", "axis_angle_to_matrix",
    "axis_angle_to_matrix_torch", "axis_angle_to_quaternion", "axis_angle_to_rotation_6d",
    "bone_lengths", "canonical_axis_angle", "euler_to_matrix", "forward_kinematics",
    "forward_kinematics_torch", "geodesic_distance", "geodesic_distance_torch", "global_rotations",
    "load_aistpp", "load_aistpp_keypoints", "load_tang", "matrix_to_axis_angle",
    "matrix_to_euler_zxy", "matrix_to_quaternion", "matrix_to_rotation_6d",
    "matrix_to_rotation_6d_torch", "motion_from_bvh", "plot_stick_strip", "quaternion_slerp",
    "quaternion_to_axis_angle", "quaternion_to_matrix", "read_bvh", "resample", "rest_positions",
    "rotation_6d_to_axis_angle", "rotation_6d_to_matrix", "rotation_6d_to_matrix_torch",
    "split_valid", "write_bvh", "write_stick_gif",
]
