"""FactorGAN source separation on Bach chorales (Stoller, Ewert, Dixon, ICLR 2020, sec. 4.4, 6.2).

Data (`fugato.audio.chorales`): four-part chorales rendered at 22.05 kHz by the built-in
synthesizer, the soprano in one timbre ("vocals"), alto + tenor + bass in another
("accompaniment"); the mixture is their sum. A seeded order of the chorales gives `n_test`
held-out chorales, then `n_train` training chorales; the first N of those are *paired* (mixture
and both sources observed together), all the others only *unpaired*: their vocals, their
accompaniment and their mixture, each on its own. Spectrograms: STFT 512 / hop 256, the lowest
256 bins, log1p magnitudes (`fugato.audio.stft`), snippets of 128 frames (1.49 s) every 64
frames (the reference code's 50% overlap).

Generator: a U-Net (`fugato.nn.unet`) conditioned on the mixture's log magnitudes (and a noise
vector, appended at the bottleneck as in the reference) predicts a mask m in [0, 1] (sigmoid);
the vocals estimate is m |X| and the accompaniment (1 - m) |X|, so the two always add up to the
mixture magnitude, and with the mixture's phase (`apply_mask`) to the mixture signal. The
discriminators see log1p magnitudes of the two sources.

Discriminators (the generic `FactorDiscriminators` of `fugato.models.factorgan.core`, unchanged;
the sample is the flat vector [vocals | accompaniment], (B, 2 x 256 x 128), its two parts the two
sources), as in the reference code (f90/FactorGAN `AudioSeparation.py`):

- "gan": one joint discriminator on (vocals, accompaniment) of the N paired chorales; the
  generator separates mixtures of the paired chorales only;
- "factorgan": a marginal discriminator per source, trained on that source from *every*
  training chorale, a p-dependency discriminator (paired sources vs the same with the
  accompaniment shuffled across the batch) and a q-dependency discriminator (the same on
  separated sources); the generator separates mixtures of every training chorale;
- "no-cp": factorgan without the p-dependency discriminator.

The mixture is left out of every discriminator (the reference crops it away): it is the
generator's condition, and given the two sources it is determined (the estimates add up to it
exactly, the true sources nearly: |V + A| <= |V| + |A|). Every discriminator is the reference's
convolutional one (`fugato.nn.spectrogram_discriminator`: 4x4 convolutions of stride 2, leaky
ReLU, a linear output, spectral normalisation everywhere). Training is purely adversarial (no
supervised loss), Adam with betas (0.5, 0.999), `disc_rounds` discriminator updates per
generator update, the non-saturating loss on the combined logit. A batch's mixtures are
separated once, and those fakes serve all of its discriminator rounds (the generators do not
change between them; the digits draw new fakes in every round). One run trains every
(variant, N) in lockstep with disjoint parameters, so each setting trains as if alone and one
run gives the whole table.

Evaluation (`fugato.models.factorgan.separation_evaluate`): every held-out chorale is separated
whole (snippets of 128 frames, the last one aligned to the end), sources resynthesised with the
mixture's phase. The table's SDR is the reference code's: BSS Eval v4 (museval's, through
`fugato.metrics.separation.bss_eval_v4`) on 15-s windows, median over all windows of all
held-out chorales; beside it fugato's earlier number, BSS Eval v3 SDR (mir_eval's
`bss_eval_sources` without permutation) per whole chorale, mean (and median) over chorales. Two
references frame it: the untrained separator (mask 0.5: each estimate is half the mixture) and
the ideal ratio mask |V| / (|V| + |A|), the best such a mask can do with the mixture's phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from fugato.audio.stft import BINS, SAMPLE_RATE
from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.models.factorgan.core import (
    VARIANT_NAMES,
    VARIANTS,
    FactorDiscriminators,
    LockstepNetConfig,
    LockstepSettings,
)
from fugato.nn.batched import batched
from fugato.nn.spectrogram_discriminator import SpectrogramDiscriminator
from fugato.report import Evaluation, markdown_table, mean_sd
from fugato.train.run import Run
from fugato.train.task import Batch, Evaluator, Nets, SeedsReport, Task, TensorData

FRAMES = 128
"""STFT frames of one snippet: 128 x 256 samples = 1.49 s at 22.05 kHz."""
SNIPPET = BINS * FRAMES
SOURCE_PARTS = (slice(0, SNIPPET), slice(SNIPPET, 2 * SNIPPET))
"""The two parts of a separation sample (B, 2 x 256 x 128): vocals, accompaniment."""


# -- nets ----------------------------------------------------------------------------------------
def separate_magnitudes(generator: nn.Module, mixture: torch.Tensor,
                        noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (B, 1, bins, frames) in [0, 1], sources (B, 2 x bins x frames)) for mixture log1p
    magnitudes (B, 1, bins, frames): the sources are log1p(m |X|) and log1p((1 - m) |X|)
    flattened one after the other, so that m |X| + (1 - m) |X| = |X| exactly."""
    mask = torch.sigmoid(generator(mixture, noise))
    linear = torch.expm1(mixture)
    vocals, accompaniment = torch.log1p(mask * linear), torch.log1p((1 - mask) * linear)
    return mask, torch.cat([vocals.flatten(1), accompaniment.flatten(1)], 1)


# -- config --------------------------------------------------------------------------------------
@dataclass
class DataConfig:
    dataset: str = "bach-chorales"
    n_test: int = 30
    """Held-out chorales (evaluation)."""
    n_train: int = 0
    """Training chorales (0: every other four-part chorale)."""
    split_seed: int = 0
    paired: list[int] = field(default_factory=lambda: [5, 10, 25])
    """N: training chorales observed as (mixture, vocals, accompaniment); the rest unpaired."""
    vocals_program: str = "clarinet"
    accompaniment_program: str = "organ"
    workers: int = 0
    """Rendering processes (0: one per CPU)."""


@dataclass
class NetConfig(LockstepNetConfig):
    variants: list[str] = field(default_factory=lambda: ["gan", "factorgan"])
    channels: int = 32
    """U-Net channels at the top level, doubled per level up to max_channels."""
    depth: int = 4
    convs: int = 2
    """Convolutions per U-Net block."""
    max_channels: int = 256
    noise: int = 50
    """Generator noise: uniform in [-1, 1]^noise, 2 feature maps at the bottleneck."""
    disc_filters: int = 32


@dataclass
class SampleConfig:
    batch: int = 16
    """Snippets per forward pass when separating."""
    plot_seconds: float = 6.0
    """Length of the spectrogram excerpts in the report."""
    eval_seconds: float = 0.0
    """Score only the first seconds of each held-out chorale (0: all of it; quick checks)."""


@dataclass(frozen=True)
class Setting:
    variant: str
    paired: int

    @property
    def key(self) -> str:
        return f"{self.variant}/{self.paired}"


# -- the task ------------------------------------------------------------------------------------
class FactorGANSeparation(LockstepSettings, Evaluator, SeedsReport, Task):
    name = "factorgan-separation"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        net: NetConfig = config.net
        if data.dataset != "bach-chorales":
            raise FugatoError(f"data.dataset: unknown dataset {data.dataset!r} (bach-chorales)")
        self.check_net(net)
        if any(n < 1 for n in data.paired):
            raise FugatoError("data.paired: N must be at least 1 paired chorale")
        if data.n_train and max(data.paired, default=0) > data.n_train:
            raise FugatoError(f"data.paired: {max(data.paired)} paired chorales, but only "
                              f"data.n_train = {data.n_train} training chorales")
        self.settings = [Setting(v, n) for v in net.variants for n in data.paired]
        if not self.settings:
            raise FugatoError("nothing to train: net.variants or data.paired empty")
        self._mags: dict[torch.device, torch.Tensor] = {}
        self._starts = torch.empty(0, dtype=torch.long)
        self._starts_on: dict[torch.device, torch.Tensor] = {}
        self._fakes: dict[str, torch.Tensor] = {}
        self._fakes_of: Batch | None = None
        """The batch (the object itself) whose separated sources `_fakes` holds."""

    # -- data ----------------------------------------------------------------------------------
    def stem_spec(self) -> Any:
        from fugato.audio.chorales import StemSpec

        data: DataConfig = self.config.data
        return StemSpec(SAMPLE_RATE, data.vocals_program, data.accompaniment_program)

    def chorales(self, split: str) -> list[tuple[str, np.ndarray]]:
        """(chorale file name, stems (2, N) float32) of the "test" or "train" split: the first
        n_test chorales of the seeded order, then the next n_train (0: all the rest)."""
        from fugato.audio.chorales import chorale_stems

        data: DataConfig = self.config.data
        if split == "test":  # a prefix of the same order: no need to load the training set
            return chorale_stems(data.n_test, data.split_seed, self.stem_spec(),
                                 data.workers or None)
        total = data.n_test + data.n_train if data.n_train else 0
        found = chorale_stems(total, data.split_seed, self.stem_spec(), data.workers or None)
        if len(found) < data.n_test + max(data.paired):
            raise FugatoError(f"{len(found)} chorales: too few for {data.n_test} held out and "
                              f"{max(data.paired)} paired")
        return found[data.n_test:]

    def _columns(self) -> list[str]:
        return ["mix", "vocals", "accompaniment",
                *[f"{c}/{n}" for n in self.config.data.paired for c in ("paired", "paired_mix")]]

    def build_data(self) -> tuple[TensorData, TensorData]:
        """Index columns into the training snippets (M of them, from every training chorale):
        "mix" (every snippet: the generator's input for FactorGAN), "vocals" and
        "accompaniment" (every snippet, in two independent seeded orders: the unpaired
        observations of each source), and per N "paired/N" (the snippets of the first N
        training chorales: the joint observations) and "paired_mix/N" (the same in another
        order: the GAN generator's input), both repeated to M rows (the trainer shuffles rows
        every epoch)."""
        from fugato.audio.stft import log_magnitudes, stft

        data: DataConfig = self.config.data
        train = self.chorales("train")
        mags, starts, owner, offset = [], [], [], 0
        for i, (_, stems) in enumerate(train):
            # (3, BINS, T): mixture, vocals, accompaniment
            spec = log_magnitudes(stft(np.concatenate([stems.sum(0, keepdims=True), stems])))
            t = spec.shape[-1]
            if t < FRAMES:
                continue
            # frames first, so that gathering a snippet reads contiguous memory
            mags.append(torch.from_numpy(spec).permute(2, 0, 1).to(torch.float16))
            here = np.arange(0, t - FRAMES + 1, FRAMES // 2)
            starts.append(offset + here)
            owner.append(np.full(len(here), i))
            offset += t
        self._mags = {torch.device("cpu"): torch.cat(mags)}  # (T_total, 3, BINS) float16
        self._starts = torch.from_numpy(np.concatenate(starts))
        self._starts_on = {torch.device("cpu"): self._starts}
        chorale = torch.from_numpy(np.concatenate(owner))
        m = len(self._starts)
        g = torch.Generator().manual_seed(self.config.train.seed)
        columns = [torch.arange(m), torch.randperm(m, generator=g), torch.randperm(m, generator=g)]
        for n in data.paired:
            chosen = torch.nonzero(chorale < n).flatten()
            for _ in range(2):
                order = chosen[torch.randperm(len(chosen), generator=g)]
                columns.append(order.repeat(-(-m // len(order)))[:m])
        return TensorData(tuple(columns)), TensorData((torch.empty(0, dtype=torch.long),))

    def _snippets(self, index: torch.Tensor, channels: Sequence[int]) -> torch.Tensor:
        """Log magnitudes (B, len(channels), BINS, FRAMES) float32 of training snippets `index`
        (B,); channels 0 mixture, 1 vocals, 2 accompaniment; on the index's device."""
        if index.device not in self._mags:
            self._mags[index.device] = self._mags[torch.device("cpu")].to(index.device)
        if index.device not in self._starts_on:
            self._starts_on[index.device] = self._starts.to(index.device)
        mags = self._mags[index.device]
        frames = (self._starts_on[index.device][index][:, None]
                  + torch.arange(FRAMES, device=index.device))  # (B, FRAMES)
        out = mags[frames][:, :, list(channels)]  # (B, FRAMES, C, BINS)
        return out.permute(0, 2, 3, 1).float()

    # -- nets ----------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        from fugato.nn.unet import UNet

        net: NetConfig = self.config.net
        nets: Nets = {}
        for s in self.settings:
            nets[f"G:{s.key}"] = UNet(1, 1, net.channels, net.depth, net.convs, net.max_channels,
                                      net.noise, height=BINS, width=FRAMES)
            nets[f"D:{s.key}"] = FactorDiscriminators.build(
                SOURCE_PARTS, s.variant,
                lambda d: SpectrogramDiscriminator(d, BINS, FRAMES, net.disc_filters))
        return nets

    def _noise(self, n: int, device: torch.device,
               generator: torch.Generator | None = None) -> torch.Tensor | None:
        if not self.config.net.noise:
            return None
        return torch.rand(n, self.config.net.noise, device=device, generator=generator) * 2 - 1

    def _mixture_column(self, s: Setting) -> str:
        """The generator's input: every training mixture (FactorGAN), the paired ones (GAN)."""
        return f"paired_mix/{s.paired}" if s.variant == "gan" else "mix"

    def fake(self, nets: Nets, setting: Setting, batch: Batch) -> torch.Tensor:
        """Separated sources (B, 2 x BINS x FRAMES) of `setting`'s generator for the batch's
        mixtures (`_mixture_column`), from new noise."""
        mixture = self._snippets(dict(zip(self._columns(), batch, strict=True))[
            self._mixture_column(setting)], [0])
        return separate_magnitudes(nets[f"G:{setting.key}"], mixture,
                                   self._noise(len(mixture), mixture.device))[1]

    def _discriminator_loss(self, nets: Nets, batch: Batch, step: int
                            ) -> tuple[torch.Tensor, dict[str, float]]:
        cols = dict(zip(self._columns(), batch, strict=True))
        if batch is not self._fakes_of:
            # The trainer hands every discriminator round of a step the same batch object and
            # the generators do not change between the rounds: separate once per batch.
            self._fakes, self._fakes_of = {}, batch
        parts = None
        if any(s.variant != "gan" for s in self.settings):
            parts = [self._snippets(cols["vocals"], [1]).flatten(1),
                     self._snippets(cols["accompaniment"], [2]).flatten(1)]
        losses = []
        for s in self.settings:
            if s.key not in self._fakes:
                with torch.no_grad():
                    self._fakes[s.key] = self.fake(nets, s, batch)
            joint = self._snippets(cols[f"paired/{s.paired}"], [1, 2]).flatten(1)
            d = cast(FactorDiscriminators, nets[f"D:{s.key}"])
            losses.append(d.loss(parts or [], joint, self._fakes[s.key]))
        return self.sum_losses(losses, "d_loss")

    # -- separating ----------------------------------------------------------------------------
    def setting(self, key: str | None) -> Setting:
        """The setting "variant/N" (default: FactorGAN with the most paired chorales, else the
        first trained)."""
        if key is None:
            factor = [s for s in self.settings if s.variant == "factorgan"]
            return max(factor, key=lambda s: s.paired) if factor else self.settings[0]
        return self.find_setting(key, "separator")

    def masks(self, setting: Setting, mixture_spec: np.ndarray, seed: int = 0) -> np.ndarray:
        """Vocals masks (C, BINS, T) in [0, 1] for mixture STFTs (C, BINS + 1, T): snippets of
        FRAMES frames, the last one aligned to the end (shorter signals are zero-padded)."""
        from fugato.audio.stft import log_magnitudes

        mags = log_magnitudes(mixture_spec)  # (C, BINS, T)
        c, _, t = mags.shape
        if t < FRAMES:
            mags = np.pad(mags, [(0, 0), (0, 0), (0, FRAMES - t)])
        starts = np.arange(0, max(t - FRAMES, 0) + 1, FRAMES)
        if starts[-1] + FRAMES < max(t, FRAMES):
            starts = np.append(starts, t - FRAMES)
        frames = starts[:, None] + np.arange(FRAMES)  # (S, FRAMES)
        snippets = torch.from_numpy(np.ascontiguousarray(
            mags[:, :, frames].transpose(0, 2, 1, 3))).reshape(-1, 1, BINS, FRAMES)
        gen = self.nets[f"G:{setting.key}"].eval()
        g = torch.Generator(device=self.device).manual_seed(seed)
        # sample.batch snippets at a time (16): a U-Net's activations on 256 x 128 maps are
        # large, and the recorded masks were made in chunks of this size
        out = batched(lambda chunk: separate_magnitudes(
            gen, chunk, self._noise(len(chunk), self.device, g))[0], snippets,
            device=self.device, batch_size=self.config.sample.batch
        ).reshape(c, len(starts), BINS, FRAMES)
        mask = np.zeros((c, BINS, max(t, FRAMES)), dtype=np.float32)
        # one assignment; where the end-aligned last snippet overlaps the one before, either
        # prediction is a valid mask for those frames
        mask[:, :, frames] = out.numpy().transpose(0, 2, 1, 3)
        return mask[:, :, :t]

    def separate(self, audio: np.ndarray, setting: str | None = None, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, accompaniment), each like `audio` ((N,) or (channels, N), 22.05 kHz): every
        channel separated on its own, the mixture's phase; vocals + accompaniment = audio up to
        rounding."""
        from fugato.audio.stft import apply_mask, stft

        audio = np.asarray(audio, dtype=np.float64)
        signals = np.atleast_2d(audio)
        spec = stft(signals)
        vocals, accompaniment = apply_mask(spec, self.masks(self.setting(setting), spec, seed),
                                           signals.shape[-1])
        return (vocals.reshape(audio.shape), accompaniment.reshape(audio.shape))

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """SDR per setting on held-out chorales (`fugato.models.factorgan.separation_evaluate`)."""
        from fugato.models.factorgan.separation_evaluate import evaluate

        return evaluate(self, run, seed)

    @staticmethod
    def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
        """The separation table over seeds ("mean ± sd") from `compare_runs`' summary of the
        eval.json paths `table/VARIANT/N/...`: the reference's SDR (BSS Eval v4, median over
        15-s windows) and fugato's whole-chorale v3 mean. (Runs evaluated before v4 took the
        plain name hold the v3 mean under `sdr_<stem>`: evaluate them again.)"""
        def cell(path: str) -> str:
            return mean_sd(summary, path, 3)

        keys = sorted({tuple(k.split("/")[1:3]) for k in summary if k.startswith("table/")},
                      key=lambda k: (VARIANTS.index(k[0]) if k[0] in VARIANTS else 9, int(k[1])))
        rows = [{"model": VARIANT_NAMES.get(v, v), "N paired": n,
                 "SDR vocals": cell(f"table/{v}/{n}/sdr_vocals"),
                 "SDR accompaniment": cell(f"table/{v}/{n}/sdr_accompaniment"),
                 "SDR v3 vocals (mean)": cell(f"table/{v}/{n}/sdr_v3_mean_vocals"),
                 "SDR v3 accompaniment (mean)": cell(f"table/{v}/{n}/sdr_v3_mean_accompaniment")}
                for v, n in keys]
        return (f"## {group}: chorale separation over {runs} seeds (mean ± sd)\n\n"
                + markdown_table(rows))
