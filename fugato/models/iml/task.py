"""IML two-stage model (Subakan, Koyejo, Smaragdis 2018) on MNIST digits, and its baselines.

Stage 1 (the trainer): an autoencoder, encoder 784 -> hidden -> K and decoder K -> hidden -> 784
(an MLP, or the invertible perceptron for an exact likelihood), trained on squared error. With
the invertible decoder the encoder is, as in the paper and its reference code, the decoder's
own pseudo-inverse (tied weights: the loss is |g(g^+(x)) - x|^2, `net.invertible_encoder`
"pinv"), so the codes the base is fitted on are the z the exact likelihood inverts digits to.
Stage 2 (`on_train_end`, when training ends): a base distribution fitted by
maximum likelihood on the encoder's codes of the training digits: a full-covariance GMM, or
the torch HMM (codes as length-1 sequences, i.e. a diagonal mixture; for sequence data the HMM
runs across frames). Its fitted parameters travel in the checkpoint. Sampling decodes draws.

The baselines of the paper's Fig. 3 share the decoder exactly (MLP K -> hidden -> 784, sigmoid
output) and differ only in how it is trained and what it decodes (`net.method`):

    "iml"   the two stages above; samples decode draws of the fitted base
    "vae"   a VAE (Bernoulli pixel likelihood, N(0, I) prior); samples decode prior draws
    "gan"   a non-saturating GAN with an MLP discriminator; samples decode N(0, I) draws
    "wgan"  a WGAN with gradient penalty (Gulrajani et al. 2017) rather than weight clipping:
            clipping needs RMSprop at lr 5e-5 and many thousands of generator steps before its
            samples leave the blob stage, while the penalty trains with Adam at ordinary rates,
            which is what a budget of minutes on a CPU allows

A sweep (`net.sweep_methods` x `net.sweep_latents`) trains every other (method, K) pair as a
sub-run `RUN/sub/<method>-K<k>/` (each a complete run folder, trained by the one Trainer) when
the run's own training ends, and `evaluate` (`fugato.models.iml.evaluate`) scores them all:
`kde[MODEL][K]` on the paper's scale, `kde_normalised[MODEL][K]` log S below it
(`fugato.metrics.kde_score`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from fugato.config import ExperimentConfig
from fugato.distributions.gmm import GaussianMixture
from fugato.distributions.hmm import GaussianHMM
from fugato.distributions.legacy import upgrade_saved_state
from fugato.errors import FugatoError
from fugato.nn.batched import batched
from fugato.report import Evaluation
from fugato.samples import Images
from fugato.train.task import Batch, Evaluator, Nets, Sampler, SeedsReport, Step, Task, TensorData

if TYPE_CHECKING:
    from fugato.train.run import Run

PIXELS = 784
METHODS = {"iml": "IML", "vae": "VAE", "gan": "GAN", "wgan": "WGAN"}
"""`net.method` -> the model's name in eval.json (`kde[NAME][K]`) and in plots."""
INVERTIBLE = "iml-invertible"
"""The sweep's extra variant: IML with the invertible perceptron decoder (`net.exact_loglik`)."""
NEIGHBOURS = 12
"""Samples per model shown beside their nearest training digit."""


@dataclass
class DataConfig:
    dataset: str = "mnist"
    n_test: int = 2000
    """Held-out digits (the KDE score's test set); the rest train, minus n_valid."""
    n_valid: int = 500
    split_seed: int = 0
    limit: int | None = None
    """Use only this many training digits (smoke tests)."""


@dataclass
class NetConfig:
    method: str = "iml"
    """"iml", or a baseline with the same decoder: "vae", "gan", "wgan" (see the module)."""
    latent: int = 20
    """K, the code size (the paper sweeps 20..140)."""
    hidden: int = 600
    decoder: str = "mlp"
    """"mlp" (ReLU, sigmoid output) or "invertible" (tailed tanh, tailed sigmoid; iml only)."""
    invertible_encoder: str = "pinv"
    """The encoder of the invertible decoder: "pinv" (the paper's and its reference code's: the
    decoder's pseudo-inverse g^+, tied weights, no encoder net; the base is fitted on g^+(x),
    the codes the exact likelihood scores) or "mlp" (fugato before: a separate MLP encoder
    trains the decoder and the base is fitted on its codes, while the exact likelihood still
    scores g^+(x), which land far from them). Runs saved before this field load as "mlp"."""
    base: str = "gmm"
    """"gmm" (scikit-learn, full covariance) or "hmm" (torch, diagonal emissions)."""
    components: int = 30
    base_iter: int = 100
    """EM iterations of the base distribution."""
    adversarial_lr: float = 2e-4
    """Adam learning rate of the GAN's and WGAN's two nets (train.lr trains IML and VAE)."""
    critic_rounds: int = 5
    """WGAN: critic updates per generator update (each on a fresh batch); the GAN uses 1."""
    gp_weight: float = 10.0
    """WGAN: weight of the gradient penalty E[(|grad D(x_hat)| - 1)^2]."""
    sweep_methods: list[str] = field(default_factory=list)
    """With `sweep_latents`: the (method, K) grid this run trains as sub-runs and scores."""
    sweep_latents: list[int] = field(default_factory=list)
    exact_loglik: bool = False
    """Sweep: also train IML with the invertible perceptron decoder at this run's K (sub-run
    `iml-invertible-K<k>`) and report its exact held-out log-likelihood, `test_loglik`."""
    exact_latents: list[int] = field(default_factory=list)
    """With `exact_loglik`: the K of the invertible IML sub-runs (the paper's Fig. 3 right:
    exact against base log-likelihood over K); empty: this run's K alone."""


@dataclass
class SampleConfig:
    eval_samples: int = 1000
    """Samples S per model that the KDE is built on; the paper's scale assumes 1000."""
    kde_sigma: float = 0.2
    """Kernel width on pixels in [0, 1]: the IML reference code's value (its paper's text
    writes N(x; sample, 0.1 I)); scores are comparable only at the same width."""


class IML(Sampler, Evaluator, SeedsReport, Task):
    name = "iml"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig
    SAVED_DEFAULTS = {"net": {"invertible_encoder": "mlp"}}
    """Invertible runs saved before `net.invertible_encoder` were trained with an MLP encoder
    (and have its weights)."""

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        net: NetConfig = config.net
        for method in (net.method, *net.sweep_methods):
            if method not in METHODS:
                raise FugatoError(f"net.method: unknown method {method!r} "
                                  f"({', '.join(METHODS)})")
        if net.base not in ("gmm", "hmm"):
            raise FugatoError(f"net.base: unknown base distribution {net.base!r} (gmm, hmm)")
        if net.decoder not in ("mlp", "invertible"):
            raise FugatoError(f"net.decoder: unknown decoder {net.decoder!r} (mlp, invertible)")
        if net.decoder == "invertible" and net.method != "iml":
            raise FugatoError("net.decoder: the invertible decoder is IML's (net.method 'iml')")
        if net.invertible_encoder not in ("pinv", "mlp"):
            raise FugatoError(f"net.invertible_encoder: unknown encoder "
                              f"{net.invertible_encoder!r} (pinv, mlp)")
        if bool(net.sweep_methods) != bool(net.sweep_latents):
            raise FugatoError("net.sweep_methods and net.sweep_latents: give both or neither")
        self.base: GaussianMixture | GaussianHMM | None = None
        self.finished = bool(saved and saved.get("finished"))
        if saved and saved.get("base"):
            self.base = self._base_from_saved(saved["base"])

    @property
    def method(self) -> str:
        return self.config.net.method

    @property
    def tied(self) -> bool:
        """Whether the encoder is the invertible decoder's pseudo-inverse (no encoder net)."""
        net: NetConfig = self.config.net
        return net.decoder == "invertible" and net.invertible_encoder == "pinv"

    # -- data ----------------------------------------------------------------------------------
    def splits(self) -> dict[str, torch.Tensor]:
        """Images (N, 784) in [0, 1] of the "train", "valid" and "test" splits."""
        from fugato.images import load_mnist, split_mnist

        data: DataConfig = self.config.data
        if data.dataset != "mnist":
            raise FugatoError(f"data.dataset: unknown dataset {data.dataset!r} (mnist)")
        images, labels = load_mnist()
        (train, _), (test, _) = split_mnist(images, labels, data.n_test, data.split_seed)
        valid, train = train[: data.n_valid], train[data.n_valid :]
        if data.limit:
            train = train[: data.limit]
        return {"train": train, "valid": valid, "test": test}

    def build_data(self) -> tuple[TensorData, TensorData]:
        parts = self.splits()
        return TensorData((parts["train"],)), TensorData((parts["valid"],))

    # -- model ---------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        """"decoder" (the generator of every method) plus "encoder" (iml: K outputs; vae: mean
        and log-variance, 2K) or "critic" (gan, wgan: one logit / score per image); the
        invertible decoder with its pseudo-inverse as encoder (`tied`) alone."""
        from fugato.nn.invertible import InvertiblePerceptron
        from fugato.nn.mlp import MLP

        net: NetConfig = self.config.net
        if net.decoder == "invertible":
            decoder: torch.nn.Module = InvertiblePerceptron([net.latent, net.hidden, PIXELS],
                                                            ["tanh", "sigmoid"])
        else:
            decoder = MLP([net.latent, net.hidden, PIXELS], "relu", output="sigmoid")
        if self.tied:
            return {"decoder": decoder}
        if self.method in ("gan", "wgan"):
            return {"critic": MLP([PIXELS, net.hidden, 1], "leaky_relu"), "decoder": decoder}
        codes = 2 * net.latent if self.method == "vae" else net.latent
        return {"encoder": MLP([PIXELS, net.hidden, codes], "relu"), "decoder": decoder}

    def optimizers(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        """IML, VAE: one AdamW ("main"). GAN, WGAN: one Adam per net, betas (0.5, 0.999) for the
        GAN (DCGAN's) and (0.5, 0.9) for the WGAN-GP (Gulrajani et al.'s)."""
        if self.method not in ("gan", "wgan"):
            return super().optimizers(nets)
        net: NetConfig = self.config.net
        betas = (0.5, 0.999) if self.method == "gan" else (0.5, 0.9)
        return {name: torch.optim.Adam(nets[name].parameters(), lr=net.adversarial_lr,
                                       betas=betas) for name in ("critic", "decoder")}

    def steps(self) -> list[Step]:
        if self.method == "iml":
            return [Step("main", self._autoencoder)]
        if self.method == "vae":
            return [Step("main", self._vae)]
        if self.method == "gan":
            return [Step("critic", self._discriminator), Step("decoder", self._generator)]
        # A generator update every `critic_rounds` steps; the critic sees a new batch each step.
        return [Step("critic", self._critic),
                Step("decoder", self._generator, every=self.config.net.critic_rounds)]

    def encoder(self, nets: Nets) -> Callable[[torch.Tensor], torch.Tensor]:
        """IML's encoder, digits (B, 784) -> codes (B, K): the "encoder" MLP, or (`tied`) the
        invertible decoder's pseudo-inverse `InvertiblePerceptron.encode` (differentiable:
        training goes through it)."""
        from fugato.nn.invertible import InvertiblePerceptron

        if not self.tied:
            return nets["encoder"]
        decoder = nets["decoder"]
        assert isinstance(decoder, InvertiblePerceptron)
        return decoder.encode

    def _noise(self, n: int, device: torch.device) -> torch.Tensor:
        """(n, K) draws of N(0, I): the latent prior of the VAE, GAN and WGAN."""
        return torch.randn(n, self.config.net.latent, device=device)

    def _autoencoder(self, nets: Nets, batch: Batch, step: int
                     ) -> tuple[torch.Tensor, dict[str, float]]:
        (x,) = batch
        recon = nets["decoder"](self.encoder(nets)(x))
        # Squared error summed over pixels, averaged over digits.
        loss = ((recon - x) ** 2).sum(-1).mean()
        return loss, {"loss": loss.item()}

    def _vae(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative ELBO per digit (nats): Bernoulli cross-entropy summed over pixels + KL."""
        (x,) = batch
        mean, log_var = nets["encoder"](x).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        recon = F.binary_cross_entropy(nets["decoder"](z), x, reduction="sum") / len(x)
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(-1).mean()
        loss = recon + kl
        return loss, {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    def _discriminator(self, nets: Nets, batch: Batch, step: int
                       ) -> tuple[torch.Tensor, dict[str, float]]:
        """Binary cross-entropy of real (label 1) against decoded noise (label 0)."""
        (x,) = batch
        real = nets["critic"](x)
        fake = nets["critic"](nets["decoder"](self._noise(len(x), x.device)).detach())
        loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        return loss, {"d_loss": loss.item()}

    def _critic(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """-(E D(real) - E D(fake)) + gp_weight * gradient penalty."""
        from fugato.losses.wasserstein import critic_loss, gradient_penalty

        (x,) = batch
        fake = nets["decoder"](self._noise(len(x), x.device)).detach()
        gap = critic_loss(nets["critic"](x), nets["critic"](fake))
        penalty = gradient_penalty(nets["critic"], x, fake)
        loss = gap + self.config.net.gp_weight * penalty
        return loss, {"wasserstein": -gap.item(), "penalty": penalty.item()}

    def _generator(self, nets: Nets, batch: Batch, step: int
                   ) -> tuple[torch.Tensor, dict[str, float]]:
        """GAN: non-saturating -log D(G(z)); WGAN: -E D(G(z))."""
        (x,) = batch
        scores = nets["critic"](nets["decoder"](self._noise(len(x), x.device)))
        if self.method == "gan":
            loss = F.binary_cross_entropy_with_logits(scores, torch.ones_like(scores))
        else:
            loss = -scores.mean()
        return loss, {"g_loss": loss.item()}

    @torch.no_grad()
    def validate(self, nets: Nets, batch: Batch) -> dict[str, float]:
        """"loss": IML's squared error, the VAE's negative ELBO, the GAN discriminator's
        cross-entropy, or the WGAN critic's Wasserstein estimate (the penalty needs gradients
        and is left out)."""
        if self.method == "iml":
            return self._autoencoder(nets, batch, 0)[1]
        if self.method == "vae":
            return self._vae(nets, batch, 0)[1]
        if self.method == "gan":
            return {"loss": self._discriminator(nets, batch, 0)[1]["d_loss"]}
        from fugato.losses.wasserstein import critic_loss

        (x,) = batch
        fake = nets["decoder"](self._noise(len(x), x.device))
        return {"loss": -float(critic_loss(nets["critic"](x), nets["critic"](fake)))}

    # -- stage 2: the base distribution --------------------------------------------------------
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, K) float64 codes of images (N, 784) (IML's encoder: the MLP, or the invertible
        decoder's pseudo-inverse when `tied`): what the base is fitted on and scores."""
        return batched(self.encoder(self.nets), images, device=self.device).double()

    def fit_base(self, codes: torch.Tensor) -> list[float]:
        """Fit the configured base distribution on codes (N, K); returns its EM history."""
        net: NetConfig = self.config.net
        generator = torch.Generator().manual_seed(self.config.train.seed)
        if net.base == "gmm":
            self.base = GaussianMixture(net.components, seed=self.config.train.seed)
            return self.base.fit(codes, n_iter=net.base_iter, generator=generator)
        self.base = GaussianHMM(net.components, codes.shape[-1])
        return self.base.fit(codes[:, None, :], n_iter=net.base_iter, generator=generator)

    def on_train_end(self, nets: Nets, train: TensorData) -> None:
        """IML fits its base on the training codes; every method marks itself finished; a
        sweep then trains its sub-runs. This run's last checkpoint is written after them, so a
        kill during the sweep is resumed by `fugato train --resume` (which redoes this run's
        steps since its previous checkpoint, then skips the finished sub-runs)."""
        self.nets = nets
        if self.method == "iml":
            self.fit_base(self.encode(train.tensors[0]))
        self.finished = True
        if self.sweep() and self.run_dir is not None:
            self.train_sweep(self.run_dir)

    @staticmethod
    def _base_from_saved(saved: dict[str, Any]) -> GaussianMixture | GaussianHMM:
        """The base of `saved_state()["base"]` (fugato 0.1.0's form too: its HMM used the
        default variance floor)."""
        params = upgrade_saved_state(saved["params"])
        if saved["kind"] == "gmm":
            return GaussianMixture.from_saved_state(params)
        return GaussianHMM.from_saved_state(params)

    def saved_state(self) -> dict[str, Any]:
        """Whether training reached its end, and the fitted base: its kind ("gmm", "hmm") and
        its `saved_state()`."""
        out: dict[str, Any] = {"finished": self.finished}
        if self.base is not None:
            kind = "gmm" if isinstance(self.base, GaussianMixture) else "hmm"
            out["base"] = {"kind": kind, "params": self.base.saved_state()}
        return out

    def base_log_likelihood(self, codes: torch.Tensor) -> torch.Tensor:
        """(N,) log-density of codes (N, K) under the base distribution (nats)."""
        assert self.base is not None
        if isinstance(self.base, GaussianHMM):
            return self.base.log_likelihood(codes[:, None, :].double())
        return self.base.log_likelihood(codes.double())

    # -- the sweep: other (method, K) pairs as sub-runs ----------------------------------------
    def sweep(self) -> list[tuple[str, int]]:
        """(variant, K) pairs this run scores: its own first, then the sweep grid, then
        (`net.exact_loglik`) the invertible IML at each of `net.exact_latents` (default: this
        run's K); empty: no sweep. A variant is a method or `INVERTIBLE`."""
        net: NetConfig = self.config.net
        grid = [(m, k) for m in net.sweep_methods for k in net.sweep_latents]
        if not grid:
            return []
        if net.exact_loglik and net.decoder != "invertible":
            grid += [(INVERTIBLE, k) for k in net.exact_latents or [net.latent]]
        own = (net.method, net.latent)
        return [own, *[pair for pair in grid if pair != own]]

    @staticmethod
    def sub_run_dir(run_dir: Path, variant: str, latent: int) -> Path:
        return run_dir / "sub" / f"{variant}-K{latent}"

    def sub_config(self, variant: str, latent: int) -> ExperimentConfig:
        """This run's config with another variant (a method or `INVERTIBLE`) and K, and no
        sweep of its own."""
        config = copy.deepcopy(self.config)
        net: NetConfig = config.net
        net.method = "iml" if variant == INVERTIBLE else variant
        net.decoder = "invertible" if variant == INVERTIBLE else "mlp"
        net.latent = latent
        net.sweep_methods, net.sweep_latents, net.exact_loglik = [], [], False
        net.exact_latents = []
        return config

    @staticmethod
    def is_finished(run_dir: Path) -> bool:
        """Whether the run folder holds a run that reached its end (`on_train_end` ran)."""
        from fugato.train.checkpoint import load_checkpoint, saved_state

        last = run_dir / "checkpoints" / "last.pt"
        return last.is_file() and bool((saved_state(load_checkpoint(last)) or {}).get("finished"))

    def train_sweep(self, run_dir: Path) -> None:
        """Train (or resume) every sub-run of the sweep that has not finished, one after the
        other in this process, each by the one Trainer in `sub_run_dir(run_dir, ...)`."""
        from tqdm.auto import tqdm

        from fugato.train.distributed import init_distributed
        from fugato.train.trainer import Trainer

        todo = [(v, k) for v, k in self.sweep()[1:]
                if not self.is_finished(self.sub_run_dir(run_dir, v, k))]
        if not todo:
            return
        if init_distributed(self.device).enabled:
            # Each nested Trainer would join and leave the process group under the outer one.
            raise FugatoError("a sweep (net.sweep_methods) trains its sub-runs in one process; "
                              "run it without torchrun")
        for variant, latent in tqdm(todo, desc="sweep", unit="run", disable=None):
            folder = self.sub_run_dir(run_dir, variant, latent)
            resume = (folder / "checkpoints" / "last.pt").is_file()
            Trainer(IML(self.sub_config(variant, latent)), folder, quiet=True).fit(resume=resume)
            if not self.is_finished(folder):  # stopped by a signal: stop the sweep too
                raise FugatoError(f"{folder}: stopped before its end; `fugato train --resume "
                                  f"--run-dir {run_dir}` finishes the sweep")

    # -- sampling ------------------------------------------------------------------------------
    def require_base(self) -> GaussianMixture | GaussianHMM:
        """The fitted base distribution; FugatoError for a run stopped before fitting it."""
        if self.base is None:
            raise FugatoError("this run has no fitted base distribution: it was stopped before "
                              "its end; resume it to the end")
        return self.base

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, generator: str | None = None) -> Images:
        """(n, 28, 28) digits in [0, 1]: decoded draws of the base distribution (IML) or of
        N(0, I) (VAE, GAN, WGAN)."""
        self.pick_generator(generator)
        return Images(self.sample_tensor(n, seed).numpy())

    @torch.no_grad()
    def sample_tensor(self, n: int, seed: int | None = None) -> torch.Tensor:
        """`sample` as a (n, 28, 28) tensor."""
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
        if self.method != "iml":
            codes = torch.randn(n, self.config.net.latent, generator=generator)
        elif isinstance(base := self.require_base(), GaussianHMM):
            codes = base.sample(n, 1, generator)[0][:, 0]
        else:
            codes = base.sample(n, generator=generator)
        decoder = self.nets["decoder"]
        images = decoder(codes.to(self.device, torch.float32)).clamp(0, 1)
        return images.reshape(n, 28, 28).cpu()

    # -- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def exact_test_loglik(self, images: torch.Tensor) -> dict[str, float]:
        """The exact log-likelihood of images (N, 784) under the invertible perceptron decoder
        and the base, and its parts, each a mean over the images: "test_loglik" (nats per
        digit) = "base_loglik" (base log-density of the pseudo-inverse code z = g^+(x), the
        paper's "base distribution likelihood") - "log_volume" (0.5 logdet J^T J at z; see
        `fugato.nn.invertible`); "code_norm", |z|."""
        from fugato.nn.invertible import InvertiblePerceptron

        decoder = self.nets["decoder"]
        assert isinstance(decoder, InvertiblePerceptron), "net.decoder is not 'invertible'"
        z, base, log_volume = decoder.log_likelihood_terms(
            images.to(self.device), lambda z: self.base_log_likelihood(z.cpu()).to(z))
        return {"test_loglik": float((base - log_volume).mean()),
                "base_loglik": float(base.mean()), "log_volume": float(log_volume.mean()),
                "code_norm": float(z.norm(dim=-1).mean())}

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Held-out KDE score of every (method, K) of the sweep (or of this run alone), the
        IML bases' held-out log-likelihoods, the Fig. 3 plot, nearest-neighbour grids
        (`fugato.models.iml.evaluate`)."""
        from fugato.models.iml.evaluate import evaluate

        return evaluate(self, run, seed)

    @staticmethod
    def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
        """The KDE table (models x K) as "mean ± sd" over seeds, from `compare_runs`' summary
        of eval.json paths `kde/MODEL/K` (`fugato.models.iml.evaluate.seeds_report`)."""
        from fugato.models.iml.evaluate import seeds_report

        return seeds_report(group, summary, runs)
