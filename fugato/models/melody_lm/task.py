"""An LSTM melody language model over `EventEncoding` windows.

It is the first model of fugato, FusionGAN's MLE baseline and the pre-training stage of its
generators. Every training window is preceded by a start token, so sampling from the start
token writes a window-like melody of any length. Its evaluation (perplexity, DD / NPD against
the test tunes) is in `evaluate.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from fugato.config import CorpusConfig, ExperimentConfig
from fugato.models.melody_lm.evaluate import evaluate
from fugato.music.encodings import EventEncoding
from fugato.music.melody import Melody, TimeSignature
from fugato.nn.lstm import LSTMGenerator
from fugato.report import Evaluation
from fugato.train.run import Run
from fugato.train.task import Batch, Evaluator, Nets, Sampler, Step, Task, TensorData

if TYPE_CHECKING:
    from fugato.music.corpora import Corpus


@dataclass
class DataConfig(CorpusConfig):
    corpus: str = "essen:europe"
    steps_per_quarter: int = 4
    transpose_to_tonic: int | None = 0
    """Transpose every tune so its tonic is this pitch class (0 = C); unset keeps the keys."""
    window: int = 64
    """Tokens per training window."""
    stride: int = 32


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

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        self.encoding = self.restore_encoding(saved, lambda: EventEncoding(
            steps_per_quarter=data.steps_per_quarter, transpose_to_tonic=data.transpose_to_tonic))

    # -- data ----------------------------------------------------------------------------------
    def corpus(self) -> Corpus:
        data: DataConfig = self.config.data
        return data.load(data.corpus, progress=self.progress)

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

    def nll(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean next-token cross-entropy (nats) of the windows (N, T) of `batch`, each read
        after a start token; the training step and the perplexity."""
        (windows,) = batch
        start = torch.full_like(windows[:, :1], self.encoding.BOS)
        inputs = torch.cat([start, windows[:, :-1]], dim=1)
        logits = nets["lm"](inputs)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), windows.flatten())
        return loss, {"loss": loss.item()}

    def steps(self) -> list[Step]:
        return [Step("main", self.nll)]

    def saved_state(self) -> dict[str, Any]:
        return {"encoding": self.encoding.to_dict()}

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None, generator: str | None = None,
               quarters: int | None = None, temperature: float | None = None) -> list[Melody]:
        """`n` melodies drawn from the model, each `quarters` long (default from the config)."""
        self.pick_generator(generator)
        cfg: SampleConfig = self.config.sample
        length = (quarters or cfg.quarters) * self.encoding.steps_per_quarter
        rng = torch.Generator(device=self.device).manual_seed(0 if seed is None else seed)
        start = torch.full((n, 1), self.encoding.BOS, dtype=torch.long, device=self.device)
        banned = [self.encoding.PAD, self.encoding.BOS]
        lm = cast(LSTMGenerator, self.nets["lm"])
        tokens = lm.sample(start, length, temperature or cfg.temperature, generator=rng,
                           banned=banned)
        melodies = []
        for i, row in enumerate(tokens.cpu().numpy()):
            melody = self.encoding.decode(row)
            melodies.append(melody.replace(title=f"fugato melody_lm sample {i}", tempo=cfg.tempo,
                                           time_signatures=[TimeSignature(0, 4, 4)]))
        return melodies

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Perplexity and sample distributions against the test set (`evaluate.evaluate`)."""
        return evaluate(self, run, seed)
