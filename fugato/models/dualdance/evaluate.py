"""The dual music-dance evaluation on the test dances' windows (split by dance).

Music -> dance: each test window's dance is generated free-running from its true first pose
and compared with the real one (Frechet joint distance, also with every frame's pelvis at the
origin), diversity over other windows' start poses, beat alignment of kinematic beats with the
music's beats (beside the ground truth's and chance's). Dance -> music: chroma and beats
composed from the chord of each window's first second (notes accuracy, beside a constant
pitch class; beat hit rate).

The field's metrics beside them (`fugato.metrics.dance_field`), each with the real held-out
dances' value (`real_*`) and, for the ones that pair music with dance, the real dances' value
on another test window's music (`shuffled_*`, what no relation between the two scores):
FID_k / FID_g and Div_k / Div_g against the training dances' windows (the reference set), the
beat-align score Bailando's and FACT's way, EDGE's PFC; dance -> music, the beat coverage, hit
and F1 of the composed beats against the conditioning dance's kinematic beats.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.audio.features import CHROMA, beat_frames
from fugato.errors import FugatoError
from fugato.metrics.dance import (
    beat_align_score,
    beat_alignment,
    beat_hit_rate,
    bone_length_error,
    chroma_l1,
    diversity,
    frechet_joint_distance,
    kinematic_beats,
    notes_accuracy,
)
from fugato.metrics.dance_field import (
    beat_align_bailando,
    beat_align_fact,
    beat_coverage_hit,
    beat_f1,
    feature_diversity,
    feature_fid,
    geometric_features,
    kinetic_features,
    physical_foot_contact,
)
from fugato.models.dualdance.task import DualDance, chord_indices
from fugato.motion.plot import plot_stick_strip
from fugato.motion.representation import DANCE_DIM, FPS, dance_positions
from fugato.motion.skeleton import N_JOINTS
from fugato.music.chroma import beat_peaks
from fugato.plot import plot_training_curves
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from fugato.train.run import Run

KEYS = ("frechet", "frechet_root_relative", "diversity", "beat_alignment", "beat_align_score",
        "ground_truth_beat_alignment", "ground_truth_beat_align_score", "beat_alignment_chance",
        "notes_accuracy", "notes_accuracy_constant", "beat_hit_rate",
        "composed_beats_per_window", "true_beats_per_window", "chroma_l1", "bone_length_error")
"""The numbers of the report's table, in its order."""

FIELD = ("fid_k", "fid_g", "div_k", "div_g", "beat_align_bailando", "beat_align_fact", "pfc",
         "beat_coverage", "beat_hit", "beat_f1")
"""The field's metrics: eval.json holds each as generated and as `real_<key>` (the real test
dances), the beat ones also as `shuffled_<key>` (real dances on another window's music)."""
SHUFFLED = ("beat_align_bailando", "beat_align_fact", "beat_coverage", "beat_hit", "beat_f1")
FIELD_KEYS = (*FIELD, *(f"real_{k}" for k in FIELD), *(f"shuffled_{k}" for k in SHUFFLED),
              "reference_windows")

MAX_REFERENCE = 2000
"""At most this many training windows (a seeded subset) form the FID / Div reference set."""

_ORDER = ("model", "step", "gw_weight", "cycle_weight", "gw_epsilon", "frechet",
          "frechet_root_relative", "diversity", "beat_alignment", "beat_align_score",
          "notes_accuracy", "notes_accuracy_constant", "ground_truth_beat_alignment",
          "ground_truth_beat_align_score", "beat_alignment_chance", "beat_hit_rate",
          "composed_beats_per_window", "true_beats_per_window", "chroma_l1", "generated_nan",
          "bone_length_error", *FIELD_KEYS, "test_windows", "test_dances")
"""eval.json's key order (as before the evaluation was split into steps)."""


def evaluate(task: DualDance, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run` on (at most `sample.eval_windows`) test
    windows; the plots go to `run.path / "plots"`."""
    rng = np.random.default_rng(seed)
    windows, index = _test_windows(task, rng)
    music, dance = windows.music[index], windows.dance[index]
    generated = task.generate_dance(music, dance[:, 0], seed)
    gen_pos, true_pos = dance_positions(generated), dance_positions(dance)
    results: dict[str, Any] = {
        "model": task.name, "step": run.step, "gw_weight": task.config.net.gw_weight,
        "cycle_weight": task.config.net.cycle_weight, "gw_epsilon": task.config.net.gw_epsilon}
    results.update(_dance_numbers(gen_pos, true_pos, music))
    results["diversity"] = _diversity(task, music, dance, rng, seed + 1)
    composed = task.generate_music(dance, _first_chords(task, music), seed)
    results.update(_music_numbers(task, composed, music))
    reference = _reference_positions(task, rng)
    shuffled = _other_window(windows.names[index], rng)
    results.update(_field_dance_numbers(gen_pos, true_pos, music, reference, shuffled))
    results.update(_field_music_numbers(task, composed, music, true_pos, shuffled))
    results.update({
        "generated_nan": int(np.isnan(generated).sum() + np.isnan(composed).sum()),
        "bone_length_error": bone_length_error(gen_pos),
        "test_windows": len(music),
        "test_dances": sorted(set(windows.names[index].tolist()))})
    results = {k: results[k] for k in _ORDER if k in results}
    _plot(run, gen_pos[0], true_pos[0],
          f"{windows.names[index[0]]}, {windows.starts[index[0]] / FPS:.1f} s")
    return Evaluation(results, _report(task, run, results, music.shape[1]))


def _test_windows(task: DualDance, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    """The test windows and a seeded sorted subset (N,) of at most `sample.eval_windows`."""
    windows = task.windows("test")
    if len(windows) == 0:
        raise FugatoError(f"no test window (test dances: {task.dataset().split['test']})")
    index = np.arange(len(windows))
    if len(index) > task.config.sample.eval_windows:
        index = np.sort(rng.choice(len(index), task.config.sample.eval_windows, replace=False))
    return windows, index


def _window_mean(metric: Callable[[np.ndarray, np.ndarray], float],
                 points: list[np.ndarray], beats: list[np.ndarray]) -> float:
    """Mean over the windows of metric(points[i], beats[i]), NaNs left out."""
    values = [metric(p, b) for p, b in zip(points, beats, strict=True)]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _dance_numbers(gen_pos: np.ndarray, true_pos: np.ndarray, music: np.ndarray
                   ) -> dict[str, float]:
    """Frechet distances and beat alignment of generated joint positions (N, T, 24, 3) against
    the real ones, with the ground truth's and a beat on every frame's alignment beside."""
    music_beats = [beat_frames(m) for m in music]
    kin_gen = [kinematic_beats(p) for p in gen_pos]
    kin_true = [kinematic_beats(p) for p in true_pos]
    n, t = music.shape[:2]
    return {
        "frechet": frechet_joint_distance(gen_pos, true_pos),
        # the same with every frame's pelvis moved to the origin: pose error without the root's
        # drift, which dominates free-running generation
        "frechet_root_relative": frechet_joint_distance(gen_pos - gen_pos[..., :1, :],
                                                        true_pos - true_pos[..., :1, :]),
        "beat_alignment": _window_mean(beat_alignment, kin_gen, music_beats),
        "beat_align_score": _window_mean(beat_align_score, kin_gen, music_beats),
        "ground_truth_beat_alignment": _window_mean(beat_alignment, kin_true, music_beats),
        "ground_truth_beat_align_score": _window_mean(beat_align_score, kin_true, music_beats),
        # what a kinematic beat on a uniformly random frame scores: at 5 frames of tolerance
        # and a beat every ~12 frames most frames are "on a beat"
        "beat_alignment_chance": _window_mean(beat_alignment, [np.arange(1, t - 1)] * n,
                                              music_beats),
        "true_beats_per_window": float(np.mean([len(b) for b in music_beats])),
    }


def _diversity(task: DualDance, music: np.ndarray, dance: np.ndarray,
               rng: np.random.Generator, seed: int) -> float:
    """Mean diversity (m) of `sample.diversity_starts` generations per window, each from
    another window's first pose; NaN with fewer than 2 starts or windows."""
    g, n, t = task.config.sample.diversity_starts, len(music), music.shape[1]
    if g < 2 or n < 2:
        return float("nan")
    everyone = np.arange(n)
    others = np.stack([rng.choice(np.delete(everyone, i), g, replace=n - 1 < g)
                       for i in everyone])
    starts = dance[others, 0].reshape(n * g, DANCE_DIM)
    many = task.generate_dance(np.repeat(music, g, axis=0), starts, seed)
    many_pos = dance_positions(many).reshape(n, g, t, N_JOINTS, 3)
    return float(np.mean([diversity(p) for p in many_pos]))


def _first_chords(task: DualDance, music: np.ndarray) -> np.ndarray:
    """(N,) chord index of each window's first `net.chord_frames` frames."""
    return chord_indices(music[..., CHROMA], task.config.net.chord_frames)


def _music_numbers(task: DualDance, composed: np.ndarray, music: np.ndarray
                   ) -> dict[str, float]:
    """Notes accuracy, beat hit rate and chroma L1 of composed (N, T, 13) chroma + beat."""
    pred_beats = [beat_peaks(c[:, 12], task.config.sample.beat_threshold) for c in composed]
    music_beats = [beat_frames(m) for m in music]
    # what one pitch class held throughout scores: both sides go to C major / A minor, so a
    # constant chroma names the tonic, the commonest true pitch class
    constant = np.eye(12, dtype=np.float32)[np.zeros(composed.shape[:-1], dtype=np.int64)]
    return {
        "notes_accuracy": notes_accuracy(composed[..., :12], music[..., CHROMA]),
        "notes_accuracy_constant": notes_accuracy(constant, music[..., CHROMA]),
        "beat_hit_rate": _window_mean(beat_hit_rate, pred_beats, music_beats),
        "composed_beats_per_window": float(np.mean([len(p) for p in pred_beats])),
        "chroma_l1": chroma_l1(composed[..., :12], music[..., CHROMA]),
    }


def _reference_positions(task: DualDance, rng: np.random.Generator) -> np.ndarray:
    """(M, T, 24, 3) joint positions of non-overlapping training windows (a seeded subset of
    at most `MAX_REFERENCE`): the real dances FID and Div measure against."""
    length = task.config.data.window
    train = task.dataset().windows("train", length=length, stride=length)
    keep = np.arange(len(train))
    if len(keep) > MAX_REFERENCE:
        keep = np.sort(rng.choice(len(keep), MAX_REFERENCE, replace=False))
    return dance_positions(train.dance[keep])


def _other_window(names: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N,) for each window another window, of another dance where there is one (so of other
    music): the pairing that scores what music and dance unrelated to each other score."""
    n = len(names)
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        pool = np.flatnonzero(names != names[i])
        if len(pool) == 0:
            pool = np.delete(np.arange(n), i) if n > 1 else np.arange(n)
        out[i] = rng.choice(pool)
    return out


def _set_metrics(pos: np.ndarray, reference: np.ndarray, kin_ref: np.ndarray,
                 geo_ref: np.ndarray) -> dict[str, float]:
    """FID_k, FID_g, Div_k, Div_g and PFC of motions (N, T, 24, 3) against the reference's
    kinetic and geometric features; NaN where a side has fewer than 2 motions or a position
    is not finite (a generation that diverged: counted in `generated_nan`)."""
    nan = float("nan")
    if not np.isfinite(pos).all():
        return dict.fromkeys(("fid_k", "fid_g", "div_k", "div_g", "pfc"), nan)
    if len(pos) < 2 or len(reference) < 2:
        return {"fid_k": nan, "fid_g": nan, "div_k": nan, "div_g": nan,
                "pfc": physical_foot_contact(pos)}
    kin, geo = kinetic_features(pos), geometric_features(pos)
    return {"fid_k": feature_fid(kin, kin_ref), "fid_g": feature_fid(geo, geo_ref),
            "div_k": feature_diversity(kin, kin_ref), "div_g": feature_diversity(geo, geo_ref),
            "pfc": physical_foot_contact(pos)}


def _field_dance_numbers(gen_pos: np.ndarray, true_pos: np.ndarray, music: np.ndarray,
                         reference: np.ndarray, shuffled: np.ndarray) -> dict[str, Any]:
    """The field's music -> dance metrics of the generated and the real test windows (both
    (N, T, 24, 3)) against the reference windows (M, T, 24, 3), the beat-align scores also of
    the real dances on the music of window `shuffled[i]`."""
    kin_ref, geo_ref = kinetic_features(reference), geometric_features(reference)
    music_beats = [beat_frames(m) for m in music]
    other_beats = [music_beats[j] for j in shuffled]
    out: dict[str, Any] = {"reference_windows": len(reference)}
    for prefix, pos in (("", gen_pos), ("real_", true_pos)):
        out.update({prefix + k: v for k, v in _set_metrics(pos, reference, kin_ref,
                                                           geo_ref).items()})
    for name, metric in (("beat_align_bailando", beat_align_bailando),
                         ("beat_align_fact", beat_align_fact)):
        out[name] = _window_mean(metric, list(gen_pos), music_beats)
        out[f"real_{name}"] = _window_mean(metric, list(true_pos), music_beats)
        out[f"shuffled_{name}"] = _window_mean(metric, list(true_pos), other_beats)
    return out


def _coverage_hit_f1(music_beats: list[np.ndarray], dance_beats: list[np.ndarray],
                     frames: int) -> tuple[float, float, float]:
    """Window means (NaN left out) of `beat_coverage_hit`'s coverage and hit, and `beat_f1` of
    the two means (as LORIS's `beats_scores.py` reports its F1)."""
    scores = np.array([beat_coverage_hit(m, d, frames)
                       for m, d in zip(music_beats, dance_beats, strict=True)]).reshape(-1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN only: NaN
        coverage, hit = np.nanmean(scores, axis=0)
    return float(coverage), float(hit), beat_f1(float(coverage), float(hit))


def _field_music_numbers(task: DualDance, composed: np.ndarray, music: np.ndarray,
                         true_pos: np.ndarray, shuffled: np.ndarray) -> dict[str, float]:
    """Beat coverage, hit and F1 of the composed beats, of the true music's beats, and of
    another window's music beats, each against the kinematic beats of the window's dance."""
    frames = music.shape[1]
    dance_beats = [kinematic_beats(p) for p in true_pos]
    pred = [beat_peaks(c[:, 12], task.config.sample.beat_threshold) for c in composed]
    true = [beat_frames(m) for m in music]
    out: dict[str, float] = {}
    for prefix, beats in (("", pred), ("real_", true), ("shuffled_", [true[j] for j in shuffled])):
        scores = _coverage_hit_f1(beats, dance_beats, frames)
        out.update(zip((f"{prefix}beat_coverage", f"{prefix}beat_hit", f"{prefix}beat_f1"),
                       scores, strict=True))
    return out


def _plot(run: Run, generated: np.ndarray, real: np.ndarray, where: str) -> None:
    """Training curves and stick-figure strips of the first test window (T, 24, 3) each."""
    plots = run.path / "plots"
    plot_training_curves(run.metrics(), plots / "training.png",
                         ("loss_md", "loss_dm", "dance_rot", "music_chroma", "loss"))
    plot_stick_strip(generated, plots / "dance-generated.png", frames=8, fps=FPS,
                     title=f"generated ({where})")
    plot_stick_strip(real, plots / "dance-real.png", frames=8, fps=FPS,
                     title="real dance, same music")


FIELD_NOTES = {
    "fid_k": "lower; kinetic features vs the training windows",
    "fid_g": "lower; geometric (Mueller) features vs the training windows",
    "div_k": "nearest the real; kinetic spread, reference standard deviations",
    "div_g": "nearest the real; geometric spread",
    "beat_align_bailando": "higher; over music beats, sigma 50 ms",
    "beat_align_fact": "higher; over motion beats, sigma 50 ms",
    "pfc": "lower; EDGE's foot skating under root acceleration",
    "beat_coverage": "higher; composed beat bins (0.2 s) holding a kinematic beat",
    "beat_hit": "higher; kinematic beat bins holding a composed beat",
    "beat_f1": "higher; harmonic mean of the mean coverage and hit (LORIS)",
}
"""The field table's notes: which way is better, what is measured."""


def _field_table(results: dict[str, Any]) -> str:
    """The field's metrics as generated, for the real test dances, and for the real dances on
    another window's music (the beat metrics), with which way is better."""
    rows = [{"metric": k, "generated": results[k], "real": results[f"real_{k}"],
             "real, other music": results.get(f"shuffled_{k}", ""), "better": FIELD_NOTES[k]}
            for k in FIELD]
    return (f"## The field's metrics\n\nReference set: {results['reference_windows']} "
            "training windows. Dance -> music: composed beats against the kinematic beats of "
            "the window's dance.\n\n" + markdown_table(rows))


def _report(task: DualDance, run: Run, results: dict[str, Any], frames: int) -> str:
    """report.md: the table of `KEYS` with their units, the stick figures, the training curves
    (`frames` per test window)."""
    cfg, net = task.config.sample, task.config.net
    units = {"frechet": "m, lower is better (mean joint distance to the real dance)",
             "frechet_root_relative": "m, the same with every frame's pelvis at the origin",
             "diversity": f"m, {cfg.diversity_starts} start poses per window",
             "beat_alignment_chance": "beat_alignment of a kinematic beat on every frame",
             "notes_accuracy": "composed vs true strongest pitch class, both keys to C",
             "notes_accuracy_constant": "notes_accuracy of one pitch class held throughout",
             "beat_hit_rate": f"composed beats = activation peaks >= {cfg.beat_threshold}",
             "bone_length_error": "m, largest change of a bone length from the rest skeleton"}
    rows = [{"metric": k, "value": results[k], "note": units.get(k, "")} for k in KEYS]
    lead = (f"{results['test_windows']} test windows of {frames} frames from "
            f"{len(results['test_dances'])} test dances (split by dance); GW weight "
            f"{net.gw_weight} (epsilon {net.gw_epsilon}), cycle weight {net.cycle_weight}. "
            "Dances free-running from each window's true first pose; music from each window's "
            "first-second chord.")
    return report_page(f"Dual music-dance (step {run.step})", lead, [
        markdown_table(rows), _field_table(results),
        "## A generated dance and the real one on the same music\n\n"
        "![generated](plots/dance-generated.png)\n\n![real](plots/dance-real.png)"])
