"""IML two-stage on melodies (`iml-melody`): an HMM across the codes of consecutive bars.

Stage 1 is a bar autoencoder over `MeasureEncoding` (the MeasureVAE nets of
`fugato.nn.measure_vae` as `fugato.nn.bar_autoencoder.BarAutoencoder`, trained as a
deterministic autoencoder on the encoder means when `net.beta` = 0), behind the shared bar
codec (`fugato.models.bar_codec`); the codes of consecutive bars of a tune form one sequence.
Stage 2 is the shared one of `fugato.models.iml.sequences`. Samples are 16-bar melodies
decoded bar by bar from HMM draws, written as MIDI by `fugato sample`. The evaluation is in
`fugato.models.iml.melody_evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from fugato.config import ExperimentConfig
from fugato.models.bar_codec import BarCorporaConfig, MeasureBarCodec
from fugato.models.iml.sequences import BasesConfig, SequenceIML
from fugato.music.encodings.measure import MeasureEncoding
from fugato.music.melody import Melody
from fugato.nn.bar_autoencoder import BarAutoencoder
from fugato.report import Evaluation
from fugato.train.task import Batch, Evaluator, Nets, Sampler, TensorData

if TYPE_CHECKING:
    from fugato.train.run import Run


@dataclass
class MelodyDataConfig(BarCorporaConfig):
    """`transpose` augments the autoencoder's training bars only: the bases are fitted on the
    tunes as written."""


@dataclass
class MelodyNetConfig(BasesConfig):
    embed: int = 10
    enc_hidden: int = 128
    enc_layers: int = 2
    enc_out: int = 256
    z_dim: int = 16
    dec_hidden: int = 128
    dec_layers: int = 2
    beta: float = 0.0
    """KL weight; 0 trains a deterministic autoencoder on the encoder means."""


@dataclass
class MelodySampleConfig:
    bars: int = 16
    """Bars per sampled melody."""
    tempo: float = 120.0
    temperature: float = 0.0
    """0: argmax decoding of each bar; > 0: sample tokens at this temperature."""
    eval_samples: int = 100
    """Melodies per base in the evaluation."""


class IMLMelody(Sampler, Evaluator, MeasureBarCodec, SequenceIML):
    """IML with an HMM across the codes of consecutive bars (see the module docstring)."""

    name = "iml-melody"
    DataConfig = MelodyDataConfig
    NetConfig = MelodyNetConfig
    SampleConfig = MelodySampleConfig
    codec_net = "autoencoder"
    generators = ("hmm", "gmm")

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: MelodyDataConfig = config.data
        self.encoding: MeasureEncoding = self.restore_encoding(
            saved, lambda: MeasureEncoding(pitch_range=data.pitch_range))

    # -- data ----------------------------------------------------------------------------------
    def bar_sequences(self, split: str) -> list[np.ndarray]:
        """Runs of consecutive encodable 4/4 bars of each tune of `split`: a list of (T_i, 24)
        token arrays (a tune whose middle bar cannot be encoded gives two runs)."""
        from fugato.music.encodings.measure import BAR_TICKS

        data: MelodyDataConfig = self.config.data
        runs: list[np.ndarray] = []
        for name in data.corpora:
            for melody in data.load(name).split(split):
                bars, _, starts = self.encoding.encode_bars(melody, return_starts=True)
                if len(bars):
                    cuts = np.flatnonzero(np.diff(starts) != BAR_TICKS) + 1
                    runs += np.split(bars, cuts)
        return runs

    def build_data(self) -> tuple[TensorData, TensorData]:
        train = self.bar_sequences("train")
        self.train_sequences = train
        bars = np.concatenate(train)
        if self.config.data.transpose:
            groups = np.repeat(np.arange(len(train)), [len(r) for r in train])
            bars = self.encoding.transpositions(bars, groups=groups)
        valid = np.unique(np.concatenate(self.bar_sequences("valid")), axis=0)
        return (TensorData((torch.as_tensor(bars, dtype=torch.long),)),
                TensorData((torch.as_tensor(valid, dtype=torch.long),)))

    # -- model ---------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        n: MelodyNetConfig = self.config.net
        return {"autoencoder": BarAutoencoder(self.encoding.vocab_size, n.embed, n.enc_hidden,
                                              n.enc_layers, n.enc_out, n.z_dim, n.dec_hidden,
                                              n.dec_layers, deterministic=n.beta == 0)}

    def _loss(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor,
                                                                   dict[str, float]]:
        from fugato.losses.attribute import kl_divergence

        (bars,) = batch
        beta = self.config.net.beta
        logits, mu, logvar, _ = nets["autoencoder"](bars)
        recon = F.cross_entropy(logits.flatten(0, 1), bars.flatten())
        # beta = 0 keeps logvar in the graph with a zero weight, so DDP sees every parameter
        kl = kl_divergence(mu, logvar)
        loss = recon + beta * kl
        with torch.no_grad():
            accuracy = (logits.argmax(-1) == bars).float().mean()
        return loss, {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(),
                      "accuracy": accuracy.item()}

    def saved_state(self) -> dict[str, Any]:
        return {"encoding": self.encoding.to_dict(), **super().saved_state()}

    # -- codes ---------------------------------------------------------------------------------
    def encode_sequences(self, sequences: list[Any]) -> list[np.ndarray]:
        """Per run of bars (T_i, 24), its (T_i, z) float64 codes (the codec's float32 codes,
        widened exactly: the bases compute in float64)."""
        codes = self.encode(np.concatenate(sequences)).astype(np.float64)
        return np.split(codes, np.cumsum([len(s) for s in sequences])[:-1])

    # -- sampling ------------------------------------------------------------------------------
    def sample_bars(self, n: int, seed: int = 0, base: str = "hmm") -> np.ndarray:
        """(n, bars, 24) tokens: decoded draws of `base` ("hmm" sequences or i.i.d. "gmm")."""
        length = self.config.sample.bars
        codes = self.bases.sample(base, n, length, torch.Generator().manual_seed(seed))
        return self.decode(codes.reshape(n * length, -1), seed=seed).reshape(n, length, -1)

    def sample(self, n: int, seed: int | None = None, generator: str | None = None
               ) -> list[Melody]:
        """`n` melodies of `sample.bars` bars; `generator` picks the base ("hmm", default, or
        "gmm": bars drawn independently)."""
        base = str(self.pick_generator(generator and generator.lower()))
        bars = self.sample_bars(n, 0 if seed is None else seed, base)
        return [self.to_melody(b, f"fugato iml-melody {base} sample {i}")
                for i, b in enumerate(bars)]

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Held-out log-likelihood of test bar-code sequences (HMM vs GMM), bar-to-bar and
        whole-piece melody features of decoded draws against 16-bar test excerpts
        (`fugato.models.iml.melody_evaluate`)."""
        from fugato.models.iml.melody_evaluate import evaluate

        return evaluate(self, run, seed)
