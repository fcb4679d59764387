"""FactorGAN source separation on Bach chorales (Stoller, Ewert, Dixon, ICLR 2020, sec. 4.3).

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

Discriminators (the generic `FactorDiscriminators` of `fugato.models.factorgan.digits`, unchanged;
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
convolutional one (4x4 convolutions of stride 2, leaky ReLU, a linear output, spectral
normalisation everywhere). Training is purely adversarial (no supervised loss), Adam with
betas (0.5, 0.999), `disc_rounds` discriminator updates per generator update, the
non-saturating loss on the combined logit. One run trains every (variant, N) in lockstep with
disjoint parameters, so each setting trains as if alone and one run gives the whole table.

Evaluation: every held-out chorale is separated whole (snippets of 128 frames, the last one
aligned to the end), sources resynthesised with the mixture's phase, scored with BSS Eval v3
SDR (mir_eval's `bss_eval_sources` without permutation, through `fugato.metrics.separation`)
per chorale; the table gives the mean (and median) over chorales. Two references frame it: the
untrained separator (mask 0.5: each estimate is half the mixture) and the ideal ratio mask
|V| / (|V| + |A|), the best such a mask can do with the mixture's phase.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from fugato.audio.stft import BINS, SAMPLE_RATE
from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.models.factorgan.digits import (
    VARIANT_NAMES,
    VARIANTS,
    FactorDiscriminators,
    LockstepNetConfig,
    LockstepSettings,
    generator_loss,
)
from fugato.report import markdown_table
from fugato.train.task import Batch, Evaluator, Nets, SeedsReport, Task, TensorData

FRAMES = 128
"""STFT frames of one snippet: 128 x 256 samples = 1.49 s at 22.05 kHz."""
SNIPPET = BINS * FRAMES
SOURCE_PARTS = (slice(0, SNIPPET), slice(SNIPPET, 2 * SNIPPET))
"""The two parts of a separation sample (B, 2 x 256 x 128): vocals, accompaniment."""


# -- nets ----------------------------------------------------------------------------------------
class SpectrogramDiscriminator(nn.Module):
    """The reference's convolutional discriminator on flat spectrogram stacks:
    (B, C x bins x frames) -> logits (B,). A 4x4 stride-2 convolution to `filters` channels,
    then log2(min(bins, frames)) - 3 more, each doubling the channels, leaky ReLU after each,
    a bias-free linear output; spectral normalisation on every layer."""

    def __init__(self, in_features: int, filters: int = 32, bins: int = BINS,
                 frames: int = FRAMES) -> None:
        from torch.nn.utils.parametrizations import spectral_norm

        super().__init__()
        if in_features % (bins * frames):
            raise ValueError(f"{in_features} features are not whole {bins} x {frames} maps")
        self.shape = (in_features // (bins * frames), bins, frames)
        extra = int(math.log2(min(bins, frames))) - 3
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(self.shape[0], filters, 4, 2, 1)),
                                   nn.LeakyReLU()]
        for i in range(extra):
            layers += [spectral_norm(nn.Conv2d(filters * 2**i, filters * 2 ** (i + 1), 4, 2, 1)),
                       nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        size = (bins // 2 ** (extra + 1)) * (frames // 2 ** (extra + 1)) * filters * 2**extra
        self.fc = spectral_norm(nn.Linear(size, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x.reshape(len(x), *self.shape)).flatten(1)).reshape(len(x))


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

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, state)
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
        self._fake_step = -1

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
                SOURCE_PARTS, s.variant, lambda d: SpectrogramDiscriminator(d, net.disc_filters))
        return nets

    def _noise(self, n: int, device: torch.device,
               generator: torch.Generator | None = None) -> torch.Tensor | None:
        if not self.config.net.noise:
            return None
        return torch.rand(n, self.config.net.noise, device=device, generator=generator) * 2 - 1

    def _mixture_column(self, s: Setting) -> str:
        """The generator's input: every training mixture (FactorGAN), the paired ones (GAN)."""
        return f"paired_mix/{s.paired}" if s.variant == "gan" else "mix"

    def _discriminator_loss(self, nets: Nets, batch: Batch, step: int
                            ) -> tuple[torch.Tensor, dict[str, float]]:
        cols = dict(zip(self._columns(), batch, strict=True))
        device = batch[0].device
        if step != self._fake_step:
            # The trainer hands every discriminator round of a step the same batch and the
            # generators do not change between them: separate once per step.
            self._fakes, self._fake_step = {}, step
        parts = None
        if any(s.variant != "gan" for s in self.settings):
            parts = [self._snippets(cols["vocals"], [1]).flatten(1),
                     self._snippets(cols["accompaniment"], [2]).flatten(1)]
        losses = []
        for s in self.settings:
            if s.key not in self._fakes:
                with torch.no_grad():
                    mixture = self._snippets(cols[self._mixture_column(s)], [0])
                    self._fakes[s.key] = separate_magnitudes(
                        nets[f"G:{s.key}"], mixture, self._noise(len(mixture), device))[1]
            joint = self._snippets(cols[f"paired/{s.paired}"], [1, 2]).flatten(1)
            d = cast(FactorDiscriminators, nets[f"D:{s.key}"])
            losses.append(d.loss(parts or [], joint, self._fakes[s.key]))
        return self.sum_losses(losses, "d_loss")

    def _generator_loss(self, nets: Nets, batch: Batch, step: int
                        ) -> tuple[torch.Tensor, dict[str, float]]:
        cols = dict(zip(self._columns(), batch, strict=True))
        device = batch[0].device
        losses = []
        for s in self.settings:
            mixture = self._snippets(cols[self._mixture_column(s)], [0])
            _, fake = separate_magnitudes(nets[f"G:{s.key}"], mixture,
                                          self._noise(len(mixture), device))
            d = cast(FactorDiscriminators, nets[f"D:{s.key}"])
            d.eval()  # scoring only: no power-iteration update of the spectral norms
            losses.append(generator_loss(d.combined(fake)))
            d.train()
        return self.sum_losses(losses, "g_loss")

    # -- separating ----------------------------------------------------------------------------
    def setting(self, key: str | None) -> Setting:
        """The setting "variant/N" (default: FactorGAN with the most paired chorales, else the
        first trained)."""
        if key is None:
            factor = [s for s in self.settings if s.variant == "factorgan"]
            return max(factor, key=lambda s: s.paired) if factor else self.settings[0]
        return self.find_setting(key, "separator")

    @torch.no_grad()
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
        size = self.config.sample.batch
        out = torch.cat([
            separate_magnitudes(gen, chunk.to(self.device),
                                self._noise(len(chunk), self.device, g))[0].cpu()
            for chunk in snippets.split(size)]).reshape(c, len(starts), BINS, FRAMES)
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
    def evaluate(self, run: Any, seed: int = 0) -> tuple[dict[str, Any], str]:
        """SDR of vocals and accompaniment per setting on the held-out chorales (mean and
        median over chorales), the untrained-mask and ideal-ratio-mask references, spectrogram
        excerpts and training curves."""
        from fugato.audio.stft import apply_mask, stft
        from fugato.metrics.separation import bss_eval_sources
        from fugato.plot import plot_spectrograms, plot_training_curves

        cfg: SampleConfig = self.config.sample
        data: DataConfig = self.config.data
        test = self.chorales("test")
        scores: dict[str, list[np.ndarray]] = defaultdict(list)  # name -> per chorale (2,)
        excerpts: dict[str, np.ndarray] = {}
        excerpt = int(cfg.plot_seconds * SAMPLE_RATE)
        seconds = 0.0  # of held-out audio scored
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
            masks.update({s.key: self.masks(s, spec[None], seed)[0] for s in self.settings})
            for name, mask in masks.items():
                estimates = np.stack(apply_mask(spec, mask, len(mixture)))
                scores[name].append(bss_eval_sources(stems64, estimates)["sdr"])
                if k == 0:
                    excerpts[name] = estimates[:, :excerpt]
            if k == 0:
                excerpts["mixture"], excerpts["true"] = mixture[:excerpt], stems64[:, :excerpt]

        def summary(name: str) -> dict[str, float]:
            values = np.array(scores[name])  # (chorales, 2)
            return {"sdr_vocals": float(values[:, 0].mean()),
                    "sdr_accompaniment": float(values[:, 1].mean()),
                    "sdr_vocals_median": float(np.median(values[:, 0])),
                    "sdr_accompaniment_median": float(np.median(values[:, 1]))}

        rows: list[dict[str, Any]] = []
        table: dict[str, dict[str, dict[str, float]]] = {}
        for s in self.settings:
            numbers = summary(s.key)
            rows.append({"model": s.variant, "paired": s.paired, **numbers})
            table.setdefault(s.variant, {})[str(s.paired)] = numbers
        references = {"ideal_ratio_mask": summary("ideal"), "half_mask": summary("half")}
        results: dict[str, Any] = {
            "model": self.name, "step": run.step, "separation": rows, "table": table,
            "references": references,
            "per_chorale": {name: [[float(v) for v in x] for x in values]
                            for name, values in scores.items()},
            "test_chorales": [name for name, _ in test],
            "sizes": {"test_chorales": len(test), "test_seconds": seconds},
            "renderer": "fugato.audio.synth (built-in synthesizer)",
        }

        plots = run.path / "plots"
        plot_training_curves(run.metrics(), plots / "training.png",
                             [f"{k}_{v}" for k in ("d_loss", "g_loss")
                              for v in self.config.net.variants])
        figures = []
        for n in data.paired:
            of = [s for s in self.settings if s.paired == n]
            signals = {"mixture": excerpts["mixture"], "true vocals": excerpts["true"][0]}
            signals.update({f"{VARIANT_NAMES[s.variant]} vocals": excerpts[s.key][0]
                            for s in of})
            signals["true accompaniment"] = excerpts["true"][1]
            signals.update({f"{VARIANT_NAMES[s.variant]} accompaniment": excerpts[s.key][1]
                            for s in of})
            name = f"spectrograms-n{n}.png"
            plot_spectrograms(signals, plots / name, SAMPLE_RATE,
                              title=f"{test[0][0]}, first {cfg.plot_seconds:g} s; N = {n}")
            figures.append(f"![N = {n}](plots/{name})")

        def shown(label: str, n: Any, numbers: Mapping[str, float]) -> dict[str, Any]:
            return {"model": label, "N paired": n,
                    "SDR vocals (mean)": numbers["sdr_vocals"],
                    "SDR vocals (median)": numbers["sdr_vocals_median"],
                    "SDR accompaniment (mean)": numbers["sdr_accompaniment"],
                    "SDR accompaniment (median)": numbers["sdr_accompaniment_median"]}

        report_rows = [shown(VARIANT_NAMES[r["model"]], r["paired"], r) for r in rows]
        reference_rows = [shown("ideal ratio mask (oracle)", "", references["ideal_ratio_mask"]),
                          shown("mask 0.5 (half the mixture)", "", references["half_mask"])]
        train_count = data.n_train or "all other"
        report = "\n\n".join([
            f"# FactorGAN: source separation of Bach chorales, step {run.step}",
            f"Vocals: the soprano in the {data.vocals_program!r} timbre; accompaniment: alto, "
            f"tenor and bass in the {data.accompaniment_program!r} timbre; rendered at 22.05 kHz "
            "by fugato's built-in synthesizer (no soundfont renderer). "
            f"{train_count} training chorales, N of them paired, the rest unpaired; "
            f"{len(test)} held-out chorales ({results['sizes']['test_seconds']:.0f} s). "
            "SDR in dB (BSS Eval v3 over each whole chorale, mixture phase), mean and median "
            "over the held-out chorales.",
            "## Separation\n\n" + markdown_table(report_rows),
            "## References\n\n" + markdown_table(reference_rows),
            "## Spectrograms\n\n" + "\n\n".join(figures),
            "## Training\n\n![training curves](plots/training.png)",
        ]) + "\n"
        return results, report

    @staticmethod
    def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
        """The separation table over seeds ("mean ± sd") from `compare_runs`' summary of the
        eval.json paths `table/VARIANT/N/...`."""
        def cell(path: str) -> str:
            if path not in summary:
                return ""
            mean, sd = summary[path]
            return f"{mean:.3g} ± {sd:.2g}"

        keys = sorted({tuple(k.split("/")[1:3]) for k in summary if k.startswith("table/")},
                      key=lambda k: (VARIANTS.index(k[0]) if k[0] in VARIANTS else 9, int(k[1])))
        rows = [{"model": VARIANT_NAMES.get(v, v), "N paired": n,
                 "SDR vocals": cell(f"table/{v}/{n}/sdr_vocals"),
                 "SDR accompaniment": cell(f"table/{v}/{n}/sdr_accompaniment")}
                for v, n in keys]
        return (f"## {group}: chorale separation over {runs} seeds (mean ± sd)\n\n"
                + markdown_table(rows))


def _resample(audio: np.ndarray, source: int, target: int) -> np.ndarray:
    """Audio (..., N) from `source` Hz to `target` Hz (polyphase, scipy)."""
    from scipy.signal import resample_poly

    if source == target:
        return audio
    g = math.gcd(source, target)
    return resample_poly(audio, target // g, source // g, axis=-1)


def separate_file(run: Any, path: str | Path, out: str | Path, separator: str | None = None,
                  seed: int = 0) -> list[Path]:
    """Separate an audio file with a trained run: writes `<stem>-vocals.wav` and
    `<stem>-accompaniment.wav` (32-bit float, the input's channels and sample rate) into `out`;
    their sum is the input up to float32 rounding. At another sample rate than 22.05 kHz the
    vocals are separated at 22.05 kHz and resampled back, and the accompaniment is the input
    minus the vocals, so the sum still holds."""
    from fugato.audio.wav import read_wav, write_audio

    audio, rate = read_wav(path)  # (channels, N)
    task: FactorGANSeparation = run.task
    if rate == SAMPLE_RATE:
        vocals, accompaniment = task.separate(audio, separator, seed)
    else:
        vocals = task.separate(_resample(audio, rate, SAMPLE_RATE), separator, seed)[0]
        vocals = _resample(vocals, SAMPLE_RATE, rate)
        vocals = np.pad(vocals, [(0, 0), (0, max(0, audio.shape[1] - vocals.shape[1]))]
                        )[:, : audio.shape[1]]
        accompaniment = audio - vocals
    out = Path(out)
    stem = Path(path).stem
    paths = [out / f"{stem}-vocals.wav", out / f"{stem}-accompaniment.wav"]
    for p, x in zip(paths, (vocals, accompaniment), strict=True):
        write_audio(x[0] if len(x) == 1 else x, p, rate, float32=True)
    return paths
