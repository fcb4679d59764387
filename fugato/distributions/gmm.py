"""A Gaussian mixture (scikit-learn's EM) behind the interface of `GaussianHMM`.

Frames are i.i.d. under it, so a sequence's log-likelihood is the sum over its frames and
`sample(n, length)` draws n x length independent frames. Besides the HMM's input forms
(`fugato.distributions.frames`) it takes (N, D) frames.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from fugato.distributions.frames import Sequences, check_covariance_type, frame_mask, pad_sequences


class GaussianMixture:
    """A Gaussian mixture with full (default) or diagonal component covariances.

    `reg_covar` is added to every covariance's diagonal at each M-step (scikit-learn's floor),
    in the data's units squared."""

    def __init__(self, n_components: int, reg_covar: float = 1e-6, seed: int = 0,
                 covariance_type: str = "full") -> None:
        from sklearn.mixture import GaussianMixture as SkGMM

        check_covariance_type(covariance_type)
        self.model = SkGMM(n_components, covariance_type=covariance_type, reg_covar=reg_covar,
                           random_state=seed, max_iter=1, warm_start=True)
        self.n_components = n_components
        self.covariance_type = covariance_type

    @staticmethod
    def _frames(x: Sequences, lengths: torch.Tensor | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """Real frames as (N, D) float64, and for sequences (B,) index of the owner of each."""
        if isinstance(x, torch.Tensor | np.ndarray) and np.ndim(x) == 2:
            return np.asarray(torch.as_tensor(x).detach().cpu(), dtype=np.float64), None
        padded, lengths = pad_sequences(x, lengths)
        mask = frame_mask(lengths, padded.shape[1]).T
        owner = torch.arange(len(padded))[:, None].expand_as(mask)[mask]
        return padded[mask].numpy(), owner.numpy()

    def fit(self, x: Sequences, n_iter: int = 100, lengths: torch.Tensor | None = None,
            generator: torch.Generator | None = None, tol: float = 1e-3,
            sklearn_stopping: bool = False) -> list[float]:
        """EM (k-means initialised); returns the mean log-likelihood per frame after each
        iteration, and stops when one changes it by less than `tol`. `sklearn_stopping`
        stops by scikit-learn's own test instead, on the log-likelihood before each M-step
        (one iteration later): the fit of `sklearn.mixture.GaussianMixture(max_iter=n_iter,
        tol=tol)`, exactly. `generator`, when given, seeds the initialisation."""
        from sklearn.exceptions import ConvergenceWarning

        frames, _ = self._frames(x, lengths)
        if generator is not None:
            self.model.random_state = int(torch.randint(2**31 - 1, (1,), generator=generator))
        self.model.warm_start, self.model.max_iter, self.model.tol = False, 1, tol
        history: list[float] = []
        with warnings.catch_warnings():
            # One sklearn iteration per call so the history is ours; it warns every time.
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(n_iter):
                self.model.fit(frames)
                self.model.warm_start = True
                history.append(float(self.model.score(frames)))
                if sklearn_stopping:  # warm-started, sklearn compares with its last call
                    if self.model.converged_:
                        break
                elif len(history) > 1 and abs(history[-1] - history[-2]) < tol:
                    break
        return history

    def log_likelihood(self, x: Sequences, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) per frame for (N, D) input, else (B,) per sequence (sum over real frames)."""
        frames, owner = self._frames(x, lengths)
        scores = torch.from_numpy(self.model.score_samples(frames))
        if owner is None:
            return scores
        return torch.zeros(int(owner.max()) + 1, dtype=scores.dtype).index_add_(
            0, torch.from_numpy(owner), scores)

    def mean_log_likelihood(self, x: Sequences, lengths: torch.Tensor | None = None) -> float:
        """Mean log-density per real frame (nats)."""
        return float(self.model.score(self._frames(x, lengths)[0]))

    def sample(self, n: int, length: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, D) frames, or (n, length, D) when `length` is given; seeded by `generator`."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        m = self.model
        total = n * (length or 1)
        comp = rng.choice(self.n_components, size=total, p=m.weights_)
        z = rng.standard_normal((total, m.means_.shape[1]))
        if self.covariance_type == "full":
            chol = np.linalg.cholesky(m.covariances_)  # (K, D, D)
            out = m.means_[comp] + np.einsum("nij,nj->ni", chol[comp], z)
        else:
            out = m.means_[comp] + np.sqrt(m.covariances_[comp]) * z
        out = torch.from_numpy(out)
        return out if length is None else out.reshape(n, length, -1)

    def saved_state(self) -> dict[str, Any]:
        """The fitted mixture as JSON-safe lists: `covariance_type`, `reg_covar`, `weights`
        (K,), `means` (K, D) and `covariances` ((K, D) variances for "diag", (K, D, D)
        matrices for "full"); `from_saved_state` rebuilds it."""
        m = self.model
        return {"covariance_type": self.covariance_type, "reg_covar": m.reg_covar,
                "weights": m.weights_.tolist(), "means": m.means_.tolist(),
                "covariances": m.covariances_.tolist()}

    @classmethod
    def from_saved_state(cls, saved: dict[str, Any]) -> GaussianMixture:
        """The mixture `saved_state()` described, ready to score and sample."""
        from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

        weights = np.asarray(saved["weights"])
        kind = saved["covariance_type"]
        gmm = cls(len(weights), reg_covar=saved["reg_covar"], covariance_type=kind)
        m = gmm.model
        m.weights_, m.means_ = weights, np.asarray(saved["means"])
        m.covariances_ = np.asarray(saved["covariances"])
        m.precisions_cholesky_ = _compute_precision_cholesky(m.covariances_, kind)
        m.precisions_ = (m.precisions_cholesky_ @ m.precisions_cholesky_.transpose(0, 2, 1)
                         if kind == "full" else m.precisions_cholesky_**2)
        m.converged_, m.n_iter_, m.lower_bound_ = True, 0, -np.inf
        m.n_features_in_ = m.means_.shape[1]
        return gmm
