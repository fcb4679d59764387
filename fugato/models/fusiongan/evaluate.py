"""FusionGAN's evaluation: Table I of Chen et al. (2017) for every system, with the genre
balance, an mgeval-style relative evaluation, Fig. 6 and a few MIDI windows of each system.

Every system (`SYSTEM_ORDER`: the RM and MC samplers, the MLE, MLE 1:1, GAN and RL baselines and
G_F) writes `sample.eval_windows` windows. Table I scores the note-duration (DD) and
pitch-class (NPD) histograms of each set against held-out A and B under the Euclidean (EUD)
and Earth Mover (EM) distances: Diff = d(A,F) + d(B,F) - d(A,B), Ratio = (d(A,F) + d(B,F)) /
d(A,B), which are 0 and 1 for any mixture of A and B. So they measure how far a system leaves
the span of A and B, not its balance; beside them:

- the floor: the same scores of a real mixture of A and B of each system's size, from the
  validation pieces (test pieces would give Ratio 1 exactly: the mixture identity), i.e. the
  table's sampling noise;
- the balance 1 - 2 |mean P(A) - 0.5| of each set from the genre classifier trained on real
  windows in phase 1, with that classifier's held-out balanced accuracy
  (`fugato.metrics.fusion`);
- per-piece features (mgeval, `fugato.metrics.mgeval`) of each system against each genre;
- the automatic Table II (`fugato.models.fusiongan.labels`): every window labelled A, B,
  mixture or neither, the labelling's calibration on real, spliced and RM windows, the paper's
  FL and the mixture share it does not see, and each system's per-window P(A) histogram.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from fugato.metrics import (
    duration_bins,
    duration_distribution,
    duration_distributions,
    pitch_class_distribution,
    pitch_class_distributions,
    relative_evaluation,
)
from fugato.metrics.fusion import (
    balanced_accuracy,
    fusion_distances,
    genre_balance,
    window_fusion_distances,
)
from fugato.models.fusiongan.baselines import random_windows
from fugato.models.fusiongan.labels import LABELS, automatic_table_two
from fugato.music.corpora import corpus_label
from fugato.music.melody import PITCH_CLASS_NAMES, Melody
from fugato.paths import safe_stem
from fugato.report import Evaluation, markdown_table, mean_sd, report_page
from fugato.samples import write_samples
from fugato.train.run import Run

if TYPE_CHECKING:
    from fugato.models.fusiongan.task import FusionGAN

SYSTEM_ORDER = ["RM", "MC", "MLE", "MLE 1:1", "GAN", "RL", "Fusion"]
"""The rows of Table I, in the paper's order (MLE 1:1 is ours)."""
FLOOR = "real mixture (floor)"
"""The label of the floor row: a real mixture of validation windows of A and B."""
HISTOGRAMS: dict[str, tuple[Callable[[list[Melody]], np.ndarray], np.ndarray]] = {
    "dd": (duration_distribution, duration_bins()),
    "npd": (pitch_class_distribution, np.arange(12)),
}
"""Table I's features: histogram of a set of melodies, and the positions of its bins."""
PER_WINDOW: dict[str, Callable[[list[Melody]], np.ndarray]] = {
    "dd": duration_distributions, "npd": pitch_class_distributions}
"""The per-window Table I's features: each melody's own histogram, (n, bins)."""
CLASSIFIER_CHUNK = 2048
"""Windows per chunk of the genre classifier: the recorded evaluations ran it on chunks of
2048, and a convolution over another chunk may round its sums differently."""

Scores = dict[str, dict[str, dict[str, float]]]
"""feature (dd / npd) -> distance (eud / em) -> {"diff", "ratio"}."""


class Numbers(NamedTuple):
    """Every number of one evaluation, before eval.json and report.md lay them out."""

    table: dict[str, Scores]
    """Table I: system -> its scores."""
    floor: Scores
    """Table I's scores of the real mixture."""
    p_genre_a: dict[str, float]
    """system -> mean P(genre A) of its windows (the classifier's)."""
    balance: dict[str, float]
    accuracy: float
    """The genre classifier's held-out balanced accuracy."""
    relative: dict[str, dict[str, dict[str, dict[str, float]]]]
    """mgeval: system (and the floor) -> genre A / B -> feature -> overlap, KL, ..."""
    calibration: dict[str, dict[str, float]]
    """The automatic Table II's labels of real A, real B, spliced and RM windows (shares)."""
    table2: dict[str, dict[str, float]]
    """The automatic Table II: system -> shares of A / B / mixture / neither, FL, mixture."""
    table_window: dict[str, Scores]
    """The per-window Table I: system (and the floor) -> its scores."""
    thresholds: dict[str, float]
    """The automatic Table II's labeller: likelihood thresholds (nats/token), half bands."""


def evaluate(task: FusionGAN, run: Run, seed: int = 0) -> Evaluation:
    """Table I (DD / NPD x EUD / EM x Diff / Ratio) for every system against held-out A and
    B, the genre balance of each system, the classifier's held-out accuracy, the sampling
    noise floor of the table, mgeval, and the DD / NPD histograms (Fig. 6)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    n = task.config.sample.eval_windows
    test = {"A": task.windows("A", "test"), "B": task.windows("B", "test")}
    systems = system_windows(task, n, rng, seed)
    floor = floor_windows(task, n, rng)
    # every set decoded once: the histograms and the mgeval features share the melodies
    decoded = {label: [task.encoding.decode(w) for w in windows]
               for label, windows in {**test, **systems, FLOOR: floor}.items()}
    hist = {key: {label: histogram(melodies) for label, melodies in decoded.items()}
            for key, (histogram, _) in HISTOGRAMS.items()}
    accuracy, p_genre_a = genre_scores(task, test, systems)
    calibration, table2, p_a, thresholds = automatic_table_two(task, test, systems, seed)
    numbers = Numbers(
        table={label: table_scores(hist, label) for label in systems},
        floor=table_scores(hist, FLOOR), p_genre_a=p_genre_a,
        balance={label: genre_balance(p) for label, p in p_genre_a.items()}, accuracy=accuracy,
        relative=mgeval_scores(decoded, [*systems, FLOOR], task.config.sample.mgeval_windows,
                               rng), calibration=calibration, table2=table2,
        table_window={label: window_scores(hist, decoded[label]) for label in [*systems, FLOOR]},
        thresholds=thresholds)
    names = genre_names(task)
    draw_figures(run, {key: {names.get(k, k): h[k] for k in ("A", "B", *systems)}
                       for key, h in hist.items()})
    draw_genre_histograms(run, p_a, names)
    write_system_midi(task, run, systems)
    test_windows = {genre: len(windows) for genre, windows in test.items()}
    return Evaluation(results(task, run, numbers, test_windows),
                      report(task, run, numbers, test_windows))


def genre_names(task: FusionGAN) -> dict[str, str]:
    """"A" and "B" as reports and plots name them: "A (wjazzd)", "B (celtic)"."""
    data = task.config.data
    return {"A": f"A ({corpus_label(data.genre_a)})", "B": f"B ({corpus_label(data.genre_b)})"}


# -- the sets ------------------------------------------------------------------------------------
def system_windows(task: FusionGAN, n: int, rng: np.random.Generator, seed: int
                   ) -> dict[str, np.ndarray]:
    """(n, window) token windows of every system of `SYSTEM_ORDER`; RM and MC draw from the
    training windows of A + B with `rng`, the nets sample with their own stream of `seed`."""
    train = np.concatenate([task.windows("A", "train"), task.windows("B", "train")])
    g = torch.Generator(device=task.device).manual_seed(seed)

    def written(name: str, count: int) -> np.ndarray:
        return task.generate(name, count, g, task.config.sample.temperature).cpu().numpy()

    return {
        "RM": random_windows(train, n, task.encoding, rng, uniform=True),
        "MC": random_windows(train, n, task.encoding, rng, uniform=False),
        "MLE": written("mle", n),
        "MLE 1:1": written("mle_even", n),
        "GAN": written("gen_gan", n),
        "RL": np.concatenate([written("rl_a", n - n // 2), written("rl_b", n // 2)]),
        "Fusion": written("gen_f", n),
    }


def floor_windows(task: FusionGAN, n: int, rng: np.random.Generator) -> np.ndarray:
    """A real mixture of (up to) n - n // 2 validation windows of A and n // 2 of B, drawn
    without replacement: (≤ n, window)."""
    valid_a, valid_b = task.windows("A", "valid"), task.windows("B", "valid")
    half_a, half_b = min(n - n // 2, len(valid_a)), min(n // 2, len(valid_b))
    return np.concatenate([valid_a[rng.choice(len(valid_a), half_a, replace=False)],
                           valid_b[rng.choice(len(valid_b), half_b, replace=False)]])


# -- the numbers ---------------------------------------------------------------------------------
def table_scores(hist: Mapping[str, Mapping[str, np.ndarray]], label: str) -> Scores:
    """Table I's scores of set `label` from the histograms {feature: {set label: histogram}}
    (which hold "A" and "B")."""
    return {key: fusion_distances(h["A"], h["B"], h[label], HISTOGRAMS[key][1])
            for key, h in hist.items()}


def window_scores(hist: Mapping[str, Mapping[str, np.ndarray]], melodies: list[Melody]
                  ) -> Scores:
    """The per-window Table I's scores of `melodies` (`window_fusion_distances`) against the
    held-out genres' aggregate histograms {feature: {"A": ..., "B": ...}}."""
    return {key: window_fusion_distances(h["A"], h["B"], PER_WINDOW[key](melodies),
                                         HISTOGRAMS[key][1]) for key, h in hist.items()}


def genre_scores(task: FusionGAN, test: Mapping[str, np.ndarray],
                 systems: Mapping[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    """(the genre classifier's balanced accuracy on the held-out windows of A and B, each
    system's mean P(A)); the classifier (A = 1: jazz in the paper) is the one trained on real
    windows."""
    p_genre_a = task.p_genre_a
    accuracy = balanced_accuracy(p_genre_a(test["A"]), p_genre_a(test["B"]))
    return accuracy, {label: float(p_genre_a(w).mean()) for label, w in systems.items()}


def mgeval_scores(decoded: Mapping[str, list[Melody]], labels: Sequence[str], per_set: int,
                  rng: np.random.Generator) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """mgeval's relative evaluation of the first `per_set` melodies of every set in `labels`
    against `per_set` held-out melodies of each genre, drawn with `rng`."""
    reference = {g: [decoded[g][i] for i in rng.choice(len(decoded[g]),
                                                       min(per_set, len(decoded[g])),
                                                       replace=False)] for g in ("A", "B")}
    return {label: {g: relative_evaluation(reference[g], decoded[label][:per_set])
                    for g in ("A", "B")} for label in labels}


# -- files ---------------------------------------------------------------------------------------
def draw_figures(run: Run, hist: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """The training and reward curves, and Fig. 6: the DD and NPD histograms of the shown
    sets ({feature: {set label: histogram}})."""
    from fugato.plot import plot_distributions, plot_training_curves

    plots = run.path / "plots"
    plot_training_curves(run.metrics(), plots / "training.png",
                         ("nll_f", "nll_mle", "classifier_accuracy", "p_genre_a_gen_f"))
    plot_training_curves(run.metrics(), plots / "rewards.png",
                         ("reward_gen_f", "reward_gen_gan", "reward_gen_a", "reward_gen_b"))
    plot_distributions(hist["dd"], HISTOGRAMS["dd"][1], None, plots / "durations.png",
                       "Note durations (DD)", "quarter notes", max_bins=16)
    plot_distributions(hist["npd"], HISTOGRAMS["npd"][1], PITCH_CLASS_NAMES,
                       plots / "pitch_classes.png", "Pitch classes (NPD)", "pitch class")


def draw_genre_histograms(run: Run, p_a: Mapping[str, np.ndarray], names: Mapping[str, str]
                          ) -> None:
    """Per-window P(A) of every system and calibration set, in ten bins: a mixture is
    bimodal (pure A and pure B windows), a fusion central; `names`: how A and B are shown."""
    from fugato.plot import plot_distributions

    edges = np.linspace(0, 1, 11)
    hist = {label: np.histogram(p, edges)[0] / max(len(p), 1) for label, p in p_a.items()}
    for name, shown in (("systems", [k for k in hist if k in SYSTEM_ORDER]),
                        ("calibration", [k for k in hist if k not in SYSTEM_ORDER])):
        plot_distributions({k: hist[k] for k in shown}, (edges[:-1] + edges[1:]) / 2,
                           [f"{a:.1f}-{b:.1f}" for a, b in zip(edges, edges[1:], strict=False)],
                           run.path / "plots" / f"p_genre_a_{name}.png",
                           f"Per-window P({names['A']}) by the genre classifier ({name})",
                           f"P({names['A']})",
                           ylabel="share of windows")


def write_system_midi(task: FusionGAN, run: Run, systems: Mapping[str, np.ndarray]) -> None:
    """The first `sample.midi_per_system` windows of every system as MIDI files in
    `samples/<system>/` of the run."""
    shown = task.config.sample.midi_per_system
    if shown <= 0:  # no empty folders
        return
    for label, windows in systems.items():
        melodies = [task.to_melody(window, f"fugato fusiongan {label} {i}")
                    for i, window in enumerate(windows[:shown])]
        write_samples(melodies, run.path / "samples" / safe_stem(label))


# -- eval.json and report.md ---------------------------------------------------------------------
def results(task: FusionGAN, run: Run, numbers: Numbers, test_windows: dict[str, int]
            ) -> dict[str, Any]:
    """eval.json: the nested numbers, and Table I's EM ratios and balances flat as well."""
    table = numbers.table
    return {
        "model": task.name, "step": run.step,
        "genres": {"A": task.config.data.genre_a, "B": task.config.data.genre_b},
        "table": table, "floor": numbers.floor, "balance": numbers.balance,
        "p_genre_a": numbers.p_genre_a, "classifier_accuracy": numbers.accuracy,
        "test_windows": test_windows, "eval_windows": task.config.sample.eval_windows,
        **{f"{label}_{key}_em_ratio": table[label][key]["em"]["ratio"]
           for label in table for key in HISTOGRAMS},
        **{f"{label}_balance": numbers.balance[label] for label in table},
        "mgeval": numbers.relative,
        "calibration": numbers.calibration, "labelling": numbers.thresholds,
        "table2": numbers.table2, "table1_window": numbers.table_window,
    }


def report(task: FusionGAN, run: Run, numbers: Numbers, test_windows: dict[str, int]) -> str:
    """report.md: Table I with the floor and the balance, mgeval, Fig. 6, the training."""
    data = task.config.data
    names = genre_names(task)
    lead = (
        f"Genre A is {corpus_label(data.genre_a)} (`{data.genre_a}`), genre B "
        f"{corpus_label(data.genre_b)} (`{data.genre_b}`). "
        f"{task.config.sample.eval_windows} windows of {data.window} steps per system against "
        f"{test_windows['A']} held-out A and {test_windows['B']} held-out B windows. Diff = "
        "d(A,F) + d(B,F) - d(A,B), Ratio = (d(A,F) + d(B,F)) / d(A,B): 0 and 1 for any mixture "
        "of A and B, so they measure how far a system leaves the span of A and B; the floor row "
        "is a real mixture of validation windows of the same size (sampling noise). MC "
        "draws from the pooled marginals of A + B, a mixture by construction. Balance = 1 - 2 "
        "|mean P(A) - 0.5| from a genre classifier with held-out balanced accuracy "
        f"{numbers.accuracy:.3f}.")
    scored = {**numbers.table, FLOOR: numbers.floor}
    rows = [table_one_row(label, lambda k, d, m, t=scored[label]: t[k][d][m],
                          numbers.balance.get(label, float("nan"))) for label in scored]
    return report_page(
        f"FusionGAN: {names['A']} x {names['B']}, step {run.step}", lead,
        ["## Table I\n\n" + markdown_table(rows),
         window_table_section(numbers.table_window),
         table_two_section(numbers, names),
         mgeval_section(numbers.relative, task.config.sample.mgeval_windows),
         "## Note durations (Fig. 6)\n\n![durations](plots/durations.png)",
         "## Pitch classes (Fig. 6)\n\n![pitch classes](plots/pitch_classes.png)"],
        training=training_section(task.config.net.rollouts))


def window_table_section(table_window: Mapping[str, Scores]) -> str:
    """The per-window Table I, with its formula."""
    rows = [table_one_row(label, lambda k, d, m, t=t: t[k][d][m])
            for label, t in table_window.items()]
    return "## Table I per window\n\n" + WINDOW_FORMULA + "\n\n" + markdown_table(rows)


WINDOW_FORMULA = (
    "Each window's own DD and NPD histograms w against the held-out genres' aggregate "
    "histograms A and B: Diff = mean_w [d(A,w) + d(B,w)] - d(A,B), Ratio = mean_w [d(A,w) + "
    "d(B,w)] / d(A,B), over the windows that hold notes. A window between A and B scores "
    "Ratio 1 whether it is pure A or a blend; the table sees how far single windows leave the "
    "genres, which an aggregate averages away. The floor row: real validation windows "
    "(32-step windows' own noise).")


def table_two_section(numbers: Numbers, genres: Mapping[str, str]) -> str:
    """The automatic Table II: the labelling's calibration, then every system's shares; the
    columns and sets of A and B named by `genres` ("A (wjazzd)")."""
    calibration, table2, t = numbers.calibration, numbers.table2, numbers.thresholds
    names = [label.lower() for label in LABELS]
    header = {"a": genres["A"], "b": genres["B"]}
    sets = {"real A": f"real {genres['A']}", "real B": f"real {genres['B']}"}
    return (
        "## Automatic Table II: fusion or mixture?\n\n"
        "Every window labelled A, B, mixture or neither (`fugato.models.fusiongan.labels`): "
        "neither when its per-token likelihood under both genre generators is below that of "
        "99% of held-out windows of each genre; else A when the genre classifier gives the "
        "whole window P(A) >= 0.8 and both halves lean to A (the lower half's P(A) at least "
        f"{t['side_a']:.3g}, the 10th percentile of A's validation windows), B likewise (P(A) "
        f"<= 0.2, the higher half's at most {t['side_b']:.3g}), mixture otherwise. "
        "FL = 1 - (|A - B| + neither), the paper's fusion level; the mixture share is what FL "
        "does not see. Calibration first (the rule was fixed on these sets):\n\n"
        + markdown_table([{"set": sets.get(k, k), **{header.get(n, n): v[n] for n in names}}
                          for k, v in calibration.items()])
        + "\n\n" + markdown_table([{"system": k, **{header.get(n, n): x for n, x in v.items()}}
                                    for k, v in table2.items()])
        + "\n\n![per-window P(A), systems](plots/p_genre_a_systems.png)\n\n"
        "![per-window P(A), calibration](plots/p_genre_a_calibration.png)")


def mgeval_section(relative: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
                   per_set: int) -> str:
    """The mgeval table: each set's overlap and KL against A and B, averaged over features."""
    rows = [
        {"system": label, **{f"{stat} vs {g}": float(np.mean([f[stat] for f in r[g].values()]))
                             for stat in ("overlap", "kl") for g in ("A", "B")}}
        for label, r in relative.items()]
    return (
        "## Relative evaluation (mgeval)\n\n"
        f"{per_set} windows per set; for each of the {len(next(iter(relative.values()))['A'])} "
        "per-piece features (pitch count, pitch-class histogram and transitions, pitch "
        "range, mean interval, note count, mean inter-onset interval, note-length histogram "
        "and transitions), the overlap area (1 = same) and KL (0 = same) between a held-out "
        "genre's intra-set distances and its distances to the system's windows, averaged "
        "over features. `eval.json` holds every feature.\n\n" + markdown_table(rows))


def training_section(rollouts: int) -> str:
    """The training curves, the rollout rewards, and what the gradient estimator adds."""
    return (
        "## Training and the gradient estimator\n\n"
        "G_F and every adversarial generator get gradients by REINFORCE with "
        f"{rollouts} Monte-Carlo rollouts per prefix (SeqGAN). Its effect: "
        "the MLE 1:1 system is G_F's twin without it (same initial weights, same data: A "
        "and B in equal shares, maximum likelihood for the whole run), so the MLE 1:1 and "
        "Fusion rows differ only by the adversarial phases; the rewards below are the "
        "critics' mean scores of each generator's finished windows.\n\n"
        "![training curves](plots/training.png)\n\n![rollout rewards](plots/rewards.png)")


def table_one_row(system: str, value: Callable[..., Any], balance: Any = None
                  ) -> dict[str, Any]:
    """One row of Table I: `value(feature, distance, score)` for feature dd / npd, distance
    eud / em, score diff / ratio, then the balance (no column when None)."""
    row = {"system": system, **{f"{k} {d} {m}": value(k, d, m) for k in ("dd", "npd")
                                for d in ("eud", "em") for m in ("diff", "ratio")}}
    return row if balance is None else {**row, "balance": balance}


def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
    """Table I and the balance over seeds: "mean ± sd" cells (4 significant digits) from
    `compare_runs`' summary of eval.json paths (`table/SYSTEM/dd/em/ratio`,
    `balance/SYSTEM`, ...); "" when it holds no Table I."""
    systems = sorted({k.split("/")[1] for k in summary if k.startswith("table/")},
                     key=lambda s: SYSTEM_ORDER.index(s) if s in SYSTEM_ORDER else 99)
    if not systems:
        return ""
    rows = [table_one_row(system,
                          lambda k, d, m, s=system: mean_sd(summary, f"table/{s}/{k}/{d}/{m}"),
                          mean_sd(summary, f"balance/{system}")) for system in systems]
    rows.append(table_one_row(FLOOR, lambda k, d, m: mean_sd(summary, f"floor/{k}/{d}/{m}"), ""))
    table2 = [{"system": s, **{k: mean_sd(summary, f"table2/{s}/{k}") for k in
                               ("a", "b", "mixture", "neither", "fl", "mixture_share")}}
              for s in systems if f"table2/{s}/fl" in summary]
    windowed = [table_one_row(s, lambda k, d, m, s=s: mean_sd(
        summary, f"table1_window/{s}/{k}/{d}/{m}")) for s in [*systems, FLOOR]
        if f"table1_window/{s}/dd/em/ratio" in summary]
    return (f"## {group}: Table I over {runs} seeds (mean ± sd)\n\n" + markdown_table(rows)
            + "\n\nGenre classifier, held-out balanced accuracy: "
            f"{mean_sd(summary, 'classifier_accuracy')}."
            + (f"\n\n## {group}: Table I per window over {runs} seeds (mean ± sd)\n\n"
               + WINDOW_FORMULA + "\n\n" + markdown_table(windowed) if windowed else "")
            + (f"\n\n## {group}: automatic Table II over {runs} seeds (mean ± sd)\n\n"
               + markdown_table(table2) if table2 else ""))
