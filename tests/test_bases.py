"""Base distributions of the IML model: torch Gaussian HMM (cross-checked with hmmlearn) and the
scikit-learn Gaussian mixture behind the same interface; their one saved-state form, and the
form fugato 0.1.0 saved them in."""

import json
from typing import Any

import numpy as np
import pytest
import torch

from fugato.distributions.gmm import GaussianMixture
from fugato.distributions.hmm import GaussianHMM
from fugato.distributions.legacy import upgrade_saved_state


def random_hmm(states: int = 4, dim: int = 3, seed: int = 0, sticky: float = 0.0,
               dtype: torch.dtype = torch.float64) -> GaussianHMM:
    g = torch.Generator().manual_seed(seed)
    hmm = GaussianHMM(states, dim, dtype=dtype)
    hmm.startprob.copy_(torch.softmax(torch.randn(states, generator=g), 0))
    hmm.transmat.copy_(torch.softmax(2 * torch.randn(states, states, generator=g)
                                     + sticky * torch.eye(states), 1))
    hmm.means.copy_(3 * torch.randn(states, dim, generator=g))
    hmm.variances.copy_(torch.rand(states, dim, generator=g) + 0.2)
    return hmm


def reference(hmm: GaussianHMM) -> Any:
    hmmlearn = pytest.importorskip("hmmlearn.hmm", reason="hmmlearn is a dev extra")
    ref = hmmlearn.GaussianHMM(hmm.n_states, "diag")
    ref.startprob_, ref.transmat_ = hmm.startprob.numpy(), hmm.transmat.numpy()
    ref.means_, ref.covars_ = hmm.means.numpy(), hmm.variances.numpy()
    return ref


def test_log_likelihood_matches_hmmlearn_with_variable_lengths() -> None:
    hmm = random_hmm()
    x, _ = hmm.sample(3, 60, torch.Generator().manual_seed(1))
    seqs = [x[0, :17], x[1], x[2, :1]]
    ours = hmm.log_likelihood(seqs)
    ref = reference(hmm)
    expected = np.array([ref.score(s.numpy()) for s in seqs])
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4)
    # Padded input with lengths gives the same numbers as the list.
    padded = torch.zeros(3, 60, 3, dtype=torch.float64)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    again = hmm.log_likelihood(padded, torch.tensor([17, 60, 1]))
    torch.testing.assert_close(again, ours)


def test_peaked_emissions_stay_finite_in_float32() -> None:
    """Means 100 standard deviations apart: plain scaled probabilities underflow in float32.

    The emission terms expand the square, so float32 loses about 1e-7 of x^2 / var per frame
    (here x^2 / var ~ 2e5): the comparison allows that, the point is finiteness."""
    hmm = random_hmm(dtype=torch.float32)
    hmm.means.mul_(30)
    hmm.variances.fill_(0.05)
    x, _ = hmm.sample(2, 50, torch.Generator().manual_seed(0))
    ll32 = hmm.log_likelihood(x)
    hmm64 = GaussianHMM(4, 3)
    hmm64.load_state_dict({k: v.double() for k, v in hmm.state_dict().items()})
    assert torch.isfinite(ll32).all()
    torch.testing.assert_close(ll32.double(), hmm64.log_likelihood(x.double()), rtol=2e-2,
                               atol=0)


def test_em_increases_likelihood_monotonically_and_matches_hmmlearn_step() -> None:
    truth = random_hmm(sticky=3.0)
    x, _ = truth.sample(8, 80, torch.Generator().manual_seed(2))
    model = GaussianHMM(4, 3)
    history = model.fit(x, n_iter=15, generator=torch.Generator().manual_seed(3))
    gains = np.diff(history)
    assert (gains >= -1e-9).all(), gains
    assert history[-1] > history[0] + 0.1

    # One of our EM steps equals one of hmmlearn's (no priors there: zero-weight ones).
    hmmlearn = pytest.importorskip("hmmlearn.hmm", reason="hmmlearn is a dev extra")
    start = random_hmm(seed=5)
    ref = hmmlearn.GaussianHMM(4, "diag", n_iter=1, init_params="", params="stmc",
                               covars_prior=0, covars_weight=0, min_covar=1e-3,
                               implementation="scaling")
    ref.startprob_, ref.transmat_ = start.startprob.numpy(), start.transmat.numpy()
    ref.means_, ref.covars_ = start.means.numpy(), start.variances.numpy()
    ref.fit(x.reshape(-1, 3).numpy(), [80] * 8)
    start.em_step(x, torch.full((8,), 80))
    np.testing.assert_allclose(start.transmat.numpy(), ref.transmat_, atol=1e-6)
    np.testing.assert_allclose(start.means.numpy(), ref.means_, atol=1e-6)
    np.testing.assert_allclose(start.variances.numpy(), np.diagonal(ref.covars_, axis1=1,
                                                                    axis2=2), atol=1e-6)


@pytest.mark.parametrize("n, length", [(1, 20000), (400, 50)])
def test_sampling_statistics_match_parameters(n: int, length: int) -> None:
    hmm = random_hmm(states=3, dim=2, sticky=1.0)
    x, states = hmm.sample(n, length, torch.Generator().manual_seed(4))
    assert x.shape == (n, length, 2) and states.shape == (n, length)
    s = states.reshape(-1)
    # Empirical transition matrix (pairs within sequences) against the parameters.
    pairs = torch.stack([states[:, :-1].reshape(-1), states[:, 1:].reshape(-1)])
    counts = torch.zeros(3, 3, dtype=torch.float64).index_put_(
        tuple(pairs), torch.ones(pairs.shape[1], dtype=torch.float64), accumulate=True)
    empirical = counts / counts.sum(1, keepdim=True)
    torch.testing.assert_close(empirical, hmm.transmat, atol=0.03, rtol=0)
    frames = x.reshape(-1, 2)
    for k in range(3):
        sel = frames[s == k]
        torch.testing.assert_close(sel.mean(0), hmm.means[k], atol=0.06, rtol=0)
        torch.testing.assert_close(sel.var(0), hmm.variances[k], atol=0.0, rtol=0.1)
    if n > 1:  # first states follow startprob
        first = torch.bincount(states[:, 0], minlength=3).double() / n
        torch.testing.assert_close(first, hmm.startprob, atol=0.08, rtol=0)
    # Same generator seed, same draws.
    again, _ = hmm.sample(n, length, torch.Generator().manual_seed(4))
    torch.testing.assert_close(again, x)


def test_gmm_interface_matches_sklearn_and_round_trips() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [5.0, 5.0]], dtype=torch.float64)
    frames = centres[torch.randint(2, (600,), generator=g)]
    frames = frames + torch.randn(600, 2, generator=g, dtype=torch.float64)
    gmm = GaussianMixture(2, seed=0)
    history = gmm.fit(frames, n_iter=50)
    assert history[-1] >= history[0]
    per_frame = gmm.log_likelihood(frames)
    np.testing.assert_allclose(per_frame.numpy(), gmm.model.score_samples(frames.numpy()))
    # Sequences: frames i.i.d., so a sequence's log-likelihood is the sum over its real frames.
    seqs = [frames[:10], frames[10:13]]
    torch.testing.assert_close(gmm.log_likelihood(seqs),
                               torch.stack([per_frame[:10].sum(), per_frame[10:13].sum()]))
    draws = gmm.sample(4000, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (4000, 2)
    torch.testing.assert_close(draws.mean(0), frames.mean(0), atol=0.25, rtol=0)
    drawn = gmm.sample(3, 5, torch.Generator().manual_seed(2))
    assert drawn.shape == (3, 5, 2)
    torch.testing.assert_close(gmm.sample(3, 5, torch.Generator().manual_seed(2)), drawn)
    copy = GaussianMixture.from_saved_state(json.loads(json.dumps(gmm.saved_state())))
    assert copy.covariance_type == "full"
    torch.testing.assert_close(copy.log_likelihood(frames), per_frame)
    torch.testing.assert_close(copy.sample(3, 5, torch.Generator().manual_seed(2)), drawn)


def two_blobs(n: int = 600) -> np.ndarray:
    """(n, 2) frames of two Gaussian blobs with unequal, axis-aligned spreads."""
    rng = np.random.default_rng(0)
    half = n // 2
    return np.concatenate([rng.standard_normal((half, 2)) * [0.5, 2.0],
                           rng.standard_normal((n - half, 2)) * [1.5, 0.3] + 12.0])


def test_diagonal_gmm_with_sklearn_stopping_is_sklearns_own_fit() -> None:
    from sklearn.mixture import GaussianMixture as SkGMM

    frames = two_blobs()
    ref = SkGMM(3, covariance_type="diag", reg_covar=1e-3, max_iter=100, random_state=0)
    ref.fit(frames)
    gmm = GaussianMixture(3, reg_covar=1e-3, seed=0, covariance_type="diag")
    history = gmm.fit(frames, n_iter=100, sklearn_stopping=True)
    assert len(history) == ref.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(gmm.model, name), getattr(ref, name))
    assert gmm.mean_log_likelihood(frames) == ref.score(frames)
    # our own stopping rule tests the change after each M-step: one iteration sooner
    ours = GaussianMixture(3, reg_covar=1e-3, seed=0, covariance_type="diag")
    assert len(ours.fit(frames, n_iter=100)) == ref.n_iter_ - 1


def test_diagonal_gmm_samples_its_variances_and_round_trips() -> None:
    gmm = GaussianMixture(2, seed=0, covariance_type="diag")
    gmm.fit(two_blobs(), n_iter=50)
    assert gmm.model.covariances_.shape == (2, 2)
    draws = gmm.sample(20000, generator=torch.Generator().manual_seed(0)).numpy()
    low = draws[:, 0] < 6.0
    blob = int(np.argmin(gmm.model.means_[:, 0]))
    np.testing.assert_allclose(draws[low].var(0), gmm.model.covariances_[blob], rtol=0.05)
    copy = GaussianMixture.from_saved_state(json.loads(json.dumps(gmm.saved_state())))
    assert copy.covariance_type == "diag"
    frames = torch.from_numpy(two_blobs())
    torch.testing.assert_close(copy.log_likelihood(frames), gmm.log_likelihood(frames))
    with pytest.raises(ValueError):
        GaussianMixture(2, covariance_type="tied")


# -- full-covariance emissions -------------------------------------------------------------------
def random_full_hmm(states: int = 4, dim: int = 3, seed: int = 0, sticky: float = 0.0,
                    correlation: float = 1.0) -> GaussianHMM:
    """Random parameters with correlated emissions: cov = c A A^T + 0.2 I, A standard normal."""
    g = torch.Generator().manual_seed(seed)
    hmm = GaussianHMM(states, dim, covariance_type="full")
    hmm.startprob.copy_(torch.softmax(torch.randn(states, generator=g), 0))
    hmm.transmat.copy_(torch.softmax(2 * torch.randn(states, states, generator=g)
                                     + sticky * torch.eye(states), 1))
    hmm.means.copy_(3 * torch.randn(states, dim, generator=g))
    a = torch.randn(states, dim, dim, generator=g, dtype=torch.float64)
    hmm.covars.copy_(correlation * a @ a.mT + 0.2 * torch.eye(dim, dtype=torch.float64))
    return hmm


def full_reference(hmm: GaussianHMM, **kwargs: Any) -> Any:
    hmmlearn = pytest.importorskip("hmmlearn.hmm", reason="hmmlearn is a dev extra")
    ref = hmmlearn.GaussianHMM(hmm.n_states, "full", **kwargs)
    ref.startprob_, ref.transmat_ = hmm.startprob.numpy(), hmm.transmat.numpy()
    ref.means_, ref.covars_ = hmm.means.numpy(), hmm.covars.numpy()
    return ref


def test_full_log_likelihood_matches_hmmlearn_and_chunking(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    hmm = random_full_hmm()
    x, _ = hmm.sample(3, 60, torch.Generator().manual_seed(1))
    seqs = [x[0, :17], x[1], x[2, :1]]
    ours = hmm.log_likelihood(seqs)
    expected = np.array([full_reference(hmm).score(s.numpy()) for s in seqs])
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4)
    padded = torch.zeros(3, 60, 3, dtype=torch.float64)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    torch.testing.assert_close(hmm.log_likelihood(padded, torch.tensor([17, 60, 1])), ours)
    # Frames go through in chunks sized by memory: 7 frames a chunk gives the same numbers.
    import fugato.distributions.hmm as hmm_module

    monkeypatch.setattr(hmm_module, "_CHUNK_ELEMENTS", 7 * hmm.n_states * hmm.dim)
    torch.testing.assert_close(hmm.log_likelihood(seqs), ours)
    # A full model with diagonal covariances is the diagonal model.
    diag = random_hmm()
    as_full = GaussianHMM(4, 3, covariance_type="full")
    as_full.load_state_dict({"startprob": diag.startprob, "transmat": diag.transmat,
                             "means": diag.means, "covars": torch.diag_embed(diag.variances)})
    torch.testing.assert_close(as_full.log_likelihood(seqs), diag.log_likelihood(seqs))


def test_full_em_step_matches_hmmlearn_and_increases_likelihood() -> None:
    truth = random_full_hmm(sticky=3.0)
    x, _ = truth.sample(8, 80, torch.Generator().manual_seed(2))
    start = random_full_hmm(seed=5)
    # hmmlearn's full M-step has no floor: with zero-weight priors and covariances far above
    # min_var ours is the same unconstrained maximiser.
    ref = full_reference(start, n_iter=1, init_params="", params="stmc", covars_prior=0,
                         covars_weight=0, implementation="scaling")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration never "converges"
        ref.fit(x.reshape(-1, 3).numpy(), [80] * 8)
    start.em_step(x, torch.full((8,), 80))
    np.testing.assert_allclose(start.transmat.numpy(), ref.transmat_, atol=1e-6)
    np.testing.assert_allclose(start.means.numpy(), ref.means_, atol=1e-6)
    np.testing.assert_allclose(start.covars.numpy(), ref.covars_, atol=1e-6)

    model = GaussianHMM(4, 3, covariance_type="full")
    history = model.fit(x, n_iter=15, generator=torch.Generator().manual_seed(3))
    assert (np.diff(history) >= -1e-9).all(), np.diff(history)
    assert history[-1] > history[0] + 0.1


def test_eigenvalue_floor_is_applied_and_keeps_em_monotone() -> None:
    # Frames on a line in 2-d: the scatter is singular, the floor must make it invertible.
    t = torch.linspace(-1, 1, 200, dtype=torch.float64)
    x = torch.stack([t, 2 * t], -1).reshape(4, 50, 2)
    model = GaussianHMM(2, 2, covariance_type="full", min_var=1e-2)
    history = model.fit(x, n_iter=10, generator=torch.Generator().manual_seed(0))
    assert np.isfinite(history).all() and (np.diff(history) >= -1e-9).all()
    smallest = torch.linalg.eigvalsh(model.covars)[:, 0]
    torch.testing.assert_close(smallest, torch.full((2,), 1e-2, dtype=torch.float64))


def test_full_fit_beats_diagonal_fit_on_correlated_emissions() -> None:
    """Data from a sticky HMM whose emissions are strongly correlated (cov = 4 A A^T + 0.2 I in
    4-d): the diagonal model cannot express the correlations with 3 states, the full one can."""
    truth = random_full_hmm(states=3, dim=4, seed=7, sticky=3.0, correlation=4.0)
    train, _ = truth.sample(30, 60, torch.Generator().manual_seed(0))
    test, _ = truth.sample(30, 60, torch.Generator().manual_seed(1))
    frames = 30 * 60
    scores = {}
    for kind in ("diag", "full"):
        model = GaussianHMM(3, 4, covariance_type=kind)
        model.fit(train, n_iter=40, generator=torch.Generator().manual_seed(2))
        scores[kind] = float(model.log_likelihood(test).sum()) / frames
    best = float(truth.log_likelihood(test).sum()) / frames
    assert scores["full"] > scores["diag"] + 0.5, scores
    # and comes within 0.1 nats a frame of the true parameters (EM stops in a local optimum
    # 0.03 below the truth on the training frames here, whatever the seed; diag is 0.75 below)
    assert scores["full"] > best - 0.1, (scores, best)


def test_full_sampling_shapes_seeds_and_covariances() -> None:
    hmm = random_full_hmm(states=3, dim=2, sticky=1.0)
    x, states = hmm.sample(200, 100, torch.Generator().manual_seed(4))
    assert x.shape == (200, 100, 2) and states.shape == (200, 100)
    assert x.dtype == torch.float64 and states.dtype == torch.int64
    frames, s = x.reshape(-1, 2), states.reshape(-1)
    for k in range(3):
        sel = frames[s == k]
        cov = torch.cov(sel.T)
        torch.testing.assert_close(sel.mean(0), hmm.means[k], atol=0.1, rtol=0)
        torch.testing.assert_close(cov, hmm.covars[k], atol=0.1 * float(cov.abs().max()),
                                   rtol=0)
    again, again_states = hmm.sample(200, 100, torch.Generator().manual_seed(4))
    torch.testing.assert_close(again, x)
    assert torch.equal(again_states, states)
    other, _ = hmm.sample(200, 100, torch.Generator().manual_seed(5))
    assert not torch.allclose(other, x)
    one, _ = hmm.sample(1, 30, torch.Generator().manual_seed(4))
    assert one.shape == (1, 30, 2)


def test_saved_state_round_trip_keeps_the_covariance_kind_and_floor() -> None:
    for hmm in (random_hmm(), random_full_hmm()):
        hmm.min_var = 0.02
        x, _ = hmm.sample(2, 20, torch.Generator().manual_seed(0))
        copy = GaussianHMM.from_saved_state(json.loads(json.dumps(hmm.saved_state())))
        assert copy.covariance_type == hmm.covariance_type and copy.min_var == 0.02
        assert copy.saved_state() == hmm.saved_state()
        torch.testing.assert_close(copy.log_likelihood(x), hmm.log_likelihood(x))
        torch.testing.assert_close(copy.covariance_matrices(), hmm.covariance_matrices())
    with pytest.raises(ValueError):
        GaussianHMM(2, 2, covariance_type="tied")


def test_states_saved_by_fugato_0_1_0_load_as_the_same_models() -> None:
    for hmm in (random_hmm(), random_full_hmm()):
        # 0.1.0: the HMM's state_dict() as lists, its floor kept apart by the task
        old = json.loads(json.dumps({k: v.tolist() for k, v in hmm.state_dict().items()}))
        hmm.min_var = 0.05
        assert upgrade_saved_state(old, min_var=0.05) == hmm.saved_state()
    gmm = GaussianMixture(2, seed=0)
    gmm.fit(two_blobs(), n_iter=20)
    new = gmm.saved_state()
    # 0.1.0: the GMM's state(), always full covariances, no covariance type
    old = {k: new[k] for k in ("weights", "means", "covariances", "reg_covar")}
    assert upgrade_saved_state(old) == new
    # today's states pass through unchanged
    assert upgrade_saved_state(new) is new
    assert upgrade_saved_state(hmm.saved_state()) == hmm.saved_state()


@pytest.mark.parametrize("kind", ["diag", "full"])
def test_iid_log_likelihood_is_the_hmm_without_transitions(kind: str) -> None:
    hmm = random_full_hmm(sticky=2.0) if kind == "full" else random_hmm(sticky=2.0)
    pi = hmm.stationary_distribution()
    torch.testing.assert_close(pi @ hmm.transmat, pi)
    x, _ = hmm.sample(3, 40, torch.Generator().manual_seed(0))
    iid = hmm.iid_log_likelihood(x)
    manual = torch.logsumexp(hmm.emission_log_prob(x) + torch.log(pi), -1).sum(-1)
    torch.testing.assert_close(iid, manual)
    # A chain whose every row (and start) is pi has no memory: the HMM is that mixture.
    hmm.transmat.copy_(pi.expand_as(hmm.transmat))
    hmm.startprob.copy_(pi)
    torch.testing.assert_close(hmm.log_likelihood(x), iid)
