"""IML two-stage on sequences (Subakan, Koyejo, Smaragdis 2018): an HMM across latent codes.

Two systems share one stage 2: `iml-melody` (`fugato.models.iml.melody`: the codes of
consecutive bars of a tune form one sequence) and `iml-audio` (`fugato.models.iml.audio`: the
codes of a rendered tune's audio frames). Their common base class `SequenceIML` holds the
bases, fits them when training ends and saves them in the checkpoint.

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fugato.config import ExperimentConfig
from fugato.distributions.frames import COVARIANCE_TYPES
from fugato.distributions.gmm import GaussianMixture
from fugato.distributions.hmm import GaussianHMM
from fugato.distributions.legacy import upgrade_saved_state
from fugato.errors import FugatoError
from fugato.train.task import Batch, Nets, Step, Task, TensorData

BASES = ("hmm", "gmm")


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


class SequenceBases:
    """Whitening + a `GaussianHMM` across sequences + an i.i.d. `GaussianMixture`, on codes.

    `fit(sequences)` takes a list of (T_i, D) code arrays. Codes are whitened with the training
    codes' mean and PCA (w = (z - mean) @ proj, unit variance per principal axis) before either
    model sees them: with diagonal HMM emissions (`hmm_covariance="diag"`), on whitened codes
    the global correlations they cannot express are gone; full-covariance models (the GMM, the
    HMM with "full") are unaffected but for their floors (`min_var`, `reg_covar`, in whitened
    units). `log|det proj|` is added back to every log-density. `saved` is what
    `saved_state()` returned (the fitted bases; empty or None: not fitted).
    """

    def __init__(self, states: int, components: int, min_var: float = 1e-3,
                 reg_covar: float = 1e-3, hmm_covariance: str = "diag",
                 saved: dict[str, Any] | None = None) -> None:
        if hmm_covariance not in COVARIANCE_TYPES:
            raise FugatoError(f"net.hmm_covariance: {hmm_covariance!r} is not one of "
                              f"{', '.join(COVARIANCE_TYPES)}")
        self.states, self.components = states, components
        self.min_var, self.reg_covar = min_var, reg_covar
        self.hmm_covariance = hmm_covariance
        self.mean: np.ndarray | None = None
        self.proj: np.ndarray | None = None
        self.hmm: GaussianHMM | None = None
        self.gmm: GaussianMixture | None = None
        if saved:
            self._load(saved)

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
                               covariance_type=self.hmm_covariance)
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
        minus this, what full covariances add. Fitted here (scikit-learn's EM and its
        stopping rule), not stored."""
        x = self.whiten(np.concatenate(train))
        mix = GaussianMixture(self.states, reg_covar=self.min_var, seed=seed,
                              covariance_type="diag")
        mix.fit(x, n_iter=n_iter, sklearn_stopping=True)
        test_codes = self.whiten(np.concatenate(test))
        return {"train": mix.mean_log_likelihood(x) + self.log_det,
                "test": mix.mean_log_likelihood(test_codes) + self.log_det}

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
    def saved_state(self) -> dict[str, Any]:
        """JSON-safe parameters: the whitening's `mean` and `proj`, and the `saved_state()` of
        the HMM and of the GMM (empty before fitting)."""
        if self.hmm is None or self.gmm is None or self.mean is None or self.proj is None:
            return {}
        return {"mean": self.mean.tolist(), "proj": self.proj.tolist(),
                "hmm": self.hmm.saved_state(), "gmm": self.gmm.saved_state()}

    def _load(self, saved: dict[str, Any]) -> None:
        self.mean, self.proj = np.asarray(saved["mean"]), np.asarray(saved["proj"])
        # fugato 0.1.0 kept the HMM's variance floor beside its parameters, as "hmm_min_var"
        hmm = upgrade_saved_state(saved["hmm"], saved.get("hmm_min_var", self.min_var))
        self.hmm = GaussianHMM.from_saved_state(hmm)
        self.hmm_covariance = self.hmm.covariance_type
        self.gmm = GaussianMixture.from_saved_state(upgrade_saved_state(saved["gmm"]))


class SequenceIML(Task):
    """What both sequence systems share: their bases in the checkpoint, fitting them when
    training ends, one update (`_loss`) per batch.

    A subclass's `build_data` keeps the training sequences (inputs, one per tune) in
    `train_sequences`; `encode_sequences` turns such sequences into code sequences."""

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        net = config.net
        self.bases = SequenceBases(net.states, net.components, net.min_var, net.reg_covar,
                                   net.hmm_covariance, (saved or {}).get("bases"))
        self.fit_info: dict[str, Any] = dict((saved or {}).get("fit_info", {}))
        self.train_sequences: list[Any] | None = None

    def encode_sequences(self, sequences: list[Any]) -> list[np.ndarray]:
        """Per sequence of inputs, its (T_i, D) float64 codes."""
        raise NotImplementedError

    def _loss(self, nets: Nets, batch: Batch, step: int) -> tuple[torch.Tensor,
                                                                   dict[str, float]]:
        """The first stage's training loss on one batch, and its logs."""
        raise NotImplementedError

    def steps(self) -> list[Step]:
        return [Step("main", self._loss)]

    def on_train_end(self, nets: Nets, train: TensorData) -> None:
        self.nets = nets
        assert self.train_sequences is not None, "build_data runs before training ends"
        net = self.config.net
        started = time.perf_counter()
        codes = self.encode_sequences(self.train_sequences)
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

    def saved_state(self) -> dict[str, Any]:
        return {"bases": self.bases.saved_state(), "fit_info": self.fit_info}
