"""`fugato listen results`: the papers' tables from the answers.

Genre tests (FusionGAN Table II): per source, the counts of pure A / pure B / mixture / neither,
the fusion level FL = 1 - (|C_A - C_B| + C_neither) / total, the musicality shares, and 95%
bootstrap intervals over listeners; the listeners' genre-identification accuracy on the
qualification clips, and how many fell below the test's threshold (excluded). Ranking tests
(dance paper Table 3): the mean rank of every source per question, with the same intervals.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fugato.listen.answers import Answers
from fugato.listen.design import ListeningTest, folder, load_manifest, load_test

BOOTSTRAP = 1000


def fusion_level(counts: dict[str, int], a: str, b: str) -> float:
    """FL of Table II (`fugato.metrics.fusion.fusion_level`) of answer counts by choice id."""
    from fugato.metrics.fusion import fusion_level as level

    return level(counts.get(a, 0), counts.get(b, 0), counts.get("mixture", 0),
                 counts.get("neither", 0))


def per_listener(snapshot: dict[str, Any]) -> dict[str, dict[tuple[str, str], str]]:
    """token -> (item, question) -> answer, of every listener who answered: one who only
    opened the page is no listener of the test (nor of its bootstrap)."""
    out: dict[str, dict[tuple[str, str], str]] = {}
    for token, item, question, answer in snapshot["answers"]:
        out.setdefault(token, {})[(item, question)] = answer
    return out


def accuracies(test: ListeningTest, manifest: dict[str, Any],
               answers: dict[str, dict[tuple[str, str], str]]) -> dict[str, float | None]:
    """Each listener's share of qualification clips labelled with their true genre (None when
    they answered none)."""
    qualify = [i.id for i in test.items if i.stage == "qualify"]
    out: dict[str, float | None] = {}
    for token, given in answers.items():
        marks = [given[(i, "genre")] == manifest["items"][i]["truth"] for i in qualify
                 if (i, "genre") in given]
        out[token] = float(np.mean(marks)) if marks else None
    return out


def bootstrap(listeners: list[str], statistic: Callable[[list[str]], float],
              seed: int = 0) -> list[float]:
    """95% percentile interval of `statistic` over listeners resampled with replacement."""
    if not listeners:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    values = [statistic([listeners[i] for i in rng.integers(len(listeners), size=len(listeners))])
              for _ in range(BOOTSTRAP)]
    finite = np.array(values, dtype=float)
    finite = finite[~np.isnan(finite)]
    if not len(finite):  # a source none of these listeners answered
        return [float("nan"), float("nan")]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def genre_results(test: ListeningTest, manifest: dict[str, Any], snapshot: dict[str, Any],
                  min_accuracy: float | None = None) -> dict[str, Any]:
    """Table II of the answers (see the module docstring)."""
    a, b = test.genres
    threshold = test.min_accuracy if min_accuracy is None else min_accuracy
    answers = per_listener(snapshot)
    accuracy = accuracies(test, manifest, answers)
    kept = [t for t in answers if threshold <= 0 or (accuracy[t] or 0.0) >= threshold]
    choices = {q.name: q.choices for q in test.questions["test"]}
    items_of: dict[str, list[str]] = {}
    for item in test.items:
        if item.stage == "test":
            items_of.setdefault(manifest["items"][item.id]["source"], []).append(item.id)

    def counts(listeners: list[str], label: str, question: str) -> dict[str, int]:
        out = dict.fromkeys(choices[question], 0)
        for token in listeners:
            for item in items_of[label]:
                given = answers[token].get((item, question))
                if given is not None:
                    out[given] += 1
        return out

    def fl_of(listeners: list[str], label: str) -> float:
        return fusion_level(counts(listeners, label, "recognition"), a, b)

    sources = {}
    for label in manifest["sources"]:
        fusion = counts(kept, label, "recognition")
        musicality = counts(kept, label, "musicality")
        total_m = sum(musicality.values())
        sources[label] = {
            "fusion": fusion, "fl": fusion_level(fusion, a, b),
            "fl_95": bootstrap(kept, partial(fl_of, label=label)),
            "musicality": musicality,
            "musicality_shares": {k: v / total_m if total_m else float("nan")
                                  for k, v in musicality.items()},
            "automatic": manifest.get("automatic", {}).get(label)}
    known = [v for v in accuracy.values() if v is not None]
    return {"test": test.name, "kind": "genre", "genres": [a, b], "listeners": len(answers),
            "included": len(kept), "excluded": len(answers) - len(kept),
            "min_accuracy": threshold, "answers": len(snapshot["answers"]),
            "accuracy": {"mean": float(np.mean(known)) if known else None,
                         "per_listener": accuracy},
            "sources": sources}


def ranking_results(test: ListeningTest, manifest: dict[str, Any], snapshot: dict[str, Any]
                    ) -> dict[str, Any]:
    """Table 3 of the answers: each source's mean rank (1 = best) per question."""
    answers = per_listener(snapshot)
    listeners = list(answers)
    source_of = manifest["clips"]

    def mean_rank(ls: list[str], label: str, question: str) -> float:
        ranks = [ranking.index(clip) + 1 for token in ls
                 for (item, q), given in answers[token].items() if q == question
                 for ranking in [json.loads(given)] for clip in ranking
                 if source_of[clip] == label]
        return float(np.mean(ranks)) if ranks else float("nan")

    def rank_counts(label: str, question: str) -> dict[str, int]:
        out = {f"rank {k + 1}": 0 for k in range(len(manifest["sources"]))}
        for token in listeners:
            for (_, q), given in answers[token].items():
                for k, clip in enumerate(json.loads(given) if q == question else []):
                    out[f"rank {k + 1}"] += source_of[clip] == label
        return out

    sources = {label: {q.name: {"mean_rank": mean_rank(listeners, label, q.name),
                                "mean_rank_95": bootstrap(
                                    listeners, partial(mean_rank, label=label,
                                                       question=q.name)),
                                "rank_counts": rank_counts(label, q.name)}
                       for q in test.questions["test"]}
               for label in manifest["sources"]}
    return {"test": test.name, "kind": "ranking", "listeners": len(listeners),
            "answers": len(snapshot["answers"]), "sources": sources}


def results(root: Path, name: str, min_accuracy: float | None = None) -> dict[str, Any]:
    """The results of test `name` under `root`, read in one transaction."""
    test, manifest = load_test(root, name), load_manifest(root, name)
    db = Answers(folder(root, name) / "answers.sqlite")
    try:
        snapshot = db.snapshot()
    finally:
        db.close()
    if test.kind == "genre":
        return genre_results(test, manifest, snapshot, min_accuracy)
    return ranking_results(test, manifest, snapshot)


def strict_json(result: dict[str, Any]) -> str:
    """`result` as strict JSON: a number no answer defines yet (NaN) is null, so that
    `JSON.parse` and `json.loads(..., parse_constant=...)` read it."""
    def finite(value: Any) -> Any:
        if isinstance(value, float):
            return value if np.isfinite(value) else None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(result), indent=1, allow_nan=False)


def write_csv(result: dict[str, Any], path: Path) -> None:
    """One row per source (genre) or per source and question (ranking)."""
    from fugato.atomic import atomic_path

    rows: list[dict[str, Any]] = []
    for label, r in result["sources"].items():
        if result["kind"] == "genre":
            rows.append({"source": label, **r["fusion"], "fl": r["fl"],
                         "fl_low": r["fl_95"][0], "fl_high": r["fl_95"][1], **r["musicality"]})
        else:
            rows += [{"source": label, "question": q, **v} for q, v in r.items()]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["source"])
        writer.writeheader()
        writer.writerows({k: (v if not isinstance(v, list) else f"{v[0]:.3f}-{v[1]:.3f}")
                          for k, v in row.items()} for row in rows)


def write_chart(result: dict[str, Any], path: Path) -> None:
    """The answer shares per source as stacked bars: fusion recognition and musicality, or how
    often each source was ranked first, second, ..."""
    from fugato.plot import plot_stacked_shares

    sources = result["sources"]
    if result["kind"] == "genre":
        panels = {"fusion recognition": {k: r["fusion"] for k, r in sources.items()},
                  "musicality": {k: r["musicality"] for k, r in sources.items()}}
    else:
        questions: dict[str, Any] = next(iter(sources.values()), {})
        panels = {q: {k: r[q]["rank_counts"] for k, r in sources.items()} for q in questions}
    plot_stacked_shares(panels, path, f"{result['test']}: {result['listeners']} listeners")
