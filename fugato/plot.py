"""Every figure fugato draws, as PNG files (matplotlib on the file-only Agg backend).

Figures are written atomically (`save_figure`); nothing is shown on screen. The stick figures of
dances build on this module in `fugato.motion.plot`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fugato.atomic import atomic_path
from fugato.music.melody import TPQ


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (plots are written, never shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    plt = pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_training_curves(records: Sequence[Mapping[str, Any]], path: Path,
                         keys: Sequence[str] = ("loss",)) -> None:
    """Train and validation curves of `keys` from metrics.jsonl records (a key no record holds
    gets an empty panel that says so)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for split, style in (("train", "-"), ("valid", "o-")):
            points = [(r["step"], r[key]) for r in records if r.get("split") == split and key in r]
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, style, label=split, markersize=3)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
    save_figure(fig, path)


def plot_image_grid(images: np.ndarray, path: Path, columns: int = 10,
                    title: str | None = None) -> None:
    """Grey-scale images (N, H, W) with values in [0, 1] tiled in rows of `columns`."""
    plt = pyplot()
    n = len(images)
    rows = max(1, math.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.9), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_distributions(histograms: Mapping[str, np.ndarray], positions: np.ndarray,
                       labels: Sequence[str] | None, path: Path, title: str, xlabel: str,
                       max_bins: int | None = None, ylabel: str = "share of notes") -> None:
    """Side-by-side bars of several histograms over the same bins (e.g. samples vs test)."""
    plt = pyplot()
    keep = np.arange(len(positions))
    if max_bins is not None:
        used = np.flatnonzero(np.max(np.stack(list(histograms.values())), axis=0) > 0)
        keep = used[:max_bins] if len(used) else keep[:max_bins]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(keep) * len(histograms)), 3.5))
    width = 0.8 / len(histograms)
    for i, (name, hist) in enumerate(histograms.items()):
        ax.bar(np.arange(len(keep)) + i * width, np.asarray(hist)[keep], width, label=name)
    names = list(labels) if labels is not None else [f"{p:.3g}" for p in positions]
    ax.set_xticks(np.arange(len(keep)) + 0.4 - width / 2)
    ax.set_xticklabels([names[k] for k in keep], rotation=60 if len(keep) > 12 else 0,
                       fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    save_figure(fig, path)


def plot_scatter_grid(x: np.ndarray, y: np.ndarray, x_names: Sequence[str],
                      y_names: Sequence[str], path: Path, max_points: int = 2000) -> None:
    """Pairwise scatter plots: row i shows column i of `x` (N, A) (vertical axis) against
    every column j of `y` (N, B) (horizontal axis); a diagonal of tight curves means x_i ~ y_i."""
    plt = pyplot()
    x, y = np.asarray(x), np.asarray(y)
    keep = np.linspace(0, len(x) - 1, min(len(x), max_points)).astype(int)
    fig, axes = plt.subplots(len(x_names), len(y_names),
                             figsize=(2.4 * len(y_names), 2.2 * len(x_names)), squeeze=False)
    for i, xn in enumerate(x_names):
        for j, yn in enumerate(y_names):
            ax = axes[i][j]
            ax.scatter(y[keep, j], x[keep, i], s=2, alpha=0.4)
            ax.tick_params(labelsize=6)
            if i == len(x_names) - 1:
                ax.set_xlabel(yn, fontsize=8)
            if j == 0:
                ax.set_ylabel(xn, fontsize=8)
    save_figure(fig, path)


def plot_code_pairs(codes: np.ndarray, dims: Sequence[int], attrs: np.ndarray,
                    names: Sequence[str], path: Path, max_points: int = 2000) -> None:
    """The codes in the plane of two attributes' own dimensions, coloured by an attribute (the
    reference code's `plot_data_dist`). Row l is coloured by attribute l (`attrs` (N, L), in its
    units; colour bar on the right) and puts its own dimension `dims[l]` of `codes` (N, z)
    across; column m puts attribute m's dimension up, for every m != l (a single attribute: the
    first dimension not in `dims`). A dimension that orders attribute l shows as colour changing
    across and not up, in every panel of row l."""
    plt = pyplot()
    codes, attrs = np.asarray(codes), np.asarray(attrs)
    keep = np.linspace(0, len(codes) - 1, min(len(codes), max_points)).astype(int)
    spare = next((d for d in range(codes.shape[1]) if d not in dims), dims[0])
    rows = [[(dims[m], names[m]) for m in range(len(names)) if m != l] or [(spare, "free")]
            for l in range(len(names))]
    columns = len(rows[0])
    fig, axes = plt.subplots(len(names), columns, figsize=(2.4 * columns + 0.8, 2.2 * len(names)),
                             squeeze=False, layout="constrained")
    for l, name in enumerate(names):
        for ax, (up, up_name) in zip(axes[l], rows[l], strict=True):
            points = ax.scatter(codes[keep, dims[l]], codes[keep, up], c=attrs[keep, l], s=3,
                                cmap="viridis", alpha=0.7, linewidths=0)
            ax.set_xlabel(f"z{dims[l]} ({name})", fontsize=7)
            ax.set_ylabel(f"z{up} ({up_name})", fontsize=7)
            ax.tick_params(labelsize=6)
        fig.colorbar(points, ax=axes[l].tolist(), shrink=0.9).set_label(name, fontsize=8)
    save_figure(fig, path)


def plot_pair_grid(groups: Mapping[str, Mapping[str, Sequence[float]]], metrics: Sequence[str],
                   path: Path, title: str) -> None:
    """Every metric against every other, one point per run coloured by its group, a histogram
    of each group's values on the diagonal (AR-VAE's Fig. 4). `groups[group][metric]` is the
    list of values of that metric over the group's runs, as in `plot_boxplots`."""
    plt = pyplot()
    k = len(metrics)
    edges = [np.histogram_bin_edges([v for g in groups.values() for v in g[m]], bins=10)
             for m in metrics]  # the same bins for every group
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False,
                             layout="constrained")
    for g, (name, values) in enumerate(groups.items()):
        columns = [np.asarray(values[m], dtype=float) for m in metrics]
        for i in range(k):
            for j in range(k):
                if i == j:
                    axes[i][j].hist(columns[i], bins=edges[i], color=f"C{g % 10}", alpha=0.5,
                                    label=name)
                else:
                    axes[i][j].plot(columns[j], columns[i], "o", color=f"C{g % 10}",
                                    markersize=3, alpha=0.7)
    for i, metric in enumerate(metrics):
        axes[-1][i].set_xlabel(metric, fontsize=8)
        axes[i][0].set_ylabel(metric, fontsize=8)
        for ax in axes[i]:
            ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center",
               ncol=min(len(groups), 6), fontsize=8)
    save_figure(fig, path)


def plot_lines(x: np.ndarray, curves: Mapping[str, np.ndarray], path: Path, xlabel: str,
               ylabel: str, title: str) -> None:
    """Several curves over the same x values, one per name."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, values in curves.items():
        ax.plot(x, values, "o-", label=name, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_heatmaps(maps: Mapping[str, np.ndarray], extent: float, path: Path, xlabel: str,
                  ylabel: str) -> None:
    """One coloured (rows, columns) grid per name over [-extent, extent]^2, side by side (the
    panels share their axes: the y label is on the first only)."""
    plt = pyplot()
    # constrained layout keeps each colour bar's tick labels clear of the next panel
    fig, axes = plt.subplots(1, len(maps), figsize=(3.4 * len(maps), 3), squeeze=False,
                             layout="constrained")
    for ax, (name, grid) in zip(axes[0], maps.items(), strict=True):
        image = ax.imshow(grid, origin="lower", extent=(-extent, extent, -extent, extent),
                          aspect="auto", cmap="viridis")
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
    axes[0, 0].set_ylabel(ylabel, fontsize=8)
    save_figure(fig, path)


def plot_spectrograms(signals: Mapping[str, np.ndarray], path: Path, sample_rate: int,
                      title: str | None = None) -> None:
    """One log-magnitude spectrogram panel (`fugato.audio.stft.log_spectrogram`) per named mono
    signal, stacked, time in seconds and frequency in kHz."""
    from fugato.audio.stft import log_spectrogram

    plt = pyplot()
    fig, axes = plt.subplots(len(signals), 1, figsize=(9, 2.2 * len(signals)), squeeze=False)
    for ax, (name, x) in zip(axes[:, 0], signals.items(), strict=True):
        ax.imshow(log_spectrogram(x), origin="lower", aspect="auto", cmap="magma",
                  extent=(0, len(x) / sample_rate, 0, sample_rate / 2000))
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=9)
    axes[-1, 0].set_xlabel("seconds")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, Path(path))


def plot_piano_rolls(melodies: Sequence[Any], labels: Sequence[str], path: Path,
                     title: str) -> None:
    """Short melodies (`Melody`) as piano rolls side by side, each captioned by its label."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(melodies), figsize=(1.6 * len(melodies), 2.6),
                             sharey=True, squeeze=False)
    pitches = [p for m in melodies for p in m.pitches.tolist()]
    low, high = (min(pitches) - 2, max(pitches) + 2) if pitches else (55, 84)
    for ax, melody, label in zip(axes[0], melodies, labels, strict=True):
        quarters = float(TPQ)
        for p, on, d in zip(melody.pitches, melody.onsets, melody.durations, strict=True):
            ax.barh(p, d / quarters, left=on / quarters, height=0.8, color="tab:blue")
        ax.set_xlim(0, 4)
        ax.set_ylim(low, high)
        ax.set_xticks(range(5))
        ax.tick_params(labelsize=6)
        ax.set_title(label, fontsize=7)
    axes[0][0].set_ylabel("MIDI pitch", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.9))  # room above the two-line captions for the title
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def plot_melody_rows(melodies: Mapping[str, Any], path: Path) -> None:
    """Multi-bar melodies (`Melody`) as piano rolls, one row each, bar lines every 4 quarters."""
    plt = pyplot()
    fig, axes = plt.subplots(len(melodies), 1, figsize=(12, 1.8 * len(melodies)),
                             squeeze=False, sharex=True)
    for ax, (label, m) in zip(axes[:, 0], melodies.items(), strict=True):
        ax.barh(m.pitches, m.durations / TPQ, left=m.onsets / TPQ, height=0.8)
        for bar in range(0, int(math.ceil(max(m.end, 1) / TPQ)) + 1, 4):
            ax.axvline(bar, color="0.8", lw=0.6, zorder=0)
        ax.set_ylabel("MIDI")
        ax.set_title(label, fontsize=9)
    axes[-1, 0].set_xlabel("quarter notes")
    fig.tight_layout()
    save_figure(fig, path)


def plot_boxplots(groups: Mapping[str, Mapping[str, Sequence[float]]], metrics: Sequence[str],
                  path: Path, title: str) -> None:
    """One panel per metric, one box per group (e.g. a model over seeds), points overlaid.

    `groups[group][metric]` is the list of values of that metric over the group's runs.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.3 * len(metrics), 3.4), squeeze=False)
    names = list(groups)
    for ax, metric in zip(axes[0], metrics, strict=True):
        data = [[float(v) for v in groups[g].get(metric, [])] for g in names]
        ax.boxplot(data, widths=0.6)
        for i, values in enumerate(data, start=1):
            ax.plot(np.full(len(values), i), values, "o", color="tab:red", markersize=3, alpha=0.7)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_trade_off(groups: Mapping[str, Mapping[str, Sequence[float]]], x: str, y: str,
                   path: Path, title: str) -> None:
    """One point per group at the mean of metric `x` (horizontal) and `y` (vertical) over its
    runs, with one-sd bars and the group's name beside it (AR-VAE's Fig. 8: Interpretability
    against reconstruction over a gamma x delta grid). A group without both metrics is left out.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, (name, values) in enumerate(groups.items()):
        if not values.get(x) or not values.get(y):
            continue
        xs, ys = np.asarray(values[x], dtype=float), np.asarray(values[y], dtype=float)
        ax.errorbar(xs.mean(), ys.mean(), xerr=xs.std(), yerr=ys.std(), fmt="o",
                    color=f"C{k % 10}", capsize=3)
        ax.annotate(name, (xs.mean(), ys.mean()), textcoords="offset points", xytext=(5, 4),
                    fontsize=7)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)


def plot_stacked_shares(panels: Mapping[str, Mapping[str, Mapping[str, float]]], path: Path,
                        title: str) -> None:
    """One panel per question: a horizontal bar per row label, split into the shares of each
    answer (`panels[question][row][answer]` counts; shares of the row's total)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 0.5 + 0.45 * max(
        (len(rows) for rows in panels.values()), default=1)), squeeze=False)
    for ax, (question, rows) in zip(axes[0], panels.items(), strict=True):
        labels = list(rows)
        answers = list(next(iter(rows.values()), {}))
        left = np.zeros(len(labels))
        for k, answer in enumerate(answers):
            counts = np.array([rows[r].get(answer, 0) for r in labels], dtype=float)
            totals = np.array([max(sum(rows[r].values()), 1) for r in labels], dtype=float)
            ax.barh(labels, counts / totals, left=left, label=answer, color=f"C{k}")
            left += counts / totals
        ax.set_xlim(0, 1)
        ax.set_title(question)
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=7, ncol=len(answers))
    fig.suptitle(title)
    save_figure(fig, path)
