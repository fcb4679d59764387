"""Invertible perceptron: tailed activations, pseudo-inverse layers, exact log-likelihood."""

import math

import pytest
import torch

from fugato.nn.invertible import InvertiblePerceptron, TailedSigmoid, TailedTanh


@pytest.mark.parametrize("act", [TailedTanh(), TailedSigmoid()])
def test_tailed_activations_invert_and_have_continuous_slope(act: torch.nn.Module) -> None:
    a = torch.linspace(-40, 40, 2001, dtype=torch.float64, requires_grad=True)
    y = act(a)
    torch.testing.assert_close(act.inverse(y.detach()), a.detach())
    (slope,) = torch.autograd.grad(y.sum(), a)
    assert (slope >= 0.01 - 1e-12).all()  # a bijection of the real line
    torch.testing.assert_close(slope.log(), act.log_derivative(a.detach()))
    # First derivative continuous at the joints: left and right slopes agree at +-a0 / +-a1.
    joint = act.a0 if isinstance(act, TailedTanh) else act.a1
    for x0 in (joint, -joint):
        eps = 1e-6
        pts = torch.tensor([x0 - eps, x0, x0 + eps], dtype=torch.float64)
        v = act(pts)
        left, right = (v[1] - v[0]) / eps, (v[2] - v[1]) / eps
        assert abs(left - right) < 1e-4 and abs(left - 0.01) < 1e-4


def standard_normal(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


@pytest.mark.parametrize("sizes, acts", [([3, 3, 3], ["tanh", "sigmoid"]),
                                         ([2, 4, 5], ["tanh", "linear"])])
def test_log_likelihood_equals_autograd_change_of_variables(sizes: list[int],
                                                            acts: list[str]) -> None:
    torch.manual_seed(0)
    net = InvertiblePerceptron(sizes, acts).double()
    z = 1.5 * torch.randn(6, sizes[0], dtype=torch.float64)  # some points land on the tails
    x = net(z).detach()
    ours = net.log_likelihood(x, standard_normal)

    recovered, _ = net.inverse(x)
    torch.testing.assert_close(recovered, z)
    expected = []
    for zi in z:
        jac = torch.autograd.functional.jacobian(net, zi)  # (D, K)
        # log p(x) = log p(z) - 0.5 logdet(J^T J)  (= - log|det J| for a square J)
        expected.append(standard_normal(zi) - 0.5 * torch.linalg.slogdet(jac.T @ jac).logabsdet)
    torch.testing.assert_close(ours.detach(), torch.stack(expected))
    if net.square:  # the layerwise (paper's) terms are the exact change of variables
        layerwise = net.log_likelihood(x, standard_normal, exact=False)
        torch.testing.assert_close(layerwise.detach(), torch.stack(expected))


def explicit_pseudo_inverse(net: InvertiblePerceptron, x: torch.Tensor) -> torch.Tensor:
    """z of x layer by layer from the top with torch's own pseudo-inverse (SVD)."""
    for layer in reversed(net.layers):
        a = layer.act.inverse(x) if layer.act else x
        x = (a - layer.linear.bias) @ torch.linalg.pinv(layer.linear.weight).T
    return x


def test_encode_is_the_differentiable_pseudo_inverse() -> None:
    """IML's tied encoder: the least-squares preimage of points off the decoder's image, with
    the gradients (in the data and in every weight) of the explicit pseudo-inverse."""
    torch.manual_seed(0)
    net = InvertiblePerceptron([2, 5, 7], ["tanh", "sigmoid"]).double()
    x = 0.05 + 0.9 * torch.rand(4, 7, dtype=torch.float64)  # digits-like, off the image
    z = net.encode(x)
    torch.testing.assert_close(z, net.inverse(x)[0])
    torch.testing.assert_close(z, explicit_pseudo_inverse(net, x))
    params = list(net.parameters())
    ours = torch.autograd.grad(net(net.encode(x)).square().sum(), params)
    theirs = torch.autograd.grad(net(explicit_pseudo_inverse(net, x)).square().sum(), params)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)
    assert all(float(g.abs().sum()) > 0 for g in ours)
    assert torch.autograd.gradcheck(net.encode, (x.clone().requires_grad_(),))
