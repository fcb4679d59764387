"""The one bar codec of AR-VAE and IML melodies: 4/4 bars <-> latent codes through a MeasureVAE.

Both systems encode one bar (24 `MeasureEncoding` tokens) to the encoder mean, decode codes
free-running, and write decoded bars as a 4/4 melody at the sampling tempo. `MeasureBarCodec`
does it once for a task whose nets hold the MeasureVAE under `codec_net`, whose encoding is
`self.encoding` and whose sample config has `temperature` and `tempo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import numpy as np
import torch

from fugato.config import CorpusConfig
from fugato.music.encodings.measure import MeasureEncoding
from fugato.music.melody import Melody, TimeSignature
from fugato.nn.batched import batched
from fugato.nn.measure_vae import MeasureVAE
from fugato.train.task import BarCodec, Task

BAR_TOKENS = 24


@dataclass
class BarCorporaConfig(CorpusConfig):
    """The data of a bar model: the 4/4 bars of named corpora, pooled and split by tune."""

    corpora: list[str] = field(default_factory=lambda: ["oneills", "ryans"])
    """Corpora whose 4/4 tunes are pooled: ["oneills", "ryans"] is `folk`; or ["bach-soprano"]."""
    pitch_range: list[int] = field(default_factory=lambda: [55, 84])
    transpose: bool = True
    """Augment the training bars by every transposition keeping each tune in range."""


class MeasureBarCodec(BarCodec, Task):
    """`BarCodec` over the MeasureVAE `self.nets[codec_net]`."""

    codec_net: ClassVar[str]
    encoding: MeasureEncoding

    @property
    def codec(self) -> MeasureVAE:
        return cast(MeasureVAE, self.nets[self.codec_net])

    def encode(self, bars: Any) -> np.ndarray:
        """Bars (N, 24) int -> encoder means (N, z) float32."""
        x = torch.as_tensor(np.asarray(bars), dtype=torch.long)
        self.codec.eval()
        mu = batched(lambda b: self.codec.encode(b)[0], x, device=self.device,
                     empty=torch.zeros(0, self.codec.z_dim))
        return mu.numpy()

    def decode(self, codes: Any, temperature: float | None = None, seed: int | None = None
               ) -> np.ndarray:
        """Codes (N, z) -> free-running decoded bars (N, 24) int64 (`temperature` None: the
        config's; 0: argmax). One generator seeded with `seed` (None: 0) runs through the
        chunks in order; at a temperature above 0 the draws follow the chunk size
        (`INFERENCE_BATCH`), so a sampled bar depends on it (argmax decoding does not)."""
        z = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
        t = self.config.sample.temperature if temperature is None else temperature
        generator = torch.Generator(device=self.device).manual_seed(seed or 0)
        self.codec.eval()
        bars = batched(lambda c: self.codec.decode_free(c, t, generator), z, device=self.device,
                       empty=torch.zeros(0, BAR_TOKENS, dtype=torch.long))
        return bars.numpy()

    def to_melody(self, bars: np.ndarray, title: str) -> Melody:
        """Bars (n, 24) -> one 4/4 `Melody` of n bars at the sampling tempo."""
        return self.encoding.decode(bars).replace(
            title=title, tempo=self.config.sample.tempo,
            time_signatures=[TimeSignature(0, 4, 4)])


def reconstruction_accuracy(recon: np.ndarray, bars: np.ndarray, hold: int) -> dict[str, float]:
    """Token accuracy of reconstructed bars (N, 24) against `bars`: over all tokens, and over
    the onsets (tokens that are not `hold`: a pitch or a rest starts there)."""
    correct, onsets = recon == bars, bars != hold
    return {"all": float(correct.mean()), "onsets": float(correct[onsets].mean())}
