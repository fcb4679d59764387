"""The paper's Fig. 1 (Subakan et al. 2018, section 3.1): why the base distribution should be
learned, on a 2-D mixture of two Gaussians and an invertible affine map x = f(h) = W h + b
(W: (2, 2), b: (2,)), in seconds on a CPU (`fugato iml toy`).

    (a) maximum likelihood of the implicit model (Eq. 7) over W, b with the base fixed to
        N(0, I): log p(x) = log N(f^{-1}(x); 0, I) - log |det W|. A linear map of one Gaussian
        is one Gaussian: it spreads over both modes and the gap between them, and the mapped
        data f^{-1}(x) (two blobs) do not match the base's draws (one blob);
    (b) the same f, and a 2-component GMM fitted on f^{-1}(x) of the training points by EM
        (the two-stage algorithm's second stage): samples f(h), h ~ GMM, fall on both modes;
    (c) a GAN (non-saturating, MLP discriminator) training the same affine f from N(0, I):
        still one Gaussian, which cannot put its mass on both modes without the gap between
        them (the paper's GAN captured one mode; which this one does is in toy.json).

Every model here has an exact density (f is affine and invertible), so each is scored by the
held-out log-likelihood of the data (nats per point) and of the mapped data under its base,
and its samples by where they fall: the share within `MODE_RADIUS` standard deviations of
each true mode, and nearest-neighbour distances between samples and held-out points.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fugato.distributions.gmm import GaussianMixture

MEANS = ((-1.5, 2.0), (2.5, 0.0))
"""The two modes of the toy data (equal weights)."""
STD = 0.35
"""Each mode's standard deviation (isotropic), in the data's units."""
MODE_RADIUS = 3.0
"""A sample within this many STD of a mode's mean counts as on that mode."""
LOG_2PI = math.log(2 * math.pi)


@dataclass
class Affine:
    """x = f(h) = h W^T + b for h (N, 2), invertible while det W != 0."""

    weight: torch.Tensor
    """W (2, 2)."""
    bias: torch.Tensor
    """b (2,)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """x = f(h) (N, 2) of codes h (N, 2), in the data's units."""
        return h @ self.weight.T + self.bias

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """h = f^{-1}(x) (N, 2) of x (N, 2)."""
        return torch.linalg.solve(self.weight, (x - self.bias).T).T

    def log_det(self) -> torch.Tensor:
        """log |det W| (scalar): what f adds to the log-volume."""
        return torch.linalg.slogdet(self.weight).logabsdet


def toy_data(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 2) float64 draws of the two-Gaussian mixture (`MEANS`, `STD`, equal weights)."""
    means = torch.tensor(MEANS, dtype=torch.float64)
    which = torch.randint(len(MEANS), (n,), generator=generator)
    return means[which] + STD * torch.randn(n, 2, generator=generator, dtype=torch.float64)


def standard_normal_log_prob(h: torch.Tensor) -> torch.Tensor:
    """(N,) log N(h; 0, I) of h (N, 2), nats."""
    return -0.5 * (h**2).sum(-1) - LOG_2PI


def fit_flow(x: torch.Tensor) -> Affine:
    """Panel (a): the W, b maximising the mean log-likelihood (Eq. 7) of x (N, 2) under
    f(h), h ~ N(0, I). For an affine f the optimum is the Gaussian fit of x, in closed form:
    b = the mean, W = the Cholesky factor of the covariance (W W^T = covariance; any W with
    that product has the same likelihood), so no gradient steps are needed."""
    weight = torch.linalg.cholesky(torch.cov(x.T, correction=0))
    return Affine(weight, x.mean(0))


def train_gan(x: torch.Tensor, steps: int = 600, batch: int = 256, hidden: int = 64,
              lr: float = 1e-3) -> Affine:
    """Panel (c): the affine f trained as a GAN generator from N(0, I) against an MLP
    discriminator (2 -> hidden -> hidden -> 1, leaky ReLU; non-saturating loss, Adam with
    DCGAN's betas), on minibatches of x (N, 2). Draws from torch's global generator."""
    weight = nn.Parameter(torch.eye(2, dtype=x.dtype))
    bias = nn.Parameter(torch.zeros(2, dtype=x.dtype))
    critic = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                           nn.LeakyReLU(0.2), nn.Linear(hidden, 1)).to(x.dtype)
    opt_g = torch.optim.Adam([weight, bias], lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    flow = Affine(weight, bias)
    for _ in range(steps):
        real = x[torch.randint(len(x), (batch,))]
        fake = flow.forward(torch.randn(batch, 2, dtype=x.dtype))
        d_real, d_fake = critic(real), critic(fake.detach())
        d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_out = critic(fake)
        g_loss = bce(g_out, torch.ones_like(g_out))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    return Affine(weight.detach(), bias.detach())


def sample_scores(samples: torch.Tensor, test: torch.Tensor) -> dict[str, Any]:
    """Where samples (S, 2) fall against held-out points (N, 2): "modes", the share of
    samples within MODE_RADIUS * STD of each true mode; "off_mode", the share on neither;
    "sample_to_data" and "data_to_sample", the mean distance (data units) from each sample to
    its nearest held-out point (large: samples where there is no data) and from each held-out
    point to its nearest sample (large: data the samples miss, e.g. a dropped mode)."""
    means = torch.tensor(MEANS, dtype=samples.dtype)
    near = torch.cdist(samples, means) <= MODE_RADIUS * STD  # (S, modes)
    distances = torch.cdist(samples, test)
    shares = [float(near[:, m].double().mean()) for m in range(len(MEANS))]
    return {"modes": shares, "off_mode": float((~near.any(-1)).double().mean()),
            "sample_to_data": float(distances.min(1).values.mean()),
            "data_to_sample": float(distances.min(0).values.mean())}


def score_model(flow: Affine, base: GaussianMixture | None, test: torch.Tensor, n: int,
                generator: torch.Generator) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
    """(scores, n samples (n, 2), n base draws (n, 2)) of x = f(h) with h from `base` (a
    fitted GMM) or N(0, I) (None). Scores: "test_loglik", the mean log-density of the
    held-out points test (N, 2) (nats per point) = "code_loglik", that of their codes
    f^{-1}(x) under the base, - log |det W|; and `sample_scores`."""
    codes = flow.inverse(test)
    if base is None:
        code_loglik = standard_normal_log_prob(codes)
        draws = torch.randn(n, 2, generator=generator, dtype=test.dtype)
    else:
        code_loglik = base.log_likelihood(codes)
        draws = base.sample(n, generator=generator).to(test.dtype)
    samples = flow.forward(draws)
    scores = {"code_loglik": float(code_loglik.mean()),
              "test_loglik": float(code_loglik.mean() - flow.log_det()),
              **sample_scores(samples, test)}
    return scores, samples, draws


def run_toy(n_train: int = 2000, n_test: int = 2000, seed: int = 0,
            gan_steps: int = 600) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit the three models of Fig. 1 and score them on held-out points: (results for
    toy.json, per panel (a, b, c) the arrays the figure draws). Seeded throughout (torch's
    global generator is restored on return)."""
    generator = torch.Generator().manual_seed(seed)
    train, test = toy_data(n_train, generator), toy_data(n_test, generator)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        flow = fit_flow(train)
        gmm = GaussianMixture(len(MEANS), seed=seed)
        gmm.fit(flow.inverse(train), n_iter=50, generator=generator)
        gan = train_gan(train, steps=gan_steps)
    results: dict[str, Any] = {"settings": {
        "n_train": n_train, "n_test": n_test, "seed": seed, "means": MEANS, "std": STD,
        "mode_radius_std": MODE_RADIUS, "gan_steps": gan_steps}}
    panels: dict[str, Any] = {}
    gaussian = _gaussian_loglik(train, test)
    for key, name, f, base in (("a", "fixed N(0, I) base, ML map", flow, None),
                               ("b", "learned GMM base, same map", flow, gmm),
                               ("c", "GAN, fixed N(0, I) base", gan, None)):
        scores, samples, draws = score_model(f, base, test, n_test, generator)
        results[key] = {"name": name, **scores}
        panels[key] = {"name": name, "data": test, "samples": samples,
                       "codes": f.inverse(test), "draws": draws}
    results["gaussian_fit_test_loglik"] = gaussian
    return results, panels


def _gaussian_loglik(train: torch.Tensor, test: torch.Tensor) -> float:
    """Mean log-density (nats per point) of test (N, 2) under the maximum-likelihood Gaussian
    of train (M, 2): the closed form panel (a)'s fit should reach."""
    mean = train.mean(0)
    cov = torch.cov(train.T, correction=0)
    dist = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
    return float(dist.log_prob(test).mean())


def write_toy(out: Path, seed: int = 0, gan_steps: int = 600) -> tuple[Path, Path]:
    """`run_toy`, then out/fig1_toy.png (`plot_toy`) and out/toy.json; returns both paths."""
    from fugato.atomic import atomic_path

    results, panels = run_toy(seed=seed, gan_steps=gan_steps)
    out.mkdir(parents=True, exist_ok=True)
    png, js = out / "fig1_toy.png", out / "toy.json"
    plot_toy(panels, png)
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(results, indent=1) + "\n")
    return png, js


def plot_toy(panels: dict[str, Any], path: Path, shown: int = 500) -> None:
    """The paper's Fig. 1 layout: one row per panel (a, b, c); left, `shown` samples over
    held-out data in data space; right, base draws over the mapped data f^{-1}(x)."""
    from fugato.plot import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(7.5, 3.3 * len(panels)), squeeze=False,
                             layout="constrained")
    data = np.asarray(next(iter(panels.values()))["data"])
    low, high = data.min(0) - 1.5, data.max(0) + 1.5  # one data-space view for every row
    for row, (key, panel) in zip(axes, panels.items(), strict=True):
        row[0].set_xlim(low[0], high[0])
        row[0].set_ylim(low[1], high[1])
        pairs = ((row[0], panel["data"], panel["samples"], "x: data and samples",
                  ("held-out data", "samples f(h)")),
                 (row[1], panel["codes"], panel["draws"], "h: f^-1(data) and base draws",
                  ("f^-1(held-out data)", "base draws h")))
        for ax, observed, drawn, title, labels in pairs:
            observed, drawn = np.asarray(observed[:shown]), np.asarray(drawn[:shown])
            ax.scatter(observed[:, 0], observed[:, 1], s=4, alpha=0.5, label=labels[0])
            ax.scatter(drawn[:, 0], drawn[:, 1], s=4, alpha=0.5, label=labels[1])
            ax.set_title(f"({key}) {panel['name']}\n{title}", fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_aspect("equal", adjustable="box" if ax is row[0] else "datalim")
            ax.legend(fontsize=6, markerscale=2, loc="best")
    save_figure(fig, path)
