"""Entropic Gromov-Wasserstein: the same value and gradient as POT's
`entropic_gromov_wasserstein2` on the same inputs, finite in float32, and small between a
cloud and an isometric copy of it."""

import warnings

import pytest
import torch

from fugato.losses.gromov_wasserstein import (
    EPSILON,
    OUTER_ITERATIONS,
    SINKHORN_ITERATIONS,
    entropic_gw,
    entropic_gw_plan,
    gromov_wasserstein_loss,
    normalised_cityblock,
)

ot = pytest.importorskip("ot")


def pot_value(c1: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """POT with our settings; tol and stopThr 0 so that it runs every iteration, as we do
    (it would otherwise check for convergence every 10th and might stop early)."""
    p = torch.full((len(c1),), 1.0 / len(c1), dtype=c1.dtype)
    q = torch.full((len(c2),), 1.0 / len(c2), dtype=c2.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Sinkhorn did not converge" after 30 iterations
        return ot.gromov.entropic_gromov_wasserstein2(
            c1, c2, p, q, "square_loss", epsilon=EPSILON, max_iter=OUTER_ITERATIONS, tol=0.0,
            numItermax=SINKHORN_ITERATIONS, stopThr=0.0)


@pytest.mark.parametrize(("n", "m"), [(16, 16), (64, 64), (12, 20)])
def test_value_and_gradient_equal_pot(n: int, m: int) -> None:
    torch.manual_seed(n + m)
    x = torch.randn(n, 53, dtype=torch.float64, requires_grad=True)
    y = torch.randn(m, 147, dtype=torch.float64, requires_grad=True)
    ours = gromov_wasserstein_loss(x, y)
    ours_grad = torch.autograd.grad(ours, (x, y))
    theirs = pot_value(normalised_cityblock(x), normalised_cityblock(y))
    theirs_grad = torch.autograd.grad(theirs, (x, y))  # autograd through POT's iterations
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-4)
    for a, b in zip(ours_grad, theirs_grad, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6 * b.abs().max().item())


def test_hand_written_backward_matches_finite_differences() -> None:
    torch.manual_seed(0)
    c1 = normalised_cityblock(torch.randn(6, 3, dtype=torch.float64)).requires_grad_()
    c2 = normalised_cityblock(torch.randn(5, 2, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: entropic_gw_plan(a, b, 0.2, 3, 4), (c1, c2))
    assert torch.autograd.gradcheck(entropic_gw, (c1, c2))


def test_float32_is_finite_for_large_embeddings_and_the_gradient_flows() -> None:
    torch.manual_seed(1)
    # raw L1 distances of these are in the thousands: unnormalised, exp(-cost / 0.2) underflows
    x = (1000 * torch.randn(64, 53)).requires_grad_()
    y = (1000 * torch.randn(64, 147)).requires_grad_()
    value = gromov_wasserstein_loss(x, y)
    value.backward()
    assert torch.isfinite(value)
    for grad in (x.grad, y.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    plan = entropic_gw_plan(normalised_cityblock(x.detach()), normalised_cityblock(y.detach()))
    torch.testing.assert_close(plan.sum(dim=1), torch.full((64,), 1 / 64))  # exact row sums
    assert plan.sum().item() == pytest.approx(1.0, abs=1e-4)


def test_an_isometric_copy_is_closer_than_a_random_cloud() -> None:
    torch.manual_seed(2)
    x = torch.randn(48, 6)
    # an L1 isometry: permute the points and the coordinates, flip signs, translate
    copy = x[torch.randperm(48)][:, torch.randperm(6)] * torch.tensor([1, -1, 1, 1, -1, 1])
    copy = copy + 3.0
    other = torch.randn(48, 6)
    assert gromov_wasserstein_loss(x, copy).item() == pytest.approx(
        gromov_wasserstein_loss(x, x).item(), rel=1e-5)
    # At epsilon 0.2 the plan of max-normalised distances stays near p q^T and the two values
    # differ by 0.2% only (0.0517 and 0.0519 in float64); with less blur the copy is matched
    same = gromov_wasserstein_loss(x, copy, epsilon=0.005).item()
    different = gromov_wasserstein_loss(x, other, epsilon=0.005).item()
    assert same < 0.1 * different


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="square"):
        entropic_gw(torch.zeros(3, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        normalised_cityblock(torch.zeros(3))
