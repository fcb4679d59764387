"""Stick figures of joint positions: a PNG strip of poses and an animated GIF.

Both draw a 2D projection of (N, 24, 3) positions in metres (y up): `view="front"` looks
along -z at the x-y plane (the SMPL body faces +z, so its left side appears on the right, as
for a dancer facing the viewer), `"side"` at the z-y plane, `"top"` at the x-z plane. Bones
to left-side joints are blue, right-side red, the spine and head black.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fugato.atomic import atomic_path
from fugato.motion.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
from fugato.plot import pyplot, save_figure

_VIEWS = {"front": (0, 1), "side": (2, 1), "top": (0, 2)}


def _bone_colours(names: tuple[str, ...] = SMPL_JOINT_NAMES) -> list[str]:
    return ["tab:blue" if n.startswith("left") else "tab:red" if n.startswith("right")
            else "black" for n in names]


def _checked(positions: np.ndarray, parents: np.ndarray, view: str) -> tuple[np.ndarray, int,
                                                                              int]:
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[1:] != (len(parents), 3) or len(pos) == 0:
        raise ValueError(f"positions of shape {pos.shape}: expected (N, {len(parents)}, 3), N > 0")
    if view not in _VIEWS:
        raise ValueError(f"unknown view {view!r}: choose one of {', '.join(_VIEWS)}")
    h, v = _VIEWS[view]
    return pos, h, v


def _draw(ax: Any, pose: np.ndarray, parents: np.ndarray, h: int, v: int) -> list[Any]:
    colours = _bone_colours()
    lines = []
    for j in range(1, len(parents)):
        p = parents[j]
        (line,) = ax.plot([pose[p, h], pose[j, h]], [pose[p, v], pose[j, v]], "-",
                          color=colours[j] if j < len(colours) else "black", linewidth=2,
                          solid_capstyle="round")
        lines.append(line)
    return lines


def plot_stick_strip(positions: np.ndarray, path: str | Path, frames: int = 8,
                     fps: float | None = None, view: str = "front", title: str | None = None,
                     parents: np.ndarray = SMPL_PARENTS) -> None:
    """A PNG row of `frames` stick figures at evenly spaced frames of `positions` (N, 24, 3),
    metres. Each figure is centred on its own pelvis horizontally (travel is not shown);
    heights share one scale. Captions give the time in seconds when `fps` is given, else
    the frame index. Frames with NaN are drawn empty."""
    plt = pyplot()
    pos, h, v = _checked(positions, parents, view)
    picks = np.unique(np.linspace(0, len(pos) - 1, max(1, frames)).round().astype(int))
    shown = pos[picks]  # a copy (fancy indexing): centre each figure on its pelvis in place
    shown[..., h] -= shown[:, :1, h]
    half = max(float(np.nanmax(np.abs(shown[..., h]), initial=0.0)), 0.3) + 0.05
    lo = float(np.nanmin(shown[..., v], initial=0.0)) - 0.05
    hi = float(np.nanmax(shown[..., v], initial=1.0)) + 0.05
    fig, axes = plt.subplots(1, len(picks), figsize=(1.6 * len(picks), 3.4), squeeze=False)
    for ax, k, pose in zip(axes[0], picks, shown, strict=True):
        _draw(ax, pose, parents, h, v)
        ax.set_xlim(-half, half)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{k / fps:.2f} s" if fps else f"frame {k}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, Path(path))


def write_stick_gif(positions: np.ndarray, path: str | Path, fps: float = 25.0,
                    view: str = "front", title: str | None = None,
                    parents: np.ndarray = SMPL_PARENTS, dpi: int = 72) -> None:
    """An animated GIF of `positions` (N, 24, 3), metres, one GIF frame per motion frame at
    `fps`, in world coordinates with fixed axes (travel is shown), written atomically.
    Rendering costs about 20 ms a frame: pass `positions[::k]` and `fps / k` for long clips."""
    plt = pyplot()
    from matplotlib.animation import FuncAnimation, PillowWriter

    pos, h, v = _checked(positions, parents, view)
    fig, ax = plt.subplots(figsize=(3.2, 3.6))
    pad = 0.1
    ax.set_xlim(np.nanmin(pos[..., h]) - pad, np.nanmax(pos[..., h]) + pad)
    ax.set_ylim(np.nanmin(pos[..., v]) - pad, np.nanmax(pos[..., v]) + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    lines = _draw(ax, pos[0], parents, h, v)
    caption = ax.text(0.02, 0.02, "", transform=ax.transAxes, fontsize=7)

    def update(k: int) -> list[Any]:
        for j, line in zip(range(1, len(parents)), lines, strict=True):
            p = parents[j]
            line.set_data([pos[k, p, h], pos[k, j, h]], [pos[k, p, v], pos[k, j, v]])
        caption.set_text(f"{k / fps:.2f} s")
        return [*lines, caption]

    animation = FuncAnimation(fig, update, frames=len(pos), interval=1000.0 / fps, blit=False)
    with atomic_path(Path(path)) as tmp:
        # Pillow takes the frame duration in ms: a fractional rate works despite the stub
        animation.save(str(tmp), writer=PillowWriter(fps=fps), dpi=dpi)  # type: ignore[arg-type]
    plt.close(fig)
