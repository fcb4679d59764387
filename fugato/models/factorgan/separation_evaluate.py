"""The separation evaluation: SDR of vocals and accompaniment per setting on the held-out
chorales, beside the ideal-ratio-mask and half-mask references; spectrogram excerpts.

Two SDRs, both of the estimates resynthesised with the mixture's phase:

- `sdr_<stem>`, the paper's protocol as its reference code (f90/FactorGAN `eval/
  SourceSeparation.py`) runs it: BSS Eval v4 (`fugato.metrics.separation.bss_eval_v4`, what
  `museval.eval_mus_track(track, estimates, win=15, hop=15.0)` computes) on 15-second windows
  every 15 seconds, pooled over all windows of all held-out chorales, median over them, windows
  with a silent true source dropped (`compute_mean_metrics`' nanmedian). `sdr_v4_mean_<stem>`
  is the mean over the same windows (its nanmean: the "Mean SDR" its `PlotSDR.py` draws).
  museval's framing drops a window that would run past the end, so a chorale of 15 to 30 s
  (the quick config's held-out ones are 18-29 s) gives one window, its first 15 s; one shorter
  than 15 s is one window of its whole length.
- `sdr_v3_mean_<stem>` (and `sdr_v3_median_<stem>`): fugato's earlier number, BSS Eval v3
  `bss_eval_sources` (mir_eval) over each whole chorale, mean (median) over the chorales.

v4's images SDR is 10 log10(|s|^2 / |s_est - s|^2) per window: no gain or filtering of the
source is forgiven, where v3's sources SDR counts the estimate's best 512-tap filtered copy of
the source as signal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.audio.stft import BINS, SAMPLE_RATE, apply_mask, stft
from fugato.metrics.separation import bss_eval_sources, bss_eval_v4, pooled
from fugato.models.factorgan.core import VARIANT_NAMES
from fugato.report import Evaluation, markdown_table, report_page

if TYPE_CHECKING:
    from fugato.models.factorgan.separation import FactorGANSeparation
    from fugato.train.run import Run

SDR_WINDOW_SECONDS = 15.0
"""BSS Eval v4 window and hop of the reference code (museval's `win=15, hop=15.0`), seconds."""
STEMS = ("vocals", "accompaniment")


def evaluate(task: FactorGANSeparation, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; figures in `run.path / "plots"`."""
    test = task.chorales("test")
    v3, v4, excerpts, seconds = _score_chorales(task, test, seed)
    rows: list[dict[str, Any]] = []
    table: dict[str, dict[str, dict[str, float]]] = {}
    for s in task.settings:
        numbers = _summary(v3[s.key], v4[s.key])
        rows.append({"model": s.variant, "paired": s.paired, **numbers})
        table.setdefault(s.variant, {})[str(s.paired)] = numbers
    references = {"ideal_ratio_mask": _summary(v3["ideal"], v4["ideal"]),
                  "half_mask": _summary(v3["half"], v4["half"])}
    windows = np.concatenate(v4["ideal"], axis=1)
    results: dict[str, Any] = {
        "model": task.name, "step": run.step, "separation": rows, "table": table,
        "references": references,
        "per_chorale": {name: [[float(v) for v in x] for x in values]
                        for name, values in v3.items()},
        "per_window": {name: [[[float(v) for v in w] for w in x.T] for x in values]
                       for name, values in v4.items()},
        "test_chorales": [name for name, _ in test],
        "sizes": {"test_chorales": len(test), "test_seconds": seconds,
                  "sdr_window_seconds": SDR_WINDOW_SECONDS, "sdr_windows": windows.shape[1],
                  "sdr_windows_scored": int(np.sum(~np.isnan(windows[0])))},
        "renderer": "fugato.audio.synth (built-in synthesizer)",
    }
    figures = _plot(task, run, excerpts, test[0][0])
    return Evaluation(results, _report(task, run, results, figures))


def _score_chorales(task: FactorGANSeparation, test: list[tuple[str, np.ndarray]], seed: int
                    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]],
                               dict[str, np.ndarray], float]:
    """(v3 SDR (2,) per chorale, v4 SDR (2, windows) per chorale, of every mask by name; the
    first chorale's excerpts; seconds of held-out audio scored)."""
    cfg = task.config.sample
    v3: dict[str, list[np.ndarray]] = defaultdict(list)
    v4: dict[str, list[np.ndarray]] = defaultdict(list)
    excerpts: dict[str, np.ndarray] = {}
    excerpt = int(cfg.plot_seconds * SAMPLE_RATE)
    window = int(SDR_WINDOW_SECONDS * SAMPLE_RATE)
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
            v3[name].append(bss_eval_sources(stems64, estimates)["sdr"])
            v4[name].append(bss_eval_v4(stems64, estimates, window, sdr_only=True)["sdr"])
            if k == 0:
                excerpts[name] = estimates[:, :excerpt]
        if k == 0:
            excerpts["mixture"], excerpts["true"] = mixture[:excerpt], stems64[:, :excerpt]
    return v3, v4, excerpts, seconds


def _summary(v3: list[np.ndarray], v4: list[np.ndarray]) -> dict[str, float]:
    """The numbers of one mask (the module docstring), from its v3 SDR (2,) per chorale and
    its v4 SDR (2, windows) per chorale (vocals, accompaniment)."""
    per_chorale = np.array(v3)
    numbers = {}
    for statistic, values in (("", pooled(v4, "median")), ("v4_mean_", pooled(v4, "mean")),
                              ("v3_mean_", per_chorale.mean(0)),
                              ("v3_median_", np.median(per_chorale, 0))):
        numbers.update({f"sdr_{statistic}{stem}": float(v) for stem, v in zip(STEMS, values,
                                                                               strict=True)})
    return numbers


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
    """A row of the v4 table (the paper's protocol)."""
    return {"model": label, "N paired": n,
            "SDR vocals": numbers["sdr_vocals"],
            "SDR accompaniment": numbers["sdr_accompaniment"],
            "SDR vocals (window mean)": numbers["sdr_v4_mean_vocals"],
            "SDR accompaniment (window mean)": numbers["sdr_v4_mean_accompaniment"]}


def _row_v3(label: str, n: Any, numbers: Mapping[str, float]) -> dict[str, Any]:
    """A row of the v3 table (whole chorales)."""
    return {"model": label, "N paired": n,
            "SDR v3 vocals (mean)": numbers["sdr_v3_mean_vocals"],
            "SDR v3 vocals (median)": numbers["sdr_v3_median_vocals"],
            "SDR v3 accompaniment (mean)": numbers["sdr_v3_mean_accompaniment"],
            "SDR v3 accompaniment (median)": numbers["sdr_v3_median_accompaniment"]}


def _report(task: FactorGANSeparation, run: Run, results: dict[str, Any], figures: list[str]
            ) -> str:
    """report.md: the v4 table (the paper's protocol) of every setting and of the references,
    the whole-chorale v3 table, the spectrogram figures."""
    data, references = task.config.data, results["references"]
    labelled = [(VARIANT_NAMES[r["model"]], r["paired"], r) for r in results["separation"]]
    labelled_references = [("ideal ratio mask (oracle)", "", references["ideal_ratio_mask"]),
                           ("mask 0.5 (half the mixture)", "", references["half_mask"])]
    sizes = results["sizes"]
    lead = (f"Vocals: the soprano in the {data.vocals_program!r} timbre; accompaniment: alto, "
            f"tenor and bass in the {data.accompaniment_program!r} timbre; rendered at 22.05 "
            "kHz by fugato's built-in synthesizer (no soundfont renderer). "
            f"{data.n_train or 'all other'} training chorales, N of them paired, the rest "
            f"unpaired; {sizes['test_chorales']} held-out chorales "
            f"({sizes['test_seconds']:.0f} s). SDR in dB, mixture phase, as the paper's "
            f"reference code scores it: BSS Eval v4 on {sizes['sdr_window_seconds']:g}-s "
            f"windows every {sizes['sdr_window_seconds']:g} s ({sizes['sdr_windows']} windows, "
            f"{sizes['sdr_windows_scored']} with every true source sounding; a chorale's rest "
            "shorter than a window is not scored), median (and mean) over all windows of all "
            "chorales. Below it, fugato's earlier number: BSS Eval v3 over each whole chorale, "
            "mean and median over the chorales.")
    v3_rows = [_row_v3(*r) for r in labelled + labelled_references]
    return report_page(f"FactorGAN: source separation of Bach chorales, step {run.step}", lead,
                       ["## Separation\n\n" + markdown_table([_row(*r) for r in labelled]),
                        "## References\n\n"
                        + markdown_table([_row(*r) for r in labelled_references]),
                        "## Whole chorales, BSS Eval v3\n\n" + markdown_table(v3_rows),
                        "## Spectrograms\n\n" + "\n\n".join(figures)])
