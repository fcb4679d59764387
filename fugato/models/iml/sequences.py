"""IML two-stage on sequences (Subakan, Koyejo, Smaragdis 2018): an HMM across latent codes.

Two systems share one stage 2:

- `iml-melody`: stage 1 is a bar autoencoder over `MeasureEncoding` (the MeasureVAE nets of
  `fugato.nn.measure_vae`, trained as a deterministic autoencoder on the encoder means when
  `net.beta` = 0); the codes of consecutive bars of a tune form one sequence. Samples are
  16-bar melodies decoded bar by bar from HMM draws, written as MIDI by `fugato sample`.
- `iml-audio`: stage 1 is a 1-D convolutional autoencoder (`fugato.nn.conv_autoencoder`) over
  100 ms periodic-Hann frames of 8 kHz audio with 50% overlap (80-d codes); the data are real
  tunes rendered by the project's synthesizer; a tune's frame codes form one sequence. Samples
  are HMM draws decoded frame by frame and put together by overlap-add, written as WAV.

Stage 2 (`on_train_end`, `SequenceBases`): the training codes are whitened (PCA; an affine map
whose log-determinant is added back, so every log-likelihood is per code in the encoder's own
code space), then a Gaussian HMM is fitted across each sequence and, as the i.i.d. baseline, a
full-covariance GMM on the same codes as independent draws. Evaluation compares their held-out
log-likelihoods and what their decoded draws sound or look like.

The HMM's emissions are diagonal or full by `net.hmm_covariance`. The melody configs use
"full": with diagonal emissions the HMM-vs-GMM comparison mixes two differences, the chain
across bars and the emission family, and on bar codes the second dominates (a quick run, 32
states/components, held-out nats per code: diagonal HMM -19.04, a refitted i.i.d. mixture of 32
diagonal Gaussians -19.53, full GMM -16.03: transitions +0.5, full covariances +3.5). With the
same full-covariance family on both sides the comparison measures what the transitions add.
The evaluation's "HMM without transitions" row is the fitted HMM's own emissions as an i.i.d.
mixture weighted by the chain's stationary distribution (`GaussianHMM.iid_log_likelihood`):
the same parameters with the chain removed, an exact ablation whatever the covariance kind.
The GMM row is the refitted counterpart (EM for i.i.d. codes; the same family as the HMM's
emissions when `components` = `states` and the HMM is full). The audio system keeps "diag"
(80-d codes, 64+ states) and its separately fitted diagonal-mixture row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch.nn import functional as F

from fugato.config import ExperimentConfig
from fugato.distributions.bases import COVARIANCES, GaussianHMM, GaussianMixture
from fugato.errors import FugatoError
from fugato.music.melody import Melody
from fugato.nn.measure_vae import MeasureVAE
from fugato.samples import Audio, write_samples
from fugato.train.task import Batch, Evaluator, Nets, Sampler, Step, Task, TensorData

if TYPE_CHECKING:
    from fugato.nn.conv_autoencoder import FrameAutoencoder

BASES = ("hmm", "gmm")


# -- stage 2, shared ---------------------------------------------------------------------------
class SequenceBases:
    """Whitening + a `GaussianHMM` across sequences + an i.i.d. `GaussianMixture`, on codes.

    `fit(sequences)` takes a list of (T_i, D) code arrays. Codes are whitened with the training
    codes' mean and PCA (w = (z - mean) @ proj, unit variance per principal axis) before either
    model sees them: with diagonal HMM emissions (`hmm_covariance="diag"`), on whitened codes
    the global correlations they cannot express are gone; full-covariance models (the GMM, the
    HMM with "full") are unaffected but for their floors (`min_var`, `reg_covar`, in whitened
    units). `log|det proj|` is added back to every log-density.
    """

    def __init__(self, states: int, components: int, min_var: float = 1e-3,
                 reg_covar: float = 1e-3, hmm_covariance: str = "diag") -> None:
        if hmm_covariance not in COVARIANCES:
            raise FugatoError(f"net.hmm_covariance: {hmm_covariance!r} is not one of "
                              f"{', '.join(COVARIANCES)}")
        self.states, self.components = states, components
        self.min_var, self.reg_covar = min_var, reg_covar
        self.hmm_covariance = hmm_covariance
        self.mean: np.ndarray | None = None
        self.proj: np.ndarray | None = None
        self.hmm: GaussianHMM | None = None
        self.gmm: GaussianMixture | None = None

    # -- whitening ---------------------------------------------------------------------------
    def _fit_whitening(self, codes: np.ndarray) -> None:
        self.mean = codes.mean(0)
        cov = np.cov(codes - self.mean, rowvar=False).reshape(codes.shape[1], -1)
        values, vectors = np.linalg.eigh(cov)
        # a direction the codes never use would get an infinite scale: floor it
        values = np.maximum(values, 1e-8 * max(values.max(), 1e-12))
        self.proj = vectors / np.sqrt(values)[None, :]

    def whiten(self, codes: np.ndarray) -> np.ndarray:
        """(..., D) codes -> (..., D) whitened codes (float64)."""
        assert self.mean is not None and self.proj is not None
        return (np.asarray(codes, dtype=np.float64) - self.mean) @ self.proj

    def unwhiten(self, white: np.ndarray) -> np.ndarray:
        """Inverse of `whiten`: (..., D) -> (..., D) codes."""
        assert self.mean is not None and self.proj is not None
        return np.asarray(white, dtype=np.float64) @ np.linalg.inv(self.proj) + self.mean

    @property
    def log_det(self) -> float:
        """log |det proj|: log p(code) = log p(whitened code) + log_det (nats)."""
        assert self.proj is not None
        return float(np.linalg.slogdet(self.proj)[1])

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, sequences: list[np.ndarray], seed: int = 0, hmm_iter: int = 50,
            gmm_iter: int = 100) -> dict[str, Any]:
        """Fit both models on a list of (T_i, D) code sequences; returns their EM histories
        (mean log-likelihood per code in whitened space) and fitting times in seconds."""
        codes = np.concatenate(sequences)
        self._fit_whitening(codes)
        white = [self.whiten(s) for s in sequences]
        generator = torch.Generator().manual_seed(seed)
        started = time.perf_counter()
        self.hmm = GaussianHMM(self.states, codes.shape[1], min_var=self.min_var,
                               covariance=self.hmm_covariance)
        hmm_history = self.hmm.fit(white, n_iter=hmm_iter, generator=generator)
        hmm_seconds = time.perf_counter() - started
        started = time.perf_counter()
        self.gmm = GaussianMixture(self.components, reg_covar=self.reg_covar, seed=seed)
        gmm_history = self.gmm.fit(np.concatenate(white), n_iter=gmm_iter, generator=generator)
        return {"hmm_history": hmm_history, "gmm_history": gmm_history,
                "hmm_seconds": hmm_seconds, "gmm_seconds": time.perf_counter() - started}

    def _require(self) -> tuple[GaussianHMM, GaussianMixture]:
        if self.hmm is None or self.gmm is None:
            raise FugatoError("this run has no fitted base distributions: it was stopped "
                              "before its end; resume it to the end")
        return self.hmm, self.gmm

    # -- densities and draws -----------------------------------------------------------------
    def log_likelihood_per_code(self, sequences: list[np.ndarray]) -> dict[str, float]:
        """Mean log-density per code (nats, code space) of held-out sequences (T_i, D) under
        the HMM (each sequence as a whole), the GMM (codes i.i.d.) and, as "hmm_iid", the
        HMM's own emissions with the codes i.i.d. (stationary state weights: the HMM without
        its transitions)."""
        hmm, gmm = self._require()
        white = [self.whiten(s) for s in sequences]
        total = sum(len(s) for s in sequences)
        return {"hmm": float(hmm.log_likelihood(white).sum()) / total + self.log_det,
                "gmm": float(gmm.log_likelihood(white).sum()) / total + self.log_det,
                "hmm_iid": float(hmm.iid_log_likelihood(white).sum()) / total
                + self.log_det}

    def diagonal_mixture_baseline(self, train: list[np.ndarray], test: list[np.ndarray],
                                  seed: int = 0, n_iter: int = 100) -> dict[str, float]:
        """Mean log-density per code (nats, code space) of train and test codes under an i.i.d.
        mixture with the HMM's own emission family: as many diagonal Gaussians as the HMM has
        states, same variance floor. HMM minus this isolates what the transitions add; the GMM
        minus this, what full covariances add. Fitted here (scikit-learn EM), not stored."""
        from sklearn.mixture import GaussianMixture as SkGMM

        x = self.whiten(np.concatenate(train))
        mix = SkGMM(self.states, covariance_type="diag", reg_covar=self.min_var,
                    max_iter=n_iter, random_state=seed).fit(x)
        return {"train": float(mix.score(x)) + self.log_det,
                "test": float(mix.score(self.whiten(np.concatenate(test)))) + self.log_det}

    def sample(self, base: str, n: int, length: int, generator: torch.Generator
               ) -> np.ndarray:
        """(n, length, D) codes: HMM sequences, or n x length independent GMM draws."""
        hmm, gmm = self._require()
        if base == "hmm":
            white = hmm.sample(n, length, generator)[0]
        elif base == "gmm":
            white = gmm.sample(n, length, generator)
        else:
            raise FugatoError(f"unknown base {base!r} (choose from {', '.join(BASES)})")
        return self.unwhiten(white.numpy())

    # -- checkpoint --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-safe parameters (empty before fitting)."""
        if self.hmm is None or self.gmm is None or self.mean is None or self.proj is None:
            return {}
        return {"mean": self.mean.tolist(), "proj": self.proj.tolist(),
                "hmm": {k: v.tolist() for k, v in self.hmm.state_dict().items()},
                "hmm_min_var": self.hmm.min_var, "gmm": self.gmm.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.mean, self.proj = np.asarray(state["mean"]), np.asarray(state["proj"])
        params = {k: torch.tensor(v, dtype=torch.float64) for k, v in state["hmm"].items()}
        # the covariance kind is in the keys (`covars` or `variances`): old runs load as diag
        self.hmm = GaussianHMM.from_state_dict(params, min_var=state["hmm_min_var"])
        self.hmm_covariance = self.hmm.covariance
        self.gmm = GaussianMixture.from_state(state["gmm"])


class _SequenceIML(Task):
    """What both systems share: the bases in the checkpoint, fitting them at the end."""

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, state)
        net = config.net
        self.bases = SequenceBases(net.states, net.components, net.min_var, net.reg_covar,
                                   net.hmm_covariance)
        self.bases.load_state((state or {}).get("bases", {}))
        self.fit_info: dict[str, Any] = dict((state or {}).get("fit_info", {}))
        self._train_sequences: list[np.ndarray] | None = None

    def encode_sequences(self, sequences: list[Any]) -> list[np.ndarray]:
        """Per sequence of inputs, its (T_i, D) float64 codes."""
        raise NotImplementedError

    def on_train_end(self, nets: Nets, train: TensorData) -> None:
        self.nets = nets
        assert self._train_sequences is not None, "build_data runs before training ends"
        net = self.config.net
        started = time.perf_counter()
        codes = self.encode_sequences(self._train_sequences)
        info = self.bases.fit(codes, self.config.train.seed, net.hmm_iter, net.gmm_iter)
        self.fit_info = {"train_sequences": len(codes),
                         "train_codes": int(sum(len(c) for c in codes)),
                         "hmm_final_loglik_white": info["hmm_history"][-1],
                         "gmm_final_loglik_white": info["gmm_history"][-1],
                         "hmm_iterations": len(info["hmm_history"]),
                         "gmm_iterations": len(info["gmm_history"]),
                         "hmm_seconds": round(info["hmm_seconds"], 2),
                         "gmm_seconds": round(info["gmm_seconds"], 2),
                         "stage2_seconds": round(time.perf_counter() - started, 2)}

    def task_state(self) -> dict[str, Any]:
        return {"bases": self.bases.state(), "fit_info": self.fit_info}


# -- melodies ----------------------------------------------------------------------------------
@dataclass
class MelodyDataConfig:
    corpora: list[str] = field(default_factory=lambda: ["oneills", "ryans"])
    """Corpora whose 4/4 tunes are pooled (split by tune)."""
    pitch_range: list[int] = field(default_factory=lambda: [55, 84])
    transpose: bool = True
    """Augment the autoencoder's training bars by every transposition keeping a tune in range
    (the bases are fitted on the tunes as written)."""
    split_seed: int = 0
    workers: int | None = None


@dataclass
class BasesConfig:
    """The [net] fields of the stage-2 bases, shared by both sequence tasks' NetConfigs."""

    states: int = 32
    """HMM states."""
    components: int = 32
    """GMM components (the i.i.d. baseline)."""
    hmm_iter: int = 50
    gmm_iter: int = 100
    min_var: float = 1e-3
    """HMM variance floor (full: eigenvalue floor), in whitened units."""
    reg_covar: float = 1e-3
    """GMM covariance floor, in whitened units."""
    hmm_covariance: str = "diag"
    """HMM emission covariances, "diag" or "full" (full costs ~D times more per frame; the
    melody configs use "full", the GMM's family, so HMM vs GMM measures the transitions; see
    the module docstring)."""


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


class BarAutoencoder(MeasureVAE):
    """The MeasureVAE nets as an autoencoder: with `deterministic`, training decodes the encoder
    mean itself (no sampled code), so the codes stage 2 sees are the ones decoded in training.
    `forward` returns what MeasureVAE's does (logits, mu, logvar, z)."""

    def __init__(self, *args: Any, deterministic: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deterministic = deterministic

    def forward(self, bars: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(bars)
        z = self.reparameterize(mu, logvar) if self.training and not self.deterministic else mu
        return self.decode_teacher(z, bars), mu, logvar, z


class IMLMelody(Sampler, Evaluator, _SequenceIML):
    """IML with an HMM across the codes of consecutive bars (see the module docstring)."""

    name = "iml-melody"
    DataConfig = MelodyDataConfig
    NetConfig = MelodyNetConfig
    SampleConfig = MelodySampleConfig

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        from fugato.music.encodings.measure import MeasureEncoding

        super().__init__(config, state)
        data: MelodyDataConfig = config.data
        self.encoding: MeasureEncoding = self.restore_encoding(
            state, lambda: MeasureEncoding(pitch_range=data.pitch_range))

    # -- data ----------------------------------------------------------------------------------
    def bar_sequences(self, split: str) -> list[np.ndarray]:
        """Runs of consecutive encodable 4/4 bars of each tune of `split`: a list of (T_i, 24)
        token arrays (a tune whose middle bar cannot be encoded gives two runs)."""
        from fugato.music.corpora import load_corpus
        from fugato.music.encodings.measure import BAR_TICKS

        data: MelodyDataConfig = self.config.data
        runs: list[np.ndarray] = []
        for name in data.corpora:
            corpus = load_corpus(name, workers=data.workers, seed=data.split_seed,
                                 progress=False)
            for melody in corpus.split(split):
                bars, _, starts = self.encoding.encode_bars(melody, return_starts=True)
                if len(bars):
                    cuts = np.flatnonzero(np.diff(starts) != BAR_TICKS) + 1
                    runs += np.split(bars, cuts)
        return runs

    def build_data(self) -> tuple[TensorData, TensorData]:
        train = self.bar_sequences("train")
        self._train_sequences = train
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

    def steps(self) -> list[Step]:
        return [Step("main", self._loss)]

    def saved_state(self) -> dict[str, Any]:
        return {"encoding": self.encoding.to_dict(), **self.task_state()}

    # -- codes ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, bars: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Encoder means of bars (N, 24) -> (N, z) float64."""
        vae = cast(BarAutoencoder, self.nets["autoencoder"])
        x = torch.as_tensor(np.asarray(bars), dtype=torch.long)
        out = [vae.encode(x[i:i + batch_size].to(self.device))[0].double().cpu()
               for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.config.net.z_dim))

    def encode_sequences(self, sequences: list[Any]) -> list[np.ndarray]:
        codes = self.encode(np.concatenate(sequences))
        return np.split(codes, np.cumsum([len(s) for s in sequences])[:-1])

    @torch.no_grad()
    def decode(self, codes: np.ndarray, seed: int = 0, batch_size: int = 2048) -> np.ndarray:
        """Codes (N, z) -> free-running decoded bars (N, 24) int64."""
        vae = cast(BarAutoencoder, self.nets["autoencoder"])
        z = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        t = self.config.sample.temperature
        out = [vae.decode_free(z[i:i + batch_size].to(self.device), t, generator).cpu()
               for i in range(0, len(z), batch_size)]
        return torch.cat(out).numpy()

    def to_melody(self, bars: np.ndarray, title: str) -> Any:
        """Bars (n, 24) -> one 4/4 `Melody` at the sampling tempo."""
        from fugato.music.melody import TimeSignature

        return self.encoding.decode(bars).replace(
            title=title, tempo=self.config.sample.tempo,
            time_signatures=[TimeSignature(0, 4, 4)])

    # -- sampling ------------------------------------------------------------------------------
    def sample_bars(self, n: int, seed: int = 0, base: str = "hmm") -> np.ndarray:
        """(n, bars, 24) tokens: decoded draws of `base` ("hmm" sequences or i.i.d. "gmm")."""
        length = self.config.sample.bars
        codes = self.bases.sample(base, n, length, torch.Generator().manual_seed(seed))
        return self.decode(codes.reshape(n * length, -1), seed).reshape(n, length, -1)

    generators = ("hmm", "gmm")

    def sample(self, n: int, seed: int | None = None, generator: str | None = None
               ) -> list[Melody]:
        """`n` melodies of `sample.bars` bars; `generator` picks the base ("hmm", default, or
        "gmm": bars drawn independently)."""
        base = str(self.pick_generator(generator and generator.lower()))
        bars = self.sample_bars(n, 0 if seed is None else seed, base)
        return [self.to_melody(b, f"fugato iml-melody {base} sample {i}")
                for i, b in enumerate(bars)]

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, run: Any, seed: int = 0) -> tuple[dict[str, Any], str]:
        """Held-out log-likelihood of test bar-code sequences (HMM vs GMM), bar-to-bar and
        whole-piece melody features of decoded draws against 16-bar test excerpts."""
        from fugato.metrics.mgeval import bar_transition_evaluation, relative_evaluation
        from fugato.plot import plot_melody_rows, plot_training_curves
        from fugato.report import markdown_table

        cfg: MelodySampleConfig = self.config.sample
        test = self.bar_sequences("test")
        codes = self.encode_sequences(test)
        loglik = self.bases.log_likelihood_per_code(codes)
        train_codes = self.encode_sequences(self.bar_sequences("train"))
        train_loglik = self.bases.log_likelihood_per_code(train_codes)
        flat = np.concatenate(test)
        recon = self.decode(np.concatenate(codes))
        events = flat != self.encoding.HOLD

        # references: the first `bars` bars of every test run that long, as written and as the
        # autoencoder reconstructs them (the best any base could do through this decoder)
        long = [r[: cfg.bars] for r in test if len(r) >= cfg.bars]
        if len(long) < 2:
            raise FugatoError(f"fewer than 2 test tunes have {cfg.bars} consecutive bars")
        reference = [self.to_melody(r, f"test {i}") for i, r in enumerate(long)]
        recon_long = self.decode(self.encode(np.concatenate(long))).reshape(len(long),
                                                                             cfg.bars, -1)
        sets = {"hmm": [self.to_melody(b, f"hmm {i}")
                        for i, b in enumerate(self.sample_bars(cfg.eval_samples, seed, "hmm"))],
                "gmm": [self.to_melody(b, f"gmm {i}")
                        for i, b in enumerate(self.sample_bars(cfg.eval_samples, seed, "gmm"))],
                "autoencoder": [self.to_melody(b, f"recon {i}")
                                for i, b in enumerate(recon_long)]}
        transitions = {k: bar_transition_evaluation(reference, v) for k, v in sets.items()}
        whole = {k: relative_evaluation(reference, v) for k, v in sets.items()}

        def mean_overlap(res: dict[str, dict[str, float]]) -> float:
            return float(np.mean([v["overlap"] for v in res.values()]))

        results: dict[str, Any] = {
            "model": self.name, "corpora": list(self.config.data.corpora), "step": run.step,
            "hmm_test_loglik_per_code": loglik["hmm"],
            "gmm_test_loglik_per_code": loglik["gmm"],
            "hmm_train_loglik_per_code": train_loglik["hmm"],
            "gmm_train_loglik_per_code": train_loglik["gmm"],
            "hmm_iid_test_loglik_per_code": loglik["hmm_iid"],
            "hmm_iid_train_loglik_per_code": train_loglik["hmm_iid"],
            "hmm_covariance": self.bases.hmm_covariance,
            "test_sequences": len(test), "test_codes": int(len(flat)),
            "recon_accuracy": float((recon == flat).mean()),
            "recon_accuracy_onsets": float((recon == flat)[events].mean()),
            "bar_transition_overlap": {k: mean_overlap(v) for k, v in transitions.items()},
            "mgeval_overlap": {k: mean_overlap(v) for k, v in whole.items()},
            "bar_transitions": transitions, "mgeval": whole,
            "reference_melodies": len(reference), "samples_per_base": cfg.eval_samples,
            "states": self.config.net.states, "components": self.config.net.components,
            "fit": self.fit_info,
        }

        plots = run.path / "plots"
        plot_training_curves(run.metrics(), plots / "training.png", ("loss", "accuracy"))
        plot_melody_rows({"test (as written)": reference[0], "HMM draw": sets["hmm"][0],
                          "GMM draws (i.i.d. bars)": sets["gmm"][0]}, plots / "melodies.png")
        self._write_examples(run.path / "samples", sets)
        net: MelodyNetConfig = self.config.net
        kind = self.bases.hmm_covariance
        ll_rows = [{"base": f"HMM ({net.states} states, {kind} covariance)",
                    "test log-lik per code": loglik["hmm"],
                    "train log-lik per code": train_loglik["hmm"]},
                   {"base": f"GMM ({net.components} components, full covariance, bars i.i.d.)",
                    "test log-lik per code": loglik["gmm"],
                    "train log-lik per code": train_loglik["gmm"]},
                   {"base": "the HMM without transitions: its emissions as an i.i.d. mixture, "
                            "stationary-distribution weights",
                    "test log-lik per code": loglik["hmm_iid"],
                    "train log-lik per code": train_loglik["hmm_iid"]}]
        tr_rows = [{"feature": f, "test mean": transitions["hmm"][f]["reference_mean"],
                    **{f"{k} mean": transitions[k][f]["generated_mean"] for k in sets},
                    **{f"{k} overlap": transitions[k][f]["overlap"] for k in sets}}
                   for f in transitions["hmm"]]
        tr_rows.append({"feature": "mean overlap",
                        **{f"{k} overlap": results["bar_transition_overlap"][k] for k in sets}})
        mg_rows = [{"feature": f, **{k: whole[k][f]["overlap"] for k in sets}}
                   for f in whole["hmm"]]
        report = "\n\n".join([
            f"# IML two-stage: melodies ({', '.join(self.config.data.corpora)}, step "
            f"{run.step})",
            f"Bar autoencoder (z = {self.config.net.z_dim}), then a {self.config.net.states}-"
            f"state {kind}-covariance HMM across the codes of consecutive bars and, as the i.i.d. "
            f"baseline, a {self.config.net.components}-component full-covariance GMM. "
            f"{len(test)} held-out runs of consecutive bars ({len(flat)} bars); "
            f"reconstruction accuracy {results['recon_accuracy']:.3f} of tokens, "
            f"{results['recon_accuracy_onsets']:.3f} of onsets.",
            "## Held-out log-likelihood (nats per bar code)\n\nHMM minus the last row: what "
            "the transitions add to the same emissions; HMM minus GMM: the HMM against a "
            "refitted i.i.d. mixture.", markdown_table(ll_rows),
            f"## Bar-to-bar transition features ({cfg.eval_samples} {cfg.bars}-bar melodies "
            f"per base against {len(reference)} {cfg.bars}-bar test excerpts)\n\n"
            "Overlap area of the test set's intra-set distances with the test-vs-generated "
            "distances (1 = indistinguishable). `autoencoder`: the test excerpts decoded from "
            "their own codes, the ceiling for any base through this decoder.",
            markdown_table(tr_rows),
            "## Whole-piece mgeval features (overlap)", markdown_table(mg_rows),
            "## Example melodies\n\n![melodies](plots/melodies.png)\n\nMIDI: `samples/`.",
            "## Training\n\n![training curves](plots/training.png)",
        ]) + "\n"
        return results, report

    def _write_examples(self, out: Path, sets: dict[str, list[Any]], n: int = 4) -> None:
        from fugato.music.io import write_midi

        for base in BASES:
            for i, melody in enumerate(sets[base][:n]):
                write_midi(melody, out / f"{base}-{i:03d}.mid")


# -- audio -------------------------------------------------------------------------------------
@dataclass
class AudioDataConfig:
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
    split_seed: int = 0
    workers: int | None = None


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


class IMLAudio(Sampler, Evaluator, _SequenceIML):
    """IML with an HMM across the codes of consecutive audio frames (see the module
    docstring)."""

    name = "iml-audio"
    DataConfig = AudioDataConfig
    NetConfig = AudioNetConfig
    SampleConfig = AudioSampleConfig

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, state)
        data: AudioDataConfig = config.data
        if data.frame % data.hop:
            raise FugatoError("data.frame must be a multiple of data.hop")
        self.scale: float | None = (state or {}).get("scale")
        """RMS of the training frames: frames are divided by it before the autoencoder."""

    # -- data ----------------------------------------------------------------------------------
    def tunes(self, split: str) -> list[np.ndarray]:
        """Rendered audio of the tunes of `split` until `{split}_seconds` is reached:
        a list of (N_i,) float32 signals in [-1, 1] at `data.sample_rate`."""
        from fugato.audio.synth import render
        from fugato.music.corpora import load_corpus

        data: AudioDataConfig = self.config.data
        seconds = {"train": data.train_seconds, "valid": data.valid_seconds,
                   "test": data.test_seconds}[split]
        corpus = load_corpus(data.corpus, workers=data.workers, seed=data.split_seed,
                             progress=False)
        out, total = [], 0
        for melody in corpus.split(split):
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
        self._train_sequences = train
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

    def steps(self) -> list[Step]:
        return [Step("main", self._loss)]

    def saved_state(self) -> dict[str, Any]:
        return {"scale": self.scale, **self.task_state()}

    # -- codes and audio -----------------------------------------------------------------------
    @torch.no_grad()
    def encode_sequences(self, sequences: list[Any], batch_size: int = 4096
                         ) -> list[np.ndarray]:
        """Per signal (N_i,), its (T_i, latent) float64 frame codes."""
        ae = cast("FrameAutoencoder", self.nets["autoencoder"])
        frames = [self.frames(a) for a in sequences]
        x = torch.from_numpy(np.concatenate(frames))
        codes = torch.cat([ae.encode(x[i:i + batch_size].to(self.device)).double().cpu()
                           for i in range(0, len(x), batch_size)]).numpy()
        return np.split(codes, np.cumsum([len(f) for f in frames])[:-1])

    @torch.no_grad()
    def decode_audio(self, codes: np.ndarray, length: int | None = None,
                     batch_size: int = 4096) -> np.ndarray:
        """Codes (..., T, latent) -> audio (..., N) by decoding every frame and overlap-add
        (window-normalised); `length` cuts the end."""
        from fugato.audio.frames import overlap_add

        assert self.scale is not None
        ae = cast("FrameAutoencoder", self.nets["autoencoder"])
        lead, latent = codes.shape[:-1], codes.shape[-1]
        z = torch.as_tensor(codes.reshape(-1, latent), dtype=torch.float32)
        frames = torch.cat([ae.decode(z[i:i + batch_size].to(self.device)).cpu()
                            for i in range(0, len(z), batch_size)]).numpy()
        frames = frames.reshape(*lead, -1).astype(np.float64) * self.scale
        return overlap_add(frames, self.config.data.hop, length)

    generators = ("hmm", "gmm")

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

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, run: Any, seed: int = 0) -> tuple[dict[str, Any], str]:
        """Reconstruction SNR on held-out rendered tunes, held-out log-likelihood of frame-code
        sequences (HMM vs GMM), generated WAVs (read back with soundfile) and spectrograms."""
        import soundfile

        from fugato.metrics.separation import snr_db
        from fugato.plot import plot_spectrograms, plot_training_curves
        from fugato.report import markdown_table

        data: AudioDataConfig = self.config.data
        cfg: AudioSampleConfig = self.config.sample
        if self.scale is None:
            raise FugatoError("this run has no audio scale: it was stopped before its end")
        test, train = self.tunes("test"), self.tunes("train")
        test_codes, train_codes = self.encode_sequences(test), self.encode_sequences(train)
        recon = [self.decode_audio(c, len(a)) for c, a in zip(test_codes, test, strict=True)]
        test_snr = snr_db(np.concatenate(test), np.concatenate(recon))
        per_tune = [snr_db(a, r) for a, r in zip(test, recon, strict=True)]
        train_snr = snr_db(np.concatenate(train[:3]), np.concatenate(
            [self.decode_audio(c, len(a)) for c, a in zip(train_codes, train[:3], strict=False)]))
        loglik = self.bases.log_likelihood_per_code(test_codes)
        train_loglik = self.bases.log_likelihood_per_code(train_codes)
        diag = self.bases.diagonal_mixture_baseline(train_codes, test_codes, seed)

        samples = run.path / "samples"
        clips = {b: self.sample_clips(cfg.eval_samples, seed, b) for b in BASES}
        wavs = {}
        for base, c in clips.items():
            written = write_samples(Audio(c, self.config.data.sample_rate), samples, prefix=base)
            paths = [p for p in written if p.suffix == ".wav"]
            # read back: the acceptance is that the files play
            wavs[base] = [{"file": str(p.relative_to(run.path)),
                           "seconds": soundfile.info(str(p)).duration,
                           "rms": float(np.sqrt(np.mean(soundfile.read(str(p))[0] ** 2)))}
                          for p in paths]
        excerpt = int(cfg.seconds * data.sample_rate)
        plots = run.path / "plots"
        plot_spectrograms({"training audio (rendered tune)": np.concatenate(train)[:excerpt],
                           "held-out tune": test[0][:excerpt],
                           "held-out tune, autoencoder reconstruction": recon[0][:excerpt],
                           "generated: HMM across frame codes": clips["hmm"][0],
                           "generated: i.i.d. GMM frame codes": clips["gmm"][0]},
                          plots / "spectrograms.png", data.sample_rate)
        plot_training_curves(run.metrics(), plots / "training.png", ("loss", "frame_snr_db"))

        results: dict[str, Any] = {
            "model": self.name, "step": run.step, "program": data.program,
            "sample_rate": data.sample_rate, "frame": data.frame, "hop": data.hop,
            "latent": self.config.net.latent,
            "test_recon_snr_db": test_snr,
            "test_recon_snr_db_per_tune": per_tune,
            "train_recon_snr_db": train_snr,
            "hmm_test_loglik_per_code": loglik["hmm"],
            "gmm_test_loglik_per_code": loglik["gmm"],
            "hmm_train_loglik_per_code": train_loglik["hmm"],
            "gmm_train_loglik_per_code": train_loglik["gmm"],
            "diag_mixture_test_loglik_per_code": diag["test"],
            "diag_mixture_train_loglik_per_code": diag["train"],
            "test_seconds": sum(len(a) for a in test) / data.sample_rate,
            "train_seconds": sum(len(a) for a in train) / data.sample_rate,
            "test_tunes": len(test), "train_tunes": len(train),
            "states": self.config.net.states, "components": self.config.net.components,
            "wavs": wavs, "fit": self.fit_info,
        }
        rows = [{"what": "reconstruction SNR, held-out tunes (dB)", "value": test_snr},
                {"what": "reconstruction SNR, training tunes (dB)", "value": train_snr},
                *({"what": f"{b.upper()} log-lik per frame code, {s}",
                   "value": (loglik if s == "test" else train_loglik)[b]}
                  for s in ("test", "train") for b in BASES),
                *({"what": f"i.i.d. diagonal mixture ({self.config.net.states} components, the "
                           f"HMM's emissions without transitions) log-lik per frame code, {s}",
                   "value": diag[s]} for s in ("test", "train"))]
        wav_rows = [{"base": b, **w} for b in BASES for w in wavs[b]]
        report = "\n\n".join([
            f"# IML two-stage: audio ({data.corpus} rendered with `{data.program}`, step "
            f"{run.step})",
            f"{data.sample_rate} Hz audio in {data.frame}-sample periodic-Hann frames, hop "
            f"{data.hop}; 1-D convolutional autoencoder with {self.config.net.latent}-d codes; "
            f"a {self.config.net.states}-state {self.bases.hmm_covariance}-covariance HMM "
            f"across frame codes vs a "
            f"{self.config.net.components}-component full-covariance GMM (frames i.i.d.). "
            f"Training audio {results['train_seconds']:.0f} s ({len(train)} tunes), held-out "
            f"{results['test_seconds']:.0f} s ({len(test)} tunes).",
            markdown_table(rows),
            "## Generated audio\n\n" + markdown_table(wav_rows),
            "## Spectrograms: training vs generated\n\n![spectrograms](plots/spectrograms.png)",
            "## Training\n\n![training curves](plots/training.png)",
        ]) + "\n"
        return results, report
