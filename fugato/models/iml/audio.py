"""IML two-stage on audio (`iml-audio`): an HMM across the codes of consecutive audio frames.

Stage 1 is a 1-D convolutional autoencoder (`fugato.nn.conv_autoencoder`) over 100 ms
periodic-Hann frames of 8 kHz audio with 50% overlap (80-d codes); the data are real tunes
rendered by the project's synthesizer; a tune's frame codes form one sequence. Stage 2 is the
shared one of `fugato.models.iml.sequences`. Samples are HMM draws decoded frame by frame and
put together by overlap-add (`fugato.samples.Audio`, written as WAV). The evaluation is in
`fugato.models.iml.audio_evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from fugato.config import CorpusConfig, ExperimentConfig
from fugato.errors import FugatoError
from fugato.models.iml.sequences import BasesConfig, SequenceIML
from fugato.nn.batched import batched
from fugato.report import Evaluation
from fugato.samples import Audio
from fugato.train.task import Batch, Evaluator, Nets, Sampler, TensorData

if TYPE_CHECKING:
    from fugato.nn.conv_autoencoder import FrameAutoencoder
    from fugato.train.run import Run


@dataclass
class AudioDataConfig(CorpusConfig):
    corpus: str = "oneills"
    """Tunes rendered by `fugato.audio.synth` (split by tune)."""
    program: str = "clarinet"
    """Synthesizer timbre (`fugato.audio.synth.TIMBRES`)."""
    sample_rate: int = 8000
    frame: int = 800
    """Samples per frame (100 ms at 8 kHz)."""
    hop: int = 400
    """50% overlap."""
    train_seconds: float = 180.0
    valid_seconds: float = 20.0
    test_seconds: float = 30.0
    """Tunes are taken from each split, in order, until this much audio is reached."""
    max_tune_seconds: float | None = None
    """Cut each rendered tune to this length (more, shorter tunes for the same audio)."""


@dataclass
class AudioNetConfig(BasesConfig):
    latent: int = 80
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    strides: list[int] = field(default_factory=lambda: [4, 4, 5])
    states: int = 64
    """HMM states (the paper: 300)."""
    components: int = 16
    hmm_iter: int = 30


@dataclass
class AudioSampleConfig:
    seconds: float = 8.0
    """Length of a generated clip."""
    eval_samples: int = 2
    """Clips per base written by the evaluation."""


class IMLAudio(Sampler, Evaluator, SequenceIML):
    """IML with an HMM across the codes of consecutive audio frames (see the module
    docstring)."""

    name = "iml-audio"
    DataConfig = AudioDataConfig
    NetConfig = AudioNetConfig
    SampleConfig = AudioSampleConfig
    generators = ("hmm", "gmm")

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: AudioDataConfig = config.data
        if data.frame % data.hop:
            raise FugatoError("data.frame must be a multiple of data.hop")
        self.scale: float | None = (saved or {}).get("scale")
        """RMS of the training frames: frames are divided by it before the autoencoder."""

    # -- data ----------------------------------------------------------------------------------
    def tunes(self, split: str) -> list[np.ndarray]:
        """Rendered audio of the tunes of `split` until `{split}_seconds` is reached:
        a list of (N_i,) float32 signals in [-1, 1] at `data.sample_rate`."""
        from fugato.audio.synth import render

        data: AudioDataConfig = self.config.data
        seconds = {"train": data.train_seconds, "valid": data.valid_seconds,
                   "test": data.test_seconds}[split]
        out, total = [], 0
        for melody in data.load(data.corpus).split(split):
            if total >= seconds * data.sample_rate:
                break
            if len(melody) == 0:
                continue
            audio = render(melody, sample_rate=data.sample_rate, program=data.program)
            if data.max_tune_seconds:
                audio = audio[: int(data.max_tune_seconds * data.sample_rate)]
            out.append(audio)
            total += len(audio)
        if not out:
            raise FugatoError(f"{data.corpus}: no tunes in split {split!r}")
        return out

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """(N,) signal -> (T, frame) float32 windowed frames, divided by `scale`."""
        from fugato.audio.frames import frame_signal

        data: AudioDataConfig = self.config.data
        assert self.scale is not None
        return (frame_signal(audio, data.frame, data.hop) / self.scale).astype(np.float32)

    def build_data(self) -> tuple[TensorData, TensorData]:
        from fugato.audio.frames import frame_signal

        data: AudioDataConfig = self.config.data
        train = self.tunes("train")
        raw = np.concatenate([frame_signal(a, data.frame, data.hop) for a in train])
        self.scale = float(np.sqrt(np.mean(raw**2)))
        self.train_sequences = train
        valid = np.concatenate([self.frames(a) for a in self.tunes("valid")])
        return (TensorData((torch.from_numpy((raw / self.scale).astype(np.float32)),)),
                TensorData((torch.from_numpy(valid),)))

    # -- model ---------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        from fugato.nn.conv_autoencoder import FrameAutoencoder

        n: AudioNetConfig = self.config.net
        return {"autoencoder": FrameAutoencoder(self.config.data.frame, n.latent,
                                                n.channels, n.strides)}

    def _loss(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor,
                                                                   dict[str, float]]:
        (x,) = batch
        err = nets["autoencoder"](x) - x
        loss = err.pow(2).mean()
        # frame SNR of the batch: the whole batch's energy over its error energy
        snr = 10 * torch.log10(x.pow(2).sum() / err.pow(2).sum().clamp_min(1e-12))
        return loss, {"loss": loss.item(), "frame_snr_db": snr.item()}

    def saved_state(self) -> dict[str, Any]:
        return {"scale": self.scale, **super().saved_state()}

    # -- codes and audio -----------------------------------------------------------------------
    @property
    def autoencoder(self) -> FrameAutoencoder:
        return cast("FrameAutoencoder", self.nets["autoencoder"])

    def encode_sequences(self, sequences: list[Any]) -> list[np.ndarray]:
        """Per signal (N_i,), its (T_i, latent) float64 frame codes."""
        frames = [self.frames(a) for a in sequences]
        codes = batched(self.autoencoder.encode, torch.from_numpy(np.concatenate(frames)),
                        device=self.device).double().numpy()
        return np.split(codes, np.cumsum([len(f) for f in frames])[:-1])

    def decode_audio(self, codes: np.ndarray, length: int | None = None) -> np.ndarray:
        """Codes (..., T, latent) -> audio (..., N) by decoding every frame and overlap-add
        (window-normalised); `length` cuts the end."""
        from fugato.audio.frames import overlap_add

        assert self.scale is not None
        lead, latent = codes.shape[:-1], codes.shape[-1]
        z = torch.as_tensor(codes.reshape(-1, latent), dtype=torch.float32)
        frames = batched(self.autoencoder.decode, z, device=self.device).numpy()
        frames = frames.reshape(*lead, -1).astype(np.float64) * self.scale
        return overlap_add(frames, self.config.data.hop, length)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None, generator: str | None = None) -> Audio:
        """`sample_clips` as `Audio` at `data.sample_rate`."""
        return Audio(self.sample_clips(n, seed, generator), self.config.data.sample_rate)

    def sample_clips(self, n: int, seed: int | None = None, generator: str | None = None
                     ) -> np.ndarray:
        """(n, N) audio clips of `sample.seconds` at `data.sample_rate`: HMM code sequences
        (or i.i.d. GMM codes with `generator="gmm"`) decoded and overlap-added."""
        from fugato.audio.frames import n_frames

        data: AudioDataConfig = self.config.data
        base = str(self.pick_generator(generator and generator.lower()))
        length = int(round(self.config.sample.seconds * data.sample_rate))
        steps = n_frames(length, data.frame, data.hop)
        codes = self.bases.sample(base, n, steps, torch.Generator().manual_seed(seed or 0))
        return self.decode_audio(codes, length)

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Reconstruction SNR on held-out rendered tunes, held-out log-likelihood of frame-code
        sequences (HMM vs GMM), generated WAVs (read back with soundfile) and spectrograms
        (`fugato.models.iml.audio_evaluate`)."""
        from fugato.models.iml.audio_evaluate import evaluate

        return evaluate(self, run, seed)
