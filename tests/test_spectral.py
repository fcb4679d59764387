"""`SpectralLinear` computes what torch's spectral-norm parametrization computes."""

from typing import Any, cast

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from fugato.nn.mlp import MLP
from fugato.nn.spectral import SpectralLinear


def weight_norm_of(layer: nn.Module) -> Any:
    """torch's spectral-norm parametrization of `layer.weight` (`.original`, `[0]._u`,
    `[0]._v`), untyped in torch's stubs."""
    return cast(Any, layer).parametrizations.weight


def twins(seed: int = 0) -> tuple[SpectralLinear, nn.Linear]:
    """Our layer and torch's, with the same weight, bias and power-iteration vectors."""
    torch.manual_seed(seed)
    ours = SpectralLinear(40, 12)
    torch.manual_seed(seed)
    theirs = spectral_norm(nn.Linear(40, 12))
    with torch.no_grad():
        ours.weight.copy_(weight_norm_of(theirs).original)
        ours.bias.copy_(cast(torch.Tensor, theirs.bias))
        ours.u.copy_(weight_norm_of(theirs)[0]._u)
        ours.v.copy_(weight_norm_of(theirs)[0]._v)
    # float64: the two orders of operations agree
    return ours.double(), cast(nn.Linear, theirs.double())


def test_outputs_gradients_and_power_iteration_match_torch() -> None:
    ours, theirs = twins()
    x = torch.randn(16, 40, dtype=torch.float64)
    for _ in range(3):  # training forwards: one power iteration each
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours.u, weight_norm_of(theirs)[0]._u)
    torch.testing.assert_close(ours.v, weight_norm_of(theirs)[0]._v)

    # two forwards before one backward (a GAN's real and fake passes), then the gradients
    loss_ours = ours(x).square().sum() - ours(2 * x).sum()
    loss_theirs = theirs(x).square().sum() - theirs(2 * x).sum()
    loss_ours.backward()
    loss_theirs.backward()
    torch.testing.assert_close(ours.weight.grad,
                               weight_norm_of(theirs).original.grad, rtol=1e-10,
                               atol=1e-12)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-10, atol=1e-12)

    ours.eval()
    theirs.eval()
    u = ours.u.clone()
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-10, atol=1e-12)
    assert torch.equal(ours.u, u)  # no power iteration in eval mode


def test_the_normalised_layer_has_spectral_norm_one() -> None:
    torch.manual_seed(1)
    layer = SpectralLinear(30, 20, bias=False)
    with torch.no_grad():
        layer.weight.mul_(7.0)
    for _ in range(50):
        layer(torch.zeros(1, 30))
    layer.eval()
    matrix = layer(torch.eye(30)).t()  # the effective weight (20, 30)
    assert abs(torch.linalg.matrix_norm(matrix, ord=2).item() - 1.0) < 1e-3


def spectral_mlp(sizes: list[int]) -> MLP:
    return MLP(sizes, "leaky_relu", linear=SpectralLinear)


def test_spectral_mlp_shapes_and_state_dict_round_trip() -> None:
    net = spectral_mlp([10, 8, 8, 1])
    assert [type(m) for m in net] == [SpectralLinear, nn.LeakyReLU] * 2 + [SpectralLinear]
    assert net(torch.randn(5, 10)).shape == (5, 1)
    assert {"0.u", "0.v", "4.weight", "4.bias"} <= set(net.state_dict())
    twin = spectral_mlp([10, 8, 8, 1])
    twin.load_state_dict(net.state_dict())
    net.eval()
    twin.eval()
    x = torch.randn(5, 10)
    torch.testing.assert_close(net(x), twin(x))
