"""`fugato.nn.spectral.SpectralLinear` against torch's spectral-norm parametrization, in the
same process.

    python benchmarks/spectral_norm.py            # FactorGAN's digit discriminator sizes
    python benchmarks/spectral_norm.py --quick    # a smoke run

Times one discriminator training update (forward on real and fake, backward, Adam) of an MLP
1568 -> 128 -> 128 -> 1 with leaky ReLUs, spectral norm on every layer, built once with
`torch.nn.utils.parametrizations.spectral_norm(nn.Linear)` and once with `SpectralLinear`
(both a `fugato.nn.mlp.MLP`), from the same weights and power-iteration vectors; checks that
both give the same logits, and prints the speed-up.
"""

from __future__ import annotations

import argparse
from typing import Any, cast

import torch
from timing import best_of
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from fugato.nn.mlp import MLP
from fugato.nn.spectral import SpectralLinear


def torch_mlp(sizes: list[int]) -> nn.Sequential:
    return MLP(sizes, "leaky_relu", linear=lambda a, b: spectral_norm(nn.Linear(a, b)))


def copy_into(ours: nn.Sequential, theirs: nn.Sequential) -> None:
    """Give our layers the weights, biases and u, v of torch's."""
    with torch.no_grad():
        for mine, layer in zip(ours, theirs, strict=True):
            if isinstance(layer, nn.Linear) and isinstance(mine, SpectralLinear):
                norm = cast(Any, layer).parametrizations.weight  # untyped in torch's stubs
                mine.weight.copy_(norm.original)
                mine.bias.copy_(layer.bias)
                mine.u.copy_(norm[0]._u)
                mine.v.copy_(norm[0]._v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1568, 128, 128, 1])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.repeats = 20, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    theirs = torch_mlp(args.sizes)
    ours = MLP(args.sizes, "leaky_relu", linear=SpectralLinear)
    copy_into(ours, theirs)
    real = torch.rand(args.batch, args.sizes[0])
    fake = torch.rand(args.batch, args.sizes[0])
    difference = (ours(real) - theirs(real)).abs().max().item()

    def updates(net: nn.Module) -> None:
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.5, 0.999))
        for _ in range(args.updates):
            logits = net(torch.cat([real, fake])).squeeze(-1)
            loss = (nn.functional.softplus(-logits[: args.batch]).mean()
                    + nn.functional.softplus(logits[args.batch :]).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    updates(theirs)  # warm-up
    updates(ours)
    t_theirs = best_of(lambda: updates(theirs), args.repeats) / args.updates
    t_ours = best_of(lambda: updates(ours), args.repeats) / args.updates
    print(f"MLP {' -> '.join(map(str, args.sizes))}, batch {args.batch} real + "
          f"{args.batch} fake, {args.threads} thread(s)")
    print(f"largest logit difference after one forward: {difference:.2e}")
    print(f"torch parametrization: {1e3 * t_theirs:.2f} ms per update")
    print(f"SpectralLinear:        {1e3 * t_ours:.2f} ms per update")
    print(f"speed-up: {t_theirs / t_ours:.2f}x")


if __name__ == "__main__":
    main()
