"""Run reports: `eval.json` for machines, `report.md` with PNG plots for people.

An evaluation returns an `Evaluation` (its eval.json numbers and its report); `report_page`
lays every report out the same way (title, lead text, the system's sections, the training
curves). `compare_runs` summarises runs over seeds; a system's own tables over seeds come from
the `tables` function its caller passes (this module knows no model).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fugato.atomic import write_text
from fugato.errors import FugatoError
from fugato.plot import plot_boxplots, plot_pair_grid, plot_trade_off

SeedsTables = Callable[[str, str, Mapping[str, Sequence[float]], int], str]
"""(model, group, summary, runs) -> a system's own markdown tables over seeds ("" for none)."""


class Evaluation(NamedTuple):
    """What an evaluation gives: `results` for eval.json, `report` for report.md."""

    results: dict[str, Any]
    report: str


TRAINING_SECTION = "## Training\n\n![training curves](plots/training.png)"


def report_page(title: str, lead: str, sections: Sequence[str],
                training: str | None = TRAINING_SECTION) -> str:
    """A run's report.md: `# title`, the lead paragraph, the sections (each a markdown block
    with its own heading), and the training curves (plots/training.png) unless `training` is
    None; blocks are separated by blank lines."""
    blocks = [f"# {title}", lead, *sections]
    if training:
        blocks.append(training)
    return "\n\n".join(b for b in blocks if b) + "\n"


def mean_sd(summary: Mapping[str, Sequence[float]], path: str, digits: int = 4) -> str:
    """The table cell "mean ± sd" of eval.json number `path` in a `compare_runs` summary
    (mean to `digits` significant digits, sd to 2); "" when no run has it."""
    if path not in summary:
        return ""
    mean, sd = summary[path]
    return f"{mean:.{digits}g} ± {sd:.2g}"


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A GitHub-markdown table; floats get 4 significant digits."""
    if not rows:
        return ""
    columns = list(rows[0])

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_eval(run_dir: Path, results: Mapping[str, Any], report_md: str) -> tuple[Path, Path]:
    """Write `eval.json` and `report.md` atomically; return their paths."""
    eval_path, report_path = run_dir / "eval.json", run_dir / "report.md"
    write_text(eval_path, json.dumps(results, indent=2, default=float) + "\n")
    write_text(report_path, report_md)
    return eval_path, report_path


def run_group(run_dir: Path) -> str:
    """The group of a run folder for comparisons: its name without a `-seedN` suffix."""
    name = run_dir.name
    head, sep, tail = name.rpartition("-seed")
    return head if sep and tail.isdigit() else name


NOT_METRICS = frozenset({"step", "eval_bars", "eval_images", "gamma", "beta", "seed",
                         "steps_done", "steps_planned"})
"""Numbers an eval.json may hold that describe the run, not its quality."""


def flatten_numbers(results: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number in nested dicts, keyed by its path: {"table": {"F": {"em": 1.2}}} ->
    {"table/F/em": 1.2}; strings, lists and booleans are left out."""
    out: dict[str, float] = {}
    for key, value in results.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_numbers(value, path + "/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[path] = float(value)
    return out


def compare_runs(run_dirs: Sequence[Path], out: Path, metrics: Sequence[str] | None = None,
                 tables: SeedsTables | None = None, trade_off: Sequence[str] | None = None,
                 pairs: Sequence[str] | None = None) -> dict[str, Any]:
    """Box plots and tables of the metrics in each run's `eval.json`, runs grouped by
    `run_group` (the paper figures over seeds). Writes `out/comparison.{json,md,png}`.

    `metrics` (default: the top-level numbers every group has) are plotted and get a median
    table; every number of the eval.json files, nested ones as `a/b/c` paths, gets mean and
    standard deviation per group; `tables(model, group, summary, runs)` adds a system's own
    tables (its paper's layout); `trade_off` (two numbers, x then y) adds `out/trade-off.png`,
    each group's means against each other; `pairs` (two or more numbers) adds
    `out/pairs.png`, every run's numbers against each other (AR-VAE's Fig. 4). Returns the JSON
    dict `{"groups": {group: {metric: [values]}}, "medians": ..., "summary": {group: {path:
    [mean, sd]}}}`."""
    groups: dict[str, dict[str, list[float]]] = {}
    models: dict[str, str] = {}
    for run_dir in run_dirs:
        results = json.loads((Path(run_dir) / "eval.json").read_text())
        models[run_group(Path(run_dir))] = results.get("model", "")
        group = groups.setdefault(run_group(Path(run_dir)), {})
        for key, value in flatten_numbers(results).items():
            group.setdefault(key, []).append(value)
    if metrics is None:  # the top-level metrics every group has, in the first run's order
        metrics = [k for k in next(iter(groups.values())) if "/" not in k
                   and all(k in g for g in groups.values()) and k not in NOT_METRICS]
    check_pairs(pairs)
    missing = sorted({m for m in [*metrics, *(trade_off or ()), *(pairs or ())]
                      for g in groups.values() if m not in g})
    if missing:
        raise FugatoError(f"metrics not in every eval.json: {', '.join(missing)}")
    medians = {g: {m: float(np.median(values[m])) for m in metrics} for g, values in groups.items()}
    summary = {g: {k: [float(np.mean(v)), float(np.std(v))] for k, v in values.items()
                   if k not in NOT_METRICS} for g, values in groups.items()}
    out.mkdir(parents=True, exist_ok=True)
    result = {"runs": [str(r) for r in run_dirs], "groups": groups, "medians": medians,
              "metrics": list(metrics), "summary": summary}
    write_text(out / "comparison.json", json.dumps(result, indent=2) + "\n")
    rows = [{"group": g, "runs": len(runs_of(groups[g])), **medians[g]} for g in groups]
    means = [{"group": g, "runs": len(runs_of(groups[g])),
              **{m: f"{summary[g][m][0]:.4g} ± {summary[g][m][1]:.2g}" for m in metrics}}
             for g in groups]
    paths = sorted({k for values in summary.values() for k in values})
    every = [{"number": k, **{g: (f"{summary[g][k][0]:.4g} ± {summary[g][k][1]:.2g}"
                                  if k in summary[g] else "") for g in groups}} for k in paths]
    own = [tables(models[g], g, summary[g], len(runs_of(groups[g]))) if tables else ""
           for g in groups]
    # a model whose eval.json nests all its numbers (tables) has no top-level metric to plot
    overview = ("## Medians over runs\n\n" + markdown_table(rows)
                + "\n\n## Mean ± sd over runs\n\n" + markdown_table(means)
                + "\n\n![box plots](comparison.png)\n\n") if metrics else ""
    overview += extra_figures(groups, out, trade_off, pairs)
    write_text(out / "comparison.md", "# Comparison\n\n" + overview
               + "".join(t + "\n\n" for t in own if t)
               + "## Every number (mean ± sd over runs)\n\n" + markdown_table(every) + "\n")
    if metrics:
        plot_boxplots(groups, metrics, out / "comparison.png",
                      "Metrics over runs (box: quartiles)")
    return result


def check_pairs(pairs: Sequence[str] | None) -> None:
    """Refuse a `pairs` figure of fewer than two numbers (`compare_runs`)."""
    if pairs is not None and len(pairs) < 2:
        raise FugatoError("pairs: give at least two numbers")


def extra_figures(groups: Mapping[str, Mapping[str, Sequence[float]]], out: Path,
                  trade_off: Sequence[str] | None, pairs: Sequence[str] | None) -> str:
    """`compare_runs`' optional figures, out/trade-off.png and out/pairs.png; their markdown."""
    text = ""
    if trade_off:
        x, y = trade_off
        plot_trade_off(groups, x, y, out / "trade-off.png", f"{y} against {x} (mean ± sd)")
        text += f"![{y} against {x}](trade-off.png)\n\n"
    if pairs:
        plot_pair_grid(groups, pairs, out / "pairs.png",
                       "Every run's numbers against each other (a point per run)")
        text += f"![{', '.join(pairs)} against each other](pairs.png)\n\n"
    return text


def runs_of(group: Mapping[str, list[float]]) -> list[float]:
    """The values of a group's most-reported number: as many as the group has runs."""
    return max(group.values(), key=len)
