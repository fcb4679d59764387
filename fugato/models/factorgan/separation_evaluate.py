"""The separation evaluation: SDR of vocals and accompaniment per setting on the held-out
chorales (BSS Eval over each whole chorale, the mixture's phase; mean and median over
chorales), beside the ideal-ratio-mask and half-mask references; spectrogram excerpts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.audio.stft import BINS, SAMPLE_RATE, apply_mask, stft
from fugato.metrics.separation import bss_eval_sources
from fugato.models.factorgan.core import VARIANT_NAMES
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from fugato.models.factorgan.separation import FactorGANSeparation
    from fugato.train.run import Run


def evaluate(task: FactorGANSeparation, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; figures in `run.path / "plots"`."""
    test = task.chorales("test")
    scores, excerpts, seconds = _score_chorales(task, test, seed)
    rows: list[dict[str, Any]] = []
    table: dict[str, dict[str, dict[str, float]]] = {}
    for s in task.settings:
        numbers = _summary(scores[s.key])
        rows.append({"model": s.variant, "paired": s.paired, **numbers})
        table.setdefault(s.variant, {})[str(s.paired)] = numbers
    references = {"ideal_ratio_mask": _summary(scores["ideal"]),
                  "half_mask": _summary(scores["half"])}
    results: dict[str, Any] = {
        "model": task.name, "step": run.step, "separation": rows, "table": table,
        "references": references,
        "per_chorale": {name: [[float(v) for v in x] for x in values]
                        for name, values in scores.items()},
        "test_chorales": [name for name, _ in test],
        "sizes": {"test_chorales": len(test), "test_seconds": seconds},
        "renderer": "fugato.audio.synth (built-in synthesizer)",
    }
    figures = _plot(task, run, excerpts, test[0][0])
    return Evaluation(results, _report(task, run, results, figures))


def _score_chorales(task: FactorGANSeparation, test: list[tuple[str, np.ndarray]], seed: int
                    ) -> tuple[dict[str, list[np.ndarray]], dict[str, np.ndarray], float]:
    """(SDR (2,) per chorale of every mask by name, the first chorale's excerpts, seconds of
    held-out audio scored)."""
    cfg = task.config.sample
    scores: dict[str, list[np.ndarray]] = defaultdict(list)
    excerpts: dict[str, np.ndarray] = {}
    excerpt = int(cfg.plot_seconds * SAMPLE_RATE)
    seconds = 0.0
    for k, (_, stems) in enumerate(test):
        stems64 = stems.astype(np.float64)
        if cfg.eval_seconds:
            stems64 = stems64[:, : int(cfg.eval_seconds * SAMPLE_RATE)]
        seconds += stems64.shape[1] / SAMPLE_RATE
        mixture = stems64.sum(0)
        spec = stft(mixture)
        magnitudes = np.abs(stft(stems64))[:, :BINS]
        ideal = magnitudes[0] / np.maximum(magnitudes.sum(0), 1e-12)
        masks = {"ideal": ideal, "half": np.full_like(ideal, 0.5)}
        masks.update({s.key: task.masks(s, spec[None], seed)[0] for s in task.settings})
        for name, mask in masks.items():
            estimates = np.stack(apply_mask(spec, mask, len(mixture)))
            scores[name].append(bss_eval_sources(stems64, estimates)["sdr"])
            if k == 0:
                excerpts[name] = estimates[:, :excerpt]
        if k == 0:
            excerpts["mixture"], excerpts["true"] = mixture[:excerpt], stems64[:, :excerpt]
    return scores, excerpts, seconds


def _summary(values: list[np.ndarray]) -> dict[str, float]:
    """Mean and median SDR over chorales of (chorales, 2) vocals / accompaniment values."""
    v = np.array(values)
    return {"sdr_vocals": float(v[:, 0].mean()), "sdr_accompaniment": float(v[:, 1].mean()),
            "sdr_vocals_median": float(np.median(v[:, 0])),
            "sdr_accompaniment_median": float(np.median(v[:, 1]))}


def _plot(task: FactorGANSeparation, run: Run, excerpts: dict[str, np.ndarray], chorale: str
          ) -> list[str]:
    """Training curves and per N a spectrogram figure of the first chorale's excerpt (mixture,
    true and estimated stems); returns the report's image links."""
    from fugato.plot import plot_spectrograms, plot_training_curves

    plots = run.path / "plots"
    plot_training_curves(run.metrics(), plots / "training.png",
                         [f"{k}_{v}" for k in ("d_loss", "g_loss")
                          for v in task.config.net.variants])
    figures = []
    for n in task.config.data.paired:
        of = [s for s in task.settings if s.paired == n]
        signals = {"mixture": excerpts["mixture"], "true vocals": excerpts["true"][0]}
        signals.update({f"{VARIANT_NAMES[s.variant]} vocals": excerpts[s.key][0] for s in of})
        signals["true accompaniment"] = excerpts["true"][1]
        signals.update({f"{VARIANT_NAMES[s.variant]} accompaniment": excerpts[s.key][1]
                        for s in of})
        name = f"spectrograms-n{n}.png"
        plot_spectrograms(signals, plots / name, SAMPLE_RATE,
                          title=f"{chorale}, first {task.config.sample.plot_seconds:g} s; "
                                f"N = {n}")
        figures.append(f"![N = {n}](plots/{name})")
    return figures


def _row(label: str, n: Any, numbers: Mapping[str, float]) -> dict[str, Any]:
    return {"model": label, "N paired": n,
            "SDR vocals (mean)": numbers["sdr_vocals"],
            "SDR vocals (median)": numbers["sdr_vocals_median"],
            "SDR accompaniment (mean)": numbers["sdr_accompaniment"],
            "SDR accompaniment (median)": numbers["sdr_accompaniment_median"]}


def _report(task: FactorGANSeparation, run: Run, results: dict[str, Any], figures: list[str]
            ) -> str:
    data, references = task.config.data, results["references"]
    rows = [_row(VARIANT_NAMES[r["model"]], r["paired"], r) for r in results["separation"]]
    reference_rows = [_row("ideal ratio mask (oracle)", "", references["ideal_ratio_mask"]),
                      _row("mask 0.5 (half the mixture)", "", references["half_mask"])]
    sizes = results["sizes"]
    lead = (f"Vocals: the soprano in the {data.vocals_program!r} timbre; accompaniment: alto, "
            f"tenor and bass in the {data.accompaniment_program!r} timbre; rendered at 22.05 "
            "kHz by fugato's built-in synthesizer (no soundfont renderer). "
            f"{data.n_train or 'all other'} training chorales, N of them paired, the rest "
            f"unpaired; {sizes['test_chorales']} held-out chorales "
            f"({sizes['test_seconds']:.0f} s). SDR in dB (BSS Eval v3 over each whole chorale, "
            "mixture phase), mean and median over the held-out chorales.")
    return report_page(f"FactorGAN: source separation of Bach chorales, step {run.step}", lead,
                       ["## Separation\n\n" + markdown_table(rows),
                        "## References\n\n" + markdown_table(reference_rows),
                        "## Spectrograms\n\n" + "\n\n".join(figures)])
