"""AR-VAE (Pati & Lerch 2020): a MeasureVAE whose latent dimension l is ordered by attribute l.

Loss = cross-entropy reconstruction + beta * KL + gamma * attribute regularisation
(`fugato.losses.attribute`); gamma = 0 is the beta-VAE baseline. Data: the 4/4 bars of one or
more corpora in `MeasureEncoding`, split by tune; the training split is augmented by every
transposition that keeps a whole tune in the pitch range; validation and evaluation use the
unique bars of the held-out tunes (repeats duplicate many bars). Bars are encoded and decoded
by the shared `fugato.models.bar_codec.MeasureBarCodec`; the evaluation is in `evaluate.py`, the
traversal and interpolation tools in `tools.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.losses.attribute import attribute_regularization, kl_divergence
from fugato.models.bar_codec import BarCorporaConfig, MeasureBarCodec
from fugato.music.attributes import ATTRIBUTES, check_attribute_names, compute_attributes
from fugato.music.encodings.measure import MeasureEncoding
from fugato.music.melody import Melody
from fugato.nn.measure_vae import MeasureVAE, check_options
from fugato.report import Evaluation
from fugato.train.task import Batch, Evaluator, Nets, Sampler, Step, TensorData

if TYPE_CHECKING:
    from fugato.train.run import Run


@dataclass
class DataConfig(BarCorporaConfig):
    attributes: list[str] = field(default_factory=lambda: list(ATTRIBUTES))
    """Attribute l is regularised on latent dimension l: a built-in name (`ATTRIBUTES`) or a
    user's own "package.module:function" (`fugato.music.attributes.user_attribute`)."""


@dataclass
class NetConfig:
    """MeasureVAE sizes and options plus the loss weights (they define the model being
    trained)."""

    embed: int = 10
    enc_hidden: int = 128
    enc_layers: int = 2
    enc_out: int = 512
    z_dim: int = 32
    dec_hidden: int = 128
    dec_layers: int = 2
    dropout: float = 0.0
    """Dropout probability in [0, 1) between stacked GRU layers (encoder, beat and tick GRUs),
    in training only; 0 with one layer. The reference code: 0.5."""
    encoder_readout: str = "top"
    """The encoder GRU's final states read into the code: "top" (the last layer's forward and
    backward states, 2 x enc_hidden) or "all" (every layer's, enc_layers x 2 x enc_hidden: the
    reference code's, with enc_out = 256)."""
    beat_input: str = "z"
    """The beat GRU's input at each of the 4 beats: "z" or "constant" (one learned number, the
    reference code's; z then reaches the decoder through the beat GRU's initial state only)."""
    teacher_forcing: float = 1.0
    """Probability in [0, 1] that a training batch is decoded teacher forced (one draw per batch
    from the trainer's seeded stream; none at 1); otherwise it is decoded free-running, fed its
    own argmax tokens. Validation stays teacher forced. The reference code: 0.5."""
    beta: float = 1e-3
    gamma: float = 1.0
    """Weight of the attribute term; 0 gives the beta-VAE."""
    delta: float = 10.0
    gamma_warmup_steps: int = 0
    """gamma rises linearly from 0 over these steps (0: full gamma from the first step)."""
    attribute_reduction: str = "sum"
    """"sum" over attributes (the paper) or "mean"."""


@dataclass
class SampleConfig:
    temperature: float = 0.0
    """0: argmax decoding; > 0: sample tokens at this temperature."""
    tempo: float = 100.0
    eval_bars: int = 4000
    """At most this many unique held-out (test) bars for the metrics (a seeded subset)."""
    traversal_bars: int = 100
    traversal_steps: int = 9
    traversal_range: float = 4.0


def check_net(n: NetConfig) -> None:
    """Raise a one-line FugatoError naming the first net option out of its range."""
    if n.attribute_reduction not in ("sum", "mean"):
        raise FugatoError("net.attribute_reduction must be 'sum' or 'mean'")
    try:
        check_options(n.encoder_readout, n.beat_input, n.teacher_forcing, n.dropout)
    except ValueError as error:
        raise FugatoError(f"net.{error}") from None


class ARVAE(Sampler, Evaluator, MeasureBarCodec):
    """The AR-VAE task; its bar codec (`encode`, `decode`, `to_melody`) is the shared
    `MeasureBarCodec` over the net "vae"."""

    name = "arvae"
    codec_net = "vae"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig
    SAVED_DEFAULTS = {"net": {"encoder_readout": "top", "beat_input": "z",
                              "teacher_forcing": 1.0}}
    """Runs saved before these options were trained with fugato's choices, whatever the
    defaults become (`Task.SAVED_DEFAULTS`)."""

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        self.encoding = self.restore_encoding(
            saved, lambda: MeasureEncoding(pitch_range=data.pitch_range))
        try:
            check_attribute_names(data.attributes)
        except ValueError as error:
            raise FugatoError(f"data.attributes: {error}") from None
        if len(data.attributes) > config.net.z_dim:
            raise FugatoError("net.z_dim must be at least the number of attributes")
        check_net(config.net)

    # -- data ----------------------------------------------------------------------------------
    def bars(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The 4/4 bars of `split` over all corpora: (bars (N, 24), tune ids (N,) unique
        across corpora)."""
        data: DataConfig = self.config.data
        all_bars, all_tunes, offset = [], [], 0
        for name in data.corpora:
            melodies = data.load(name).split(split)
            bars, tunes, _ = self.encoding.encode_corpus(melodies)
            all_bars.append(bars)
            all_tunes.append(tunes + offset)
            offset += len(melodies)
        return np.concatenate(all_bars), np.concatenate(all_tunes)

    def unique_bars(self, split: str) -> np.ndarray:
        """Unique bars of a held-out split, (N, 24), in a fixed (sorted) order."""
        return np.unique(self.bars(split)[0], axis=0)

    def attributes(self, bars: Any) -> Any:
        """(N, 24) tokens -> (N, L) attributes of `data.attributes`, same library as `bars`."""
        return compute_attributes(bars, self.encoding, tuple(self.config.data.attributes))

    def _tensors(self, bars: np.ndarray) -> TensorData:
        attrs = self.attributes(bars).astype(np.float32)
        return TensorData((torch.as_tensor(bars, dtype=torch.long), torch.as_tensor(attrs)))

    def build_data(self) -> tuple[TensorData, TensorData]:
        bars, tunes = self.bars("train")
        if self.config.data.transpose:
            bars = self.encoding.transpositions(bars, groups=tunes)
        return self._tensors(bars), self._tensors(self.unique_bars("valid"))

    # -- model ---------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        n: NetConfig = self.config.net
        return {"vae": MeasureVAE(self.encoding.vocab_size, n.embed, n.enc_hidden, n.enc_layers,
                                  n.enc_out, n.z_dim, n.dec_hidden, n.dec_layers, n.dropout,
                                  encoder_readout=n.encoder_readout, beat_input=n.beat_input,
                                  teacher_forcing=n.teacher_forcing)}

    def gamma_at(self, step: int | None) -> float:
        """The attribute weight at training step `step` (None: the full weight)."""
        n: NetConfig = self.config.net
        if step is None or n.gamma_warmup_steps <= 0:
            return n.gamma
        return n.gamma * min(1.0, step / n.gamma_warmup_steps)

    def _loss(self, nets: Nets, batch: Batch, step: int | None
              ) -> tuple[torch.Tensor, dict[str, float]]:
        bars, attrs = batch
        n: NetConfig = self.config.net
        logits, mu, logvar, z = nets["vae"](bars)
        recon = F.cross_entropy(logits.flatten(0, 1), bars.flatten())
        kl = kl_divergence(mu, logvar)
        ar, per = attribute_regularization(z[:, : attrs.shape[1]], attrs, n.delta,
                                           n.attribute_reduction)
        gamma = self.gamma_at(step)
        loss = recon + n.beta * kl + gamma * ar
        with torch.no_grad():
            accuracy = (logits.argmax(-1) == bars).float().mean()
        logs = {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(), "ar": ar.item(),
                "gamma": gamma, "accuracy": accuracy.item()}
        logs.update({f"ar_{name}": float(v)
                     for name, v in zip(self.config.data.attributes, per.tolist(), strict=True)})
        return loss, logs

    def steps(self) -> list[Step]:
        return [Step("main", self._loss)]

    @torch.no_grad()
    def validate(self, nets: Nets, batch: Batch) -> dict[str, float]:
        # the full gamma, so that validation losses compare across a warm-up
        return self._loss(nets, batch, None)[1]

    def saved_state(self) -> dict[str, Any]:
        return {"encoding": self.encoding.to_dict()}

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None, generator: str | None = None,
               temperature: float | None = None) -> list[Melody]:
        """`n` one-bar melodies decoded from draws of the prior N(0, I)."""
        self.pick_generator(generator)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        z = torch.randn(n, self.config.net.z_dim, generator=g)
        bars = self.decode(z, temperature, seed)
        return [self.to_melody(bar, f"fugato arvae sample {i}") for i, bar in enumerate(bars)]

    def traversal(self, z: np.ndarray, dim: int, values: np.ndarray) -> np.ndarray:
        """Decode every code of `z` (N, z) with dimension `dim` set to each of `values` (S,):
        bars (N, S, 24)."""
        codes = np.repeat(np.asarray(z, dtype=np.float32)[:, None, :], len(values), axis=1)
        codes[:, :, dim] = values[None, :]
        return self.decode(codes.reshape(-1, codes.shape[-1])).reshape(len(z), len(values), -1)

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Disentanglement, reconstruction and traversal metrics on unique held-out test bars
        (`fugato.models.arvae.evaluate`)."""
        from fugato.models.arvae.evaluate import evaluate

        return evaluate(self, run, seed)
