"""Fully connected stacks: the encoders and decoders of the image models (e.g. IML's
784 -> 600 -> K encoder and K -> 600 -> 784 decoder)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
OUTPUTS = {"none": None, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Sequential):
    """Linear layers `sizes[0] -> ... -> sizes[-1]` with `activation` between them and an
    optional `output` squashing ("sigmoid" for pixels in [0, 1]). `linear(in, out)` makes each
    linear layer (e.g. `fugato.nn.spectral.SpectralLinear` for a discriminator).

    Shapes: (B, sizes[0]) -> (B, sizes[-1])."""

    def __init__(self, sizes: list[int], activation: str = "relu", output: str = "none",
                 linear: Callable[[int, int], nn.Module] = nn.Linear) -> None:
        if len(sizes) < 2:
            raise ValueError("an MLP needs at least an input and an output size")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(linear(a, b))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        squash = OUTPUTS[output]
        if squash is not None:
            layers.append(squash())
        super().__init__(*layers)
