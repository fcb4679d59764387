"""An LSTM melody language model over `EventEncoding` windows.

It is the first model of fugato, FusionGAN's MLE baseline and the pre-training stage of its
generators. Every training window is preceded by a start token, so sampling from the start
token writes a window-like melody of any length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from fugato.config import ExperimentConfig
from fugato.metrics import (
    duration_bins,
    duration_distribution,
    earth_movers,
    euclidean,
    pitch_class_distribution,
)
from fugato.music.encodings import EventEncoding
from fugato.music.melody import PITCH_CLASS_NAMES, Melody, TimeSignature
from fugato.nn.lstm import LSTMGenerator
from fugato.train.run import Run
from fugato.train.task import Batch, Evaluator, Nets, Sampler, Step, Task, TensorData

if TYPE_CHECKING:
    from fugato.music.corpora import Corpus


@dataclass
class DataConfig:
    corpus: str = "essen:europe"
    steps_per_quarter: int = 4
    transpose_to_tonic: int | None = 0
    """Transpose every tune so its tonic is this pitch class (0 = C); unset keeps the keys."""
    window: int = 64
    """Tokens per training window."""
    stride: int = 32
    split_seed: int = 0
    workers: int | None = None
    """Processes for a cold corpus build (default: all cores)."""


@dataclass
class NetConfig:
    embed: int = 64
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1


@dataclass
class SampleConfig:
    quarters: int = 16
    """Length of a sampled melody in quarter notes."""
    temperature: float = 1.0
    eval_samples: int = 200
    """Melodies sampled by `fugato eval` for the DD / NPD comparison."""
    tempo: float = 100.0


class MelodyLM(Sampler, Evaluator, Task):
    name = "melody-lm"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, state)
        data: DataConfig = config.data
        self.encoding = self.restore_encoding(state, lambda: EventEncoding(
            steps_per_quarter=data.steps_per_quarter, transpose_to_tonic=data.transpose_to_tonic))

    # -- data ----------------------------------------------------------------------------------
    def corpus(self) -> Corpus:
        from fugato.music.corpora import load_corpus

        data: DataConfig = self.config.data
        return load_corpus(data.corpus, workers=data.workers, seed=data.split_seed)

    def windows(self, melodies: list[Melody]) -> torch.Tensor:
        """(N, window) int64 token windows of `melodies`."""
        data: DataConfig = self.config.data
        windows, _ = self.encoding.encode_corpus(melodies, data.window, data.stride)
        return torch.as_tensor(np.asarray(windows), dtype=torch.long)

    def build_data(self) -> tuple[TensorData, TensorData]:
        corpus = self.corpus()
        return (TensorData((self.windows(corpus.split("train")),)),
                TensorData((self.windows(corpus.split("valid")),)))

    # -- model ---------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        net: NetConfig = self.config.net
        return {"lm": LSTMGenerator(self.encoding.vocab_size, net.embed, net.hidden, net.layers,
                                    net.dropout)}

    def _nll(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        (windows,) = batch
        start = torch.full_like(windows[:, :1], self.encoding.BOS)
        inputs = torch.cat([start, windows[:, :-1]], dim=1)
        logits = nets["lm"](inputs)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), windows.flatten())
        return loss, {"loss": loss.item()}

    def steps(self) -> list[Step]:
        return [Step("main", self._nll)]

    def saved_state(self) -> dict[str, Any]:
        return {"encoding": self.encoding.to_dict()}

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None, generator: str | None = None,
               quarters: int | None = None, temperature: float | None = None) -> list[Melody]:
        """`n` melodies drawn from the model, each `quarters` long (default from the config)."""
        self.pick_generator(generator)
        cfg: SampleConfig = self.config.sample
        length = (quarters or cfg.quarters) * self.encoding.steps_per_quarter
        generator = torch.Generator(device=self.device)
        generator.manual_seed(0 if seed is None else seed)
        start = torch.full((n, 1), self.encoding.BOS, dtype=torch.long, device=self.device)
        banned = [self.encoding.PAD, self.encoding.BOS]
        lm = cast(LSTMGenerator, self.nets["lm"])
        tokens = lm.sample(start, length, temperature or cfg.temperature, generator=generator,
                           banned=banned)
        melodies = []
        for i, row in enumerate(tokens.cpu().numpy()):
            melody = self.encoding.decode(row)
            melodies.append(melody.replace(title=f"fugato melody_lm sample {i}", tempo=cfg.tempo,
                                           time_signatures=[TimeSignature(0, 4, 4)]))
        return melodies

    # -- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def perplexity(self, windows: torch.Tensor, batch_size: int = 256) -> float:
        """exp(mean negative log-likelihood per token) over `windows` (N, T)."""
        total, count = 0.0, 0
        for i in range(0, len(windows), batch_size):
            chunk = windows[i : i + batch_size].to(self.device)
            loss, _ = self._nll(self.nets, (chunk,), 0)
            total += float(loss) * chunk.numel()
            count += chunk.numel()
        return math.exp(total / max(count, 1))

    def evaluate(self, run: Run, seed: int = 0) -> tuple[dict[str, Any], str]:
        """Perplexity and sample distributions against the test set: (eval.json dict, report)."""
        from fugato.plot import plot_distributions, plot_training_curves
        from fugato.report import markdown_table

        corpus = self.corpus()
        test, train = corpus.split("test"), corpus.split("train")
        transpose = self.encoding.prepare
        test_keyed = [transpose(m) for m in test]
        samples = self.sample(self.config.sample.eval_samples, seed=seed)

        dd_test, npd_test = duration_distribution(test_keyed), pitch_class_distribution(test_keyed)
        dd_train = duration_distribution(transpose(m) for m in train)
        npd_train = pitch_class_distribution(transpose(m) for m in train)
        dd_s, npd_s = duration_distribution(samples), pitch_class_distribution(samples)
        bins = duration_bins()
        results: dict[str, Any] = {
            "model": self.name,
            "corpus": corpus.name,
            "perplexity": self.perplexity(self.windows(corpus.split("valid"))),
            "test_perplexity": self.perplexity(self.windows(test)),
            "dd_em": earth_movers(dd_s, dd_test, bins),
            "npd_em": earth_movers(npd_s, npd_test, np.arange(12)),
            "dd_eud": euclidean(dd_s, dd_test),
            "npd_eud": euclidean(npd_s, npd_test),
            "reference_train_vs_test": {
                "dd_em": earth_movers(dd_train, dd_test, bins),
                "npd_em": earth_movers(npd_train, npd_test, np.arange(12)),
            },
            "samples": len(samples),
            "sample_notes": int(sum(len(m) for m in samples)),
            "test_tunes": len(test),
        }

        plots = run.path / "plots"
        plot_training_curves(run.metrics(), plots / "training.png")
        plot_distributions({"samples": dd_s, "test set": dd_test}, bins, None,
                           plots / "durations.png", "Note durations (DD)", "quarter notes",
                           max_bins=24)
        plot_distributions({"samples": npd_s, "test set": npd_test}, np.arange(12),
                           PITCH_CLASS_NAMES, plots / "pitch_classes.png",
                           "Pitch classes (NPD)", "pitch class")
        rows = [
            {"what": "validation perplexity", "value": results["perplexity"]},
            {"what": "test perplexity", "value": results["test_perplexity"]},
            {"what": "DD Earth Mover (samples vs test), quarters", "value": results["dd_em"]},
            {"what": "NPD Earth Mover (samples vs test), semitone bins",
             "value": results["npd_em"]},
            {"what": "DD Earth Mover (train vs test, a floor)",
             "value": results["reference_train_vs_test"]["dd_em"]},
            {"what": "NPD Earth Mover (train vs test, a floor)",
             "value": results["reference_train_vs_test"]["npd_em"]},
        ]
        report = "\n\n".join([
            f"# Melody LM: {corpus.name}",
            f"{len(samples)} sampled melodies of {self.config.sample.quarters} quarters "
            f"({results['sample_notes']} notes) against {len(test)} held-out test tunes. "
            "Keys are normalised the same way as for training.",
            markdown_table(rows),
            "## Training\n\n![training curves](plots/training.png)",
            "## Note durations\n\n![durations](plots/durations.png)",
            "## Pitch classes\n\n![pitch classes](plots/pitch_classes.png)",
        ]) + "\n"
        return results, report

