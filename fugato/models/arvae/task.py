"""AR-VAE (Pati & Lerch 2020): a MeasureVAE whose latent dimension l is ordered by attribute l.

Loss = cross-entropy reconstruction + beta * KL + gamma * attribute regularisation
(`fugato.losses.attribute`); gamma = 0 is the beta-VAE baseline. Data: the 4/4 bars of one or
more corpora in `MeasureEncoding`, split by tune; the training split is augmented by every
transposition that keeps a whole tune in the pitch range; validation and evaluation use the
unique bars of the held-out tunes (repeats duplicate many bars).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.losses.attribute import attribute_regularization, kl_divergence
from fugato.metrics.disentanglement import disentanglement, spearman_matrix
from fugato.music.attributes import ATTRIBUTES, compute_attributes
from fugato.music.encodings.measure import MeasureEncoding
from fugato.music.melody import Melody, TimeSignature
from fugato.nn.measure_vae import MeasureVAE
from fugato.train.run import Run
from fugato.train.task import BarCodec, Batch, Evaluator, Nets, Sampler, Step, Task, TensorData


@dataclass
class DataConfig:
    corpora: list[str] = field(default_factory=lambda: ["oneills", "ryans"])
    """Corpora whose 4/4 bars are pooled: ["oneills", "ryans"] is `folk`; or ["bach-soprano"]."""
    pitch_range: list[int] = field(default_factory=lambda: [55, 84])
    transpose: bool = True
    """Augment the training split by every transposition keeping each tune in range."""
    attributes: list[str] = field(default_factory=lambda: list(ATTRIBUTES))
    """Attribute l is regularised on latent dimension l."""
    split_seed: int = 0
    workers: int | None = None


@dataclass
class NetConfig:
    """MeasureVAE sizes plus the loss weights (they define the model being trained)."""

    embed: int = 10
    enc_hidden: int = 128
    enc_layers: int = 2
    enc_out: int = 512
    z_dim: int = 32
    dec_hidden: int = 128
    dec_layers: int = 2
    dropout: float = 0.0
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


class ARVAE(Sampler, Evaluator, BarCodec, Task):
    name = "arvae"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, state)
        data: DataConfig = config.data
        self.encoding = self.restore_encoding(
            state, lambda: MeasureEncoding(pitch_range=data.pitch_range))
        unknown = sorted(set(data.attributes) - set(ATTRIBUTES))
        if unknown:
            raise FugatoError(f"data.attributes: unknown {unknown}; known: {list(ATTRIBUTES)}")
        if len(data.attributes) > config.net.z_dim:
            raise FugatoError("net.z_dim must be at least the number of attributes")
        if config.net.attribute_reduction not in ("sum", "mean"):
            raise FugatoError("net.attribute_reduction must be 'sum' or 'mean'")

    # -- data ----------------------------------------------------------------------------------
    def bars(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The 4/4 bars of `split` over all corpora: (bars (N, 24), tune ids (N,) unique
        across corpora)."""
        from fugato.music.corpora import load_corpus

        data: DataConfig = self.config.data
        all_bars, all_tunes, offset = [], [], 0
        for name in data.corpora:
            corpus = load_corpus(name, workers=data.workers, seed=data.split_seed,
                                 progress=False)
            melodies = corpus.split(split)
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
                                  n.enc_out, n.z_dim, n.dec_hidden, n.dec_layers, n.dropout)}

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

    # -- encoding, decoding, sampling ----------------------------------------------------------
    @property
    def vae(self) -> MeasureVAE:
        return self.nets["vae"]  # type: ignore[return-value]

    @torch.no_grad()
    def encode(self, bars: Any, batch_size: int = 1024) -> np.ndarray:
        """Encoder means of bars (N, 24) -> (N, z) float32."""
        bars = torch.as_tensor(np.asarray(bars), dtype=torch.long)
        self.vae.eval()
        out = [self.vae.encode(bars[i : i + batch_size].to(self.device))[0].cpu()
               for i in range(0, len(bars), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.config.net.z_dim))

    @torch.no_grad()
    def decode(self, z: Any, temperature: float | None = None, seed: int | None = None,
               batch_size: int = 1024) -> np.ndarray:
        """Latent codes (N, z) -> free-running decoded bars (N, 24) int64."""
        z = torch.as_tensor(np.asarray(z), dtype=torch.float32)
        t = self.config.sample.temperature if temperature is None else temperature
        generator = torch.Generator(device=self.device).manual_seed(seed or 0)
        self.vae.eval()
        out = [self.vae.decode_free(z[i : i + batch_size].to(self.device), t, generator).cpu()
               for i in range(0, len(z), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, 24), dtype=np.int64)

    def to_melody(self, bars: np.ndarray, title: str) -> Melody:
        melody = self.encoding.decode(bars)
        return melody.replace(title=title, tempo=self.config.sample.tempo,
                              time_signatures=[TimeSignature(0, 4, 4)])

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

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, run: Run, seed: int = 0) -> tuple[dict[str, Any], str]:
        """Disentanglement, reconstruction and traversal metrics on unique held-out test bars:
        (eval.json dict, report markdown)."""
        from fugato.plot import plot_heatmaps, plot_lines, plot_scatter_grid, plot_training_curves
        from fugato.report import markdown_table

        cfg: SampleConfig = self.config.sample
        names = list(self.config.data.attributes)
        bars = self.unique_bars("test")
        rng = np.random.default_rng(seed)
        if len(bars) > cfg.eval_bars:
            bars = bars[np.sort(rng.choice(len(bars), cfg.eval_bars, replace=False))]
        attrs = self.attributes(bars)
        mu = self.encode(bars)
        metrics = disentanglement(mu, attrs, seed)

        recon = self.decode(mu, temperature=0.0)
        # "onsets": every token that is not a hold (a pitch or a rest starts there)
        correct, events = recon == bars, bars != self.encoding.HOLD

        # traversal: dimension l of held-out codes swept over [-r, r]; Spearman of the latent
        # value with the decoded bar's attribute l, averaged over bars
        values = np.linspace(-cfg.traversal_range, cfg.traversal_range, cfg.traversal_steps)
        chosen = mu[rng.choice(len(mu), min(cfg.traversal_bars, len(mu)), replace=False)]
        trav_rho, trav_curves = [], {}
        for l, name in enumerate(names):
            decoded = self.traversal(chosen, l, values.astype(np.float32))
            a = self.attributes(decoded)[..., l]  # (N, S)
            rho = spearman_matrix(a.T, values[:, None])[:, 0]  # (N,): one per bar
            trav_rho.append(float(rho.mean()))
            trav_curves[name] = a.mean(axis=0)

        per_attribute = {
            name: {"interpretability": float(metrics["interpretability"]["per_factor"][l]),
                   "interpretability_dim": int(metrics["interpretability"]["dims"][l]),
                   "mig": float(metrics["mig"]["per_factor"][l]),
                   "sap": float(metrics["sap"]["per_factor"][l]),
                   "scc": float(metrics["scc"]["per_factor"][l]),
                   "scc_regularised_dim": float(spearman_matrix(mu[:, l:l + 1],
                                                                attrs[:, l:l + 1])[0, 0]),
                   "traversal_spearman": trav_rho[l]}
            for l, name in enumerate(names)}
        results: dict[str, Any] = {
            "model": self.name, "corpora": list(self.config.data.corpora),
            "gamma": self.config.net.gamma, "beta": self.config.net.beta, "step": run.step,
            **{k: v["score"] for k, v in metrics.items()},
            "recon_accuracy": float(correct.mean()),
            "recon_accuracy_onsets": float(correct[events].mean()),
            "traversal_spearman": float(np.mean(trav_rho)),
            "per_attribute": per_attribute,
            "eval_bars": len(bars),
        }

        plots = run.path / "plots"
        plot_training_curves(run.metrics(), plots / "training.png",
                             ("loss", "recon", "kl", "ar", "accuracy"))
        plot_scatter_grid(mu[:, : len(names)], attrs, [f"z{l}" for l in range(len(names))],
                          names, plots / "latents.png")
        plot_lines(values, trav_curves, plots / "traversal.png", "latent value",
                   "mean decoded attribute", "Traversal of each regularised dimension")
        surfaces = self.attribute_surfaces(mu, names, grid=9)
        plot_heatmaps(surfaces, cfg.traversal_range, plots / "surfaces.png",
                      "regularised dim", "free dim")
        rows = [{"metric": k, "value": results[k]} for k in
                ("interpretability", "mig", "modularity", "sap", "scc", "recon_accuracy",
                 "recon_accuracy_onsets", "traversal_spearman")]
        attr_rows = [{"attribute": name, **{k: round(v, 4) if isinstance(v, float) else v
                                             for k, v in per.items()}}
                     for name, per in per_attribute.items()]
        kind = "AR-VAE" if self.config.net.gamma > 0 else "beta-VAE"
        report = "\n\n".join([
            f"# {kind}: {', '.join(self.config.data.corpora)} (step {run.step})",
            f"{len(bars)} unique held-out test bars; metrics on encoder means; reconstruction "
            "free-running (argmax) from the means; onsets = tokens that are not holds.",
            markdown_table(rows),
            "## Per attribute", markdown_table(attr_rows),
            "## Training\n\n![training curves](plots/training.png)",
            "## Regularised dimensions against attributes\n\n![latents](plots/latents.png)",
            "## Traversals\n\n![traversal](plots/traversal.png)",
            "## Attribute surfaces (regularised dim x the first free dim, decoded attribute)"
            "\n\n![surfaces](plots/surfaces.png)",
        ]) + "\n"
        return results, report

    def attribute_surfaces(self, mu: np.ndarray, names: list[str], grid: int = 9
                           ) -> dict[str, np.ndarray]:
        """Per attribute l: decoded attribute l over a grid of (dim l, first free dim) values
        around the mean code, (grid, grid) with rows = free dim, columns = dim l."""
        r = self.config.sample.traversal_range
        values = np.linspace(-r, r, grid, dtype=np.float32)
        free = min(len(names), self.config.net.z_dim - 1)
        out = {}
        for l, name in enumerate(names):
            codes = np.repeat(mu.mean(axis=0, keepdims=True), grid * grid, axis=0)
            codes[:, l] = np.tile(values, grid)
            codes[:, free] = np.repeat(values, grid)
            out[name] = self.attributes(self.decode(codes))[:, l].reshape(grid, grid)
        return out


def input_bar(task: ARVAE, path: str | Path, index: int = 0) -> np.ndarray:
    """Bar `index` among the encodable 4/4 bars of the first melody in a music file: (1, 24)."""
    from fugato.music.io import read_file

    bars = task.encoding.encode(read_file(path)[0])
    if not 0 <= index < len(bars):
        raise FugatoError(f"{path}: has {len(bars)} encodable 4/4 bars, no bar {index}")
    return bars[index : index + 1]


def traverse(run: Run, attribute: str, out: str | Path, bars: np.ndarray | None = None,
             steps: int = 9, value_range: tuple[float, float] = (-4.0, 4.0),
             seed: int = 0) -> list[Path]:
    """Sweep the latent dimension of `attribute` for one bar (`bars` (1, 24), else a prior draw);
    write one MIDI per step, all steps as one MIDI and a PNG of piano rolls with each bar's
    attribute value (`write_bar_sequence`)."""
    task: ARVAE = run.task  # type: ignore[assignment]
    names = list(task.config.data.attributes)
    if attribute not in names:
        raise FugatoError(f"attribute {attribute!r} is not regularised here (have {names})")
    l = names.index(attribute)
    if bars is None:
        z = torch.randn(1, task.config.net.z_dim,
                        generator=torch.Generator().manual_seed(seed)).numpy()
    else:
        z = task.encode(bars[:1])
    values = np.linspace(value_range[0], value_range[1], steps, dtype=np.float32)
    decoded = task.traversal(z, l, values)[0]  # (S, 24)
    attrs = task.attributes(decoded)[:, l]
    labels = [f"z={v:.1f}\n{attribute}={a:.2f}" for v, a in zip(values, attrs, strict=True)]
    return write_bar_sequence(task, decoded, Path(out), attribute, labels,
                              f"Traversal of {attribute}")


def interpolate(run: Run, bar_a: np.ndarray, bar_b: np.ndarray, out: str | Path,
                steps: int = 9) -> list[Path]:
    """Decode `steps` codes on the line between the encoder means of two bars (each (1, 24));
    write one MIDI per step, the whole path as one MIDI (a bar per step) and a PNG of piano
    rolls captioned with every attribute of each decoded bar."""
    task: ARVAE = run.task  # type: ignore[assignment]
    if steps < 2:
        raise FugatoError("interpolation needs at least 2 steps")
    za, zb = task.encode(bar_a[:1]), task.encode(bar_b[:1])  # (1, z) each
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    decoded = task.decode((1 - t) * za + t * zb)  # (S, 24)
    attrs = task.attributes(decoded)
    short = {"rhythmic_complexity": "rc", "pitch_range": "pr", "note_density": "nd",
             "contour": "ct"}
    labels = [f"t={ti:.2f}\n" + " ".join(f"{short.get(n, n)}={v:.2f}"
                                          for n, v in zip(task.config.data.attributes, row,
                                                          strict=True))
              for ti, row in zip(t[:, 0], attrs, strict=True)]
    return write_bar_sequence(task, decoded, Path(out), "interpolation", labels,
                              "Interpolation A -> B")


def write_bar_sequence(task: ARVAE, bars: np.ndarray, out: Path, stem: str,
                       labels: list[str], title: str) -> list[Path]:
    """Bars (S, 24) -> `out/{stem}-{i:02d}.mid` per bar, `out/{stem}-all.mid` with the bars end
    to end, and `out/{stem}.png` (piano rolls captioned by `labels`); returns the paths, the
    PNG last."""
    from fugato.music.io import write_midi
    from fugato.plot import plot_piano_rolls

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (bar, label) in enumerate(zip(bars, labels, strict=True)):
        path = out / f"{stem}-{i:02d}.mid"
        write_midi(task.to_melody(bar, f"{stem} {i}: {label.replace(chr(10), ' ')}"), path)
        paths.append(path)
    whole = out / f"{stem}-all.mid"
    write_midi(task.to_melody(bars, f"{stem}: all steps"), whole)
    paths.append(whole)
    png = out / f"{stem}.png"
    plot_piano_rolls([task.to_melody(bar, "") for bar in bars], labels, png, title)
    paths.append(png)
    return paths
