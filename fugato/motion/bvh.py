"""BVH export of SMPL motions (for Blender, MotionBuilder, ...) and a small BVH reader.

Files written here: the 24-joint SMPL skeleton with the mean-shape rest offsets in
centimetres (the rest pose is SMPL's T-pose, y up, facing +z); the root `pelvis` has channels
`Xposition Yposition Zposition Zrotation Xrotation Yrotation`, every other joint
`Zrotation Xrotation Yrotation`; angles in degrees with the local rotation
`R = Rz(z) @ Rx(x) @ Ry(y)` (the usual BVH reading: channels compose left to right). Leaf
joints (feet, head, hands) end in an `End Site` half their own bone's length further on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fugato.atomic import write_text
from fugato.errors import BadInputError, FugatoError, one_line
from fugato.motion.data import Motion, check_motion
from fugato.motion.rotations import euler_to_matrix, matrix_to_axis_angle, matrix_to_euler_zxy
from fugato.motion.skeleton import SMPL_JOINT_NAMES, SMPL_OFFSETS, SMPL_PARENTS

_ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
_JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")


def _depth_first(parents: np.ndarray) -> list[int]:
    """Joint indices in the order a BVH hierarchy nests them (children by index)."""
    order: list[int] = []
    stack = [int(np.flatnonzero(parents < 0)[0])]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(sorted(np.flatnonzero(parents == j).tolist(), reverse=True))
    return order


def _hierarchy(scale: float) -> str:
    names, parents, offsets = SMPL_JOINT_NAMES, SMPL_PARENTS, SMPL_OFFSETS * scale
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if parents[j] < 0 else "JOINT"
        channels = _ROOT_CHANNELS if parents[j] < 0 else _JOINT_CHANNELS
        lines.append(f"{pad}{kind} {names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offsets[j])}")
        lines.append(f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}")
        children = np.flatnonzero(parents == j)
        for child in children:
            emit(int(child), depth + 1)
        if len(children) == 0:
            end = offsets[j] * 0.5
            lines.extend([f"{pad}  End Site", f"{pad}  {{",
                          f"{pad}    OFFSET {' '.join(f'{v:.6f}' for v in end)}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(0, 0)
    return "\n".join(lines) + "\n"


def write_bvh(path: str | Path, motion: Motion, scale: float = 100.0) -> None:
    """Write `motion` as a BVH file, atomically. Lengths are multiplied by `scale` (100:
    centimetres, most tools' default; 1: metres). Raises `FugatoError` for a motion with
    NaN frames (write the segments of `split_valid` instead)."""
    bad = int((~motion.valid_frames()).sum())
    if bad:
        raise FugatoError(f"{motion.name or 'motion'}: {bad} frames with NaN; write the "
                          "segments of split_valid(motion) instead")
    order = _depth_first(SMPL_PARENTS)
    euler = np.degrees(matrix_to_euler_zxy(motion.matrices()))  # (N, 24, 3) as (z, x, y)
    columns = [motion.trans.astype(np.float64) * scale]
    columns += [euler[:, j] for j in order]
    table = np.concatenate(columns, axis=1) if len(motion) else np.zeros((0, 3 + 3 * len(order)))
    body = io.StringIO()
    np.savetxt(body, table, fmt="%.6f")
    text = (_hierarchy(scale) + f"MOTION\nFrames: {len(motion)}\n"
            f"Frame Time: {1.0 / motion.fps:.8f}\n" + body.getvalue())
    write_text(path, text)


@dataclass
class BvhData:
    """A parsed BVH file. Joints in file order: `names`, `parents` (index into `names`, -1 for
    the root), `offsets` (J, 3) in file units, `channels` per joint; `end_sites` maps a joint
    index to its End Site offset; `motion` (frames, channels) in channel order, angles in
    degrees."""

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    frame_time: float
    motion: np.ndarray
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """1 / frame time, rounded to a whole number when within 0.001 of one (a frame time of
        0.01666667 s means 60 fps)."""
        fps = 1.0 / self.frame_time
        return float(round(fps)) if abs(fps - round(fps)) < 1e-3 else fps

    def _columns(self, j: int) -> int:
        return sum(len(c) for c in self.channels[:j])

    def local_rotations(self) -> np.ndarray:
        """(frames, J, 3, 3) local rotation matrices, each joint's rotation channels composed in
        the order listed (identity for a joint without any)."""
        out = np.broadcast_to(np.eye(3), (len(self.motion), len(self.names), 3, 3)).copy()
        for j, channels in enumerate(self.channels):
            first = self._columns(j)
            picks = [(first + k, c[0].upper()) for k, c in enumerate(channels)
                     if c.lower().endswith("rotation")]
            if picks:
                angles = np.radians(self.motion[:, [k for k, _ in picks]])
                out[:, j] = euler_to_matrix(angles, "".join(axis for _, axis in picks))
        return out

    def root_translation(self) -> np.ndarray:
        """(frames, 3) root position channels plus the root offset, in file units."""
        root = int(np.flatnonzero(self.parents < 0)[0])
        out = np.broadcast_to(self.offsets[root], (len(self.motion), 3)).copy()
        first = self._columns(root)
        for k, c in enumerate(self.channels[root]):
            if c.lower().endswith("position"):
                out[:, "XYZ".index(c[0].upper())] += self.motion[:, first + k]
        return out


def read_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file (any joints, channel orders and End Sites). Raises `BadInputError`
    naming the file for a missing file or a malformed hierarchy or motion table."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "no such file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(path, f"cannot read the file ({one_line(error)})") from None
    head, sep, tail = text.partition("MOTION")
    if not sep or "HIERARCHY" not in head:
        raise BadInputError(path, "not a BVH file (no HIERARCHY and MOTION sections)")
    try:
        skeleton = _Hierarchy.parse(head.split())
        n_channels = sum(len(c) for c in skeleton.channels)
        frames, frame_time, table = _motion_table(tail, n_channels, path)
    except (ValueError, IndexError, StopIteration) as error:
        raise BadInputError(path, f"malformed BVH ({one_line(error)})") from None
    if len(table) != frames or table.shape[1] != n_channels:
        raise BadInputError(path, f"motion table is {table.shape}, the header says "
                                  f"{frames} frames of {n_channels} channels")
    if not frame_time > 0:
        raise BadInputError(path, f"frame time {frame_time} is not positive")
    return BvhData(skeleton.names, np.array(skeleton.parents),
                   np.array(skeleton.offsets, dtype=np.float64), skeleton.channels, frame_time,
                   table, skeleton.end_sites)


@dataclass
class _Hierarchy:
    """The joints of a BVH HIERARCHY section, in file order."""

    names: list[str] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    offsets: list[list[float]] = field(default_factory=list)
    channels: list[tuple[str, ...]] = field(default_factory=list)
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)
    stack: list[int] = field(default_factory=list)
    """Open joints; -2 marks an End Site."""

    @classmethod
    def parse(cls, tokens: list[str]) -> _Hierarchy:
        """The hierarchy of the tokens before MOTION; ValueError/IndexError when malformed."""
        out = cls()
        i = tokens.index("HIERARCHY") + 1
        while i < len(tokens):
            i = out._token(tokens, i)
        if out.stack or not out.names:
            raise ValueError("unbalanced braces or no joints")
        return out

    def _token(self, tokens: list[str], i: int) -> int:
        """Read the token at `i` (with its arguments); the index of the next one."""
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            self.parents.append(self._open_joint())
            self.names.append(tokens[i + 1])
            self.offsets.append([0.0, 0.0, 0.0])
            self.channels.append(())
            return i + 2
        if tok == "End":  # "End Site {"
            if tokens[i + 2] != "{":
                raise ValueError("End Site without '{'")
            self.stack.append(-2)
            return i + 3
        if tok in ("{", "}"):
            if tok == "{":
                self.stack.append(len(self.names) - 1)
            else:
                self.stack.pop()
            return i + 1
        if tok == "OFFSET":
            values = [float(v) for v in tokens[i + 1:i + 4]]
            if self.stack and self.stack[-1] == -2:
                owner = next(s for s in reversed(self.stack) if s >= 0)  # StopIteration: none
                self.end_sites[owner] = np.array(values)
            else:
                self.offsets[-1] = values
            return i + 4
        if tok == "CHANNELS":
            n = int(tokens[i + 1])
            self.channels[-1] = tuple(tokens[i + 2:i + 2 + n])
            return i + 2 + n
        raise ValueError(f"unexpected token {tok!r}")

    def _open_joint(self) -> int:
        """The innermost open joint (-1: none, for the root)."""
        return next((s for s in reversed(self.stack) if s >= 0), -1)


def _motion_table(tail: str, n_channels: int, path: Path) -> tuple[int, float, np.ndarray]:
    """The MOTION section: (frames the header says, frame time in s, table (rows, channels));
    the header's frame rate and duration pass `check_motion` before the table is read."""
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    frames = int(lines[0].split(":")[1])
    frame_time = float(lines[1].split(":")[1])
    if frame_time > 0:  # read_bvh refuses the others
        check_motion(path, frames, 1 / frame_time)
    rows = lines[2:2 + frames]
    table = np.loadtxt(io.StringIO("\n".join(rows)), ndmin=2) if rows else \
        np.zeros((0, n_channels))
    return frames, frame_time, table


def motion_from_bvh(bvh: BvhData | str | Path, scale: float = 0.01, name: str = "") -> Motion:
    """A `Motion` from a BVH file with the 24 SMPL joint names (as `write_bvh` writes them);
    lengths are multiplied by `scale` (0.01: centimetres to metres). The file's own rest
    offsets are not kept: positions come from the mean-shape skeleton."""
    source = None
    if not isinstance(bvh, BvhData):
        source = Path(bvh)
        bvh = read_bvh(source)
    missing = [n for n in SMPL_JOINT_NAMES if n not in bvh.names]
    if missing:
        raise BadInputError(source or "BVH data", f"no SMPL joint(s) {', '.join(missing[:3])}")
    index = [bvh.names.index(n) for n in SMPL_JOINT_NAMES]
    rotations = bvh.local_rotations()[:, index]
    return Motion(matrix_to_axis_angle(rotations), bvh.root_translation() * scale, bvh.fps,
                  name=name or (source.stem if source else ""), source=source)
