"""IML two-stage model (Subakan, Koyejo, Smaragdis 2018) on MNIST digits.

Stage 1 (the trainer): an autoencoder, encoder 784 -> hidden -> K and decoder K -> hidden -> 784
(an MLP, or the invertible perceptron for an exact likelihood), trained on squared error.
Stage 2 (`on_train_end`, when training ends): a base distribution fitted by
maximum likelihood on the encoder's codes of the training digits: a full-covariance GMM, or
the torch HMM (codes as length-1 sequences, i.e. a diagonal mixture; for sequence data the HMM
runs across frames). Its fitted parameters travel in the checkpoint. Sampling decodes draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.models.bases import GaussianHMM, GaussianMixture
from fugato.train.task import Batch, Nets, Step, Task, TensorData

PIXELS = 784


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
    latent: int = 20
    """K, the code size (the paper sweeps 20..140)."""
    hidden: int = 600
    decoder: str = "mlp"
    """"mlp" (ReLU, sigmoid output) or "invertible" (tailed tanh, tailed sigmoid)."""
    base: str = "gmm"
    """"gmm" (scikit-learn, full covariance) or "hmm" (torch, diagonal emissions)."""
    components: int = 30
    base_iter: int = 100
    """EM iterations of the base distribution."""


@dataclass
class SampleConfig:
    eval_samples: int = 1000
    kde_sigma: float = 0.2


class IML(Task):
    name = "iml"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig

    def __init__(self, config: ExperimentConfig, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, state)
        net: NetConfig = config.net
        if net.base not in ("gmm", "hmm"):
            raise FugatoError(f"net.base: unknown base distribution {net.base!r} (gmm, hmm)")
        if net.decoder not in ("mlp", "invertible"):
            raise FugatoError(f"net.decoder: unknown decoder {net.decoder!r} (mlp, invertible)")
        self.base: GaussianMixture | GaussianHMM | None = None
        if state and state.get("base"):
            self.base = self._base_from_state(state["base"])

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
        from fugato.nn.invertible import InvertiblePerceptron
        from fugato.nn.mlp import MLP

        net: NetConfig = self.config.net
        encoder = MLP([PIXELS, net.hidden, net.latent], "relu")
        if net.decoder == "invertible":
            decoder: torch.nn.Module = InvertiblePerceptron([net.latent, net.hidden, PIXELS],
                                                            ["tanh", "sigmoid"])
        else:
            decoder = MLP([net.latent, net.hidden, PIXELS], "relu", output="sigmoid")
        return {"encoder": encoder, "decoder": decoder}

    def _loss(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        (x,) = batch
        recon = nets["decoder"](nets["encoder"](x))
        # Squared error summed over pixels, averaged over digits.
        loss = ((recon - x) ** 2).sum(-1).mean()
        return loss, {"loss": loss.item()}

    def steps(self) -> list[Step]:
        return [Step("main", self._loss)]

    # -- stage 2: the base distribution --------------------------------------------------------
    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(N, K) float64 codes of images (N, 784)."""
        encoder = self.nets["encoder"]
        out = [encoder(images[i : i + batch_size].to(self.device)).double().cpu()
               for i in range(0, len(images), batch_size)]
        return torch.cat(out)

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
        self.nets = nets
        self.fit_base(self.encode(train.tensors[0]))

    def _base_from_state(self, state: dict[str, Any]) -> GaussianMixture | GaussianHMM:
        if state["kind"] == "gmm":
            return GaussianMixture.from_state(state["params"])
        params = {k: torch.tensor(v, dtype=torch.float64) for k, v in state["params"].items()}
        hmm = GaussianHMM(*params["means"].shape)
        hmm.load_state_dict(params)
        return hmm

    def state_dict(self) -> dict[str, Any]:
        if self.base is None:
            return {}
        if isinstance(self.base, GaussianMixture):
            return {"base": {"kind": "gmm", "params": self.base.state()}}
        params = {k: v.tolist() for k, v in self.base.state_dict().items()}
        return {"base": {"kind": "hmm", "params": params}}

    def base_log_likelihood(self, codes: torch.Tensor) -> torch.Tensor:
        """(N,) log-density of codes (N, K) under the base distribution (nats)."""
        assert self.base is not None
        if isinstance(self.base, GaussianHMM):
            return self.base.log_likelihood(codes[:, None, :].double())
        return self.base.log_likelihood(codes.double())

    # -- sampling ------------------------------------------------------------------------------
    def _require_base(self) -> GaussianMixture | GaussianHMM:
        if self.base is None:
            raise FugatoError("this run has no fitted base distribution: it was stopped before "
                              "its end; resume it to the end")
        return self.base

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """(n, 28, 28) digits in [0, 1]: decoded draws of the base distribution."""
        base = self._require_base()
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
        if isinstance(base, GaussianHMM):
            codes = base.sample(n, 1, generator)[0][:, 0]
        else:
            codes = base.sample(n, generator=generator)
        decoder = self.nets["decoder"]
        images = decoder(codes.to(self.device, torch.float32)).clamp(0, 1)
        return images.reshape(n, 28, 28).cpu()

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, run: Any, seed: int = 0) -> tuple[dict[str, Any], str]:
        """Held-out KDE score of decoded samples and the base's held-out log-likelihood."""
        from fugato.metrics import kde_score
        from fugato.report import markdown_table, plot_image_grid, plot_training_curves

        cfg: SampleConfig = self.config.sample
        net: NetConfig = self.config.net
        self._require_base()
        test = self.splits()["test"]
        samples = self.sample(cfg.eval_samples, seed=seed).reshape(cfg.eval_samples, -1)
        codes = self.encode(test)
        results: dict[str, Any] = {
            "model": self.name,
            "kde": {"IML": {str(net.latent): kde_score(test, samples, cfg.kde_sigma)}},
            "kde_sigma": cfg.kde_sigma,
            "samples": cfg.eval_samples,
            "test_digits": len(test),
            f"{net.base}_test_loglik_per_code": float(self.base_log_likelihood(codes).mean()),
        }
        if net.decoder == "invertible":
            decoder = self.nets["decoder"]
            with torch.no_grad():
                loglik = decoder.log_likelihood(test.to(self.device),
                                                lambda z: self.base_log_likelihood(z.cpu()).to(z))
            results["test_loglik"] = float(loglik.mean())
        rows = [{"what": k, "value": v} for k, v in results.items()
                if isinstance(v, float)]
        rows.insert(0, {"what": f"KDE score (sigma {cfg.kde_sigma}), K = {net.latent}",
                        "value": results["kde"]["IML"][str(net.latent)]})
        plots = run.path / "plots"
        plot_training_curves(run.metrics(), plots / "training.png")
        shown = samples[:50].reshape(-1, 28, 28).numpy()
        plot_image_grid(shown, plots / "samples.png", title="decoded base draws")
        report = "\n\n".join([
            "# IML two-stage: MNIST",
            f"{cfg.eval_samples} decoded draws of the {net.base.upper()} base "
            f"({net.components} components) against {len(test)} held-out digits.",
            markdown_table(rows),
            "## Samples\n\n![samples](plots/samples.png)",
            "## Training\n\n![training curves](plots/training.png)",
        ]) + "\n"
        return results, report
