"""FactorGAN (Stoller, Ewert, Dixon, "Training Generative Networks with Incomplete
Observations", ICLR 2020): the generic factorised discriminators and the lockstep frame.

The generic part knows nothing about images or audio. A sample is a flat vector (B, D) whose
parts are declared as slices of it. `FactorDiscriminators` holds the discriminator set of one
generator:

- variant "factorgan": one marginal discriminator D_i per part (real: every observation of that
  part, paired or not; fake: the part of a generated sample), a p-dependency discriminator D_P
  (real joint samples vs the same batch with the parts shuffled across the batch) and a
  q-dependency discriminator D_Q (generated joint vs generated shuffled). At their optima the
  logits are log p_i/q_i, log p/prod_i p_i and log q/prod_i q_i, so the combined logit
  sum_i D_i + D_P - D_Q (`combine_logits`) is log p/q: what a joint discriminator would give,
  and what drives the generator;
- variant "no-cp": the same without D_P (as if the parts of real samples were independent);
- variant "gan": one joint discriminator on the paired samples only (the baseline).

Every discriminator has spectral normalisation; the discriminators take `disc_rounds` updates
per generator update, Adam with betas (0.5, 0.999), non-saturating generator loss on the
combined logit (the reference code's "JSD" objective).

`LockstepSettings` is what both experiments (paired digits, `digits.py`; source separation,
`separation.py`) share: one run trains a generator and its discriminators per setting in
lockstep (disjoint parameters, summed losses: each setting trains exactly as if alone). The
generator loss is the same for both; each experiment says how a fake is made (`fake`) and
which real observations its discriminators see (`_discriminator_loss`). The digits draw new
fakes in every discriminator round; separation separates once per batch and reuses those fakes
in every round of that batch (the generators do not change between the rounds).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.train.task import Batch, Nets, Step

VARIANTS = ("gan", "factorgan", "no-cp")
VARIANT_NAMES = {"gan": "GAN", "factorgan": "FactorGAN", "no-cp": "FactorGAN-no-cp"}


# -- the generic FactorGAN ---------------------------------------------------------------------
def combine_logits(marginals: Sequence[torch.Tensor], p_dependency: torch.Tensor | None,
                   q_dependency: torch.Tensor | None) -> torch.Tensor:
    """The FactorGAN logit sum_i D_i + D_P - D_Q (B,) from the marginal logits (each (B,)) and
    the dependency logits (B,) (None: left out, i.e. taken as 0)."""
    total = torch.stack(list(marginals)).sum(0)
    if p_dependency is not None:
        total = total + p_dependency
    if q_dependency is not None:
        total = total - q_dependency
    return total


def shuffle_parts(x: torch.Tensor, parts: Sequence[slice],
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """x (B, D) with every part but the first permuted across the batch, each by its own
    permutation: samples of the product of the batch's part marginals."""
    out = x.clone()
    for part in parts[1:]:
        order = torch.randperm(len(x), generator=generator, device=generator.device
                               if generator is not None else x.device)
        out[:, part] = x[order.to(x.device), part]
    return out


def _real_fake_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of logits real (B,) -> label 1 and fake (B,) -> label 0, averaged
    over the two halves (the reference code's discriminator loss)."""
    return 0.5 * (F.softplus(-real).mean() + F.softplus(fake).mean())


class FactorDiscriminators(nn.Module):
    """The discriminators of one FactorGAN generator and the logit that drives it.

    `parts` are slices of the flat sample vector (B, D). Discriminator modules map (B, d) to
    logits (B, 1) or (B,). Build with `FactorDiscriminators.build(parts, variant, make)`, where
    `make(in_features)` returns a fresh discriminator, or pass the modules directly (tests give
    each one its exact density ratio)."""

    def __init__(self, parts: Sequence[slice], variant: str,
                 marginals: Sequence[nn.Module] = (), p_dependency: nn.Module | None = None,
                 q_dependency: nn.Module | None = None, joint: nn.Module | None = None) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise FugatoError(f"unknown FactorGAN variant {variant!r} ({', '.join(VARIANTS)})")
        needed = {"gan": joint is not None,
                  "factorgan": len(marginals) == len(parts) and p_dependency is not None
                  and q_dependency is not None,
                  "no-cp": len(marginals) == len(parts) and q_dependency is not None
                  and p_dependency is None}
        if not needed[variant]:
            raise ValueError(f"variant {variant!r}: wrong set of discriminators")
        self.parts = list(parts)
        self.variant = variant
        self.marginals = nn.ModuleList(marginals)
        self.p_dependency = p_dependency
        self.q_dependency = q_dependency
        self.joint = joint

    @classmethod
    def build(cls, parts: Sequence[slice], variant: str,
              make: Callable[[int], nn.Module]) -> FactorDiscriminators:
        size = max(part.stop for part in parts)
        if variant == "gan":
            return cls(parts, variant, joint=make(size))
        return cls(parts, variant, [make(part.stop - part.start) for part in parts],
                   make(size) if variant == "factorgan" else None, make(size))

    @staticmethod
    def _logit(net: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        if net is None:  # __init__ checked that each variant has the nets it uses
            raise ValueError("no such discriminator in this variant")
        return net(x).reshape(len(x))

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The parts of samples x (B, D): a list of (B, d_i)."""
        return [x[:, part] for part in self.parts]

    def logits(self, x: torch.Tensor) -> dict[str, Any]:
        """Every discriminator's logit (B,) for samples x (B, D): "marginals" (a list, one per
        part), "p", "q", "joint" (absent where the variant has no such discriminator)."""
        if self.variant == "gan":
            return {"joint": self._logit(self.joint, x)}
        out: dict[str, Any] = {"marginals": [self._logit(d, xi) for d, xi in
                                             zip(self.marginals, self.split(x), strict=True)],
                               "q": self._logit(self.q_dependency, x)}
        if self.p_dependency is not None:
            out["p"] = self._logit(self.p_dependency, x)
        return out

    def combined(self, x: torch.Tensor) -> torch.Tensor:
        """The logit (B,) that drives the generator: the joint discriminator's (GAN), else
        `combine_logits` of the marginal and dependency logits."""
        logits = self.logits(x)
        if self.variant == "gan":
            return logits["joint"]
        return combine_logits(logits["marginals"], logits.get("p"), logits["q"])

    def _real_fake(self, net: nn.Module | None, real: torch.Tensor, fake: torch.Tensor
                   ) -> torch.Tensor:
        """`_real_fake_loss` of one discriminator, real and fake in one forward pass (one
        spectral-norm power iteration per update, half the small matrix products)."""
        logits = self._logit(net, torch.cat([real, fake]))
        return _real_fake_loss(logits[: len(real)], logits[len(real) :])

    def loss(self, real_parts: Sequence[torch.Tensor], real_joint: torch.Tensor,
             fake: torch.Tensor) -> torch.Tensor:
        """The summed discriminator losses (each a binary cross-entropy), a scalar.

        real_parts: per part a batch (B_i, d_i) of its observations (paired or not);
        real_joint: (B_j, D) jointly observed samples; fake: (B, D) generated samples (no
        gradient reaches the generator: detach it first)."""
        if self.variant == "gan":
            return self._real_fake(self.joint, real_joint, fake)
        total = fake.new_zeros(())
        for d, real, fake_part in zip(self.marginals, real_parts, self.split(fake), strict=True):
            total = total + self._real_fake(d, real, fake_part)
        pairs: list[tuple[str, nn.Module | None, torch.Tensor]] = [
            ("q", self.q_dependency, fake)]
        if self.p_dependency is not None:
            pairs.append(("p", self.p_dependency, real_joint))
        for _, net, joint in pairs:
            total = total + self._real_fake(net, joint, shuffle_parts(joint, self.parts))
        return total


def generator_loss(logit: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log sigmoid(logit), averaged over the batch (B,)."""
    return F.softplus(-logit).mean()


# -- the tasks' shared training frame ---------------------------------------------------------
@dataclass
class LockstepNetConfig:
    """The [net] fields of every FactorGAN task (their NetConfigs extend it)."""

    disc_rounds: int = 2
    """Discriminator updates per generator update."""
    beta1: float = 0.5
    beta2: float = 0.999
    """Adam's betas, generators and discriminators alike."""


class LockstepSettings(ABC):
    """What the FactorGAN tasks (digits, separation) share: every setting (variant, N, ...) has
    its own generator `G:KEY` and discriminators `D:KEY`; all train in lockstep in one run, each
    as if alone (disjoint parameters, per-parameter Adam, no global gradient clipping).

    A task provides `settings` (each with `variant` and a unique `key`), `fake` and
    `_discriminator_loss`."""

    name: ClassVar[str]
    config: ExperimentConfig
    settings: list[Any]

    def optimizers(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        # Adam is per parameter, so one optimizer over the disjoint nets of every setting
        # updates each setting exactly as its own optimizer would. Fused: the update is one
        # kernel (the loop over tensors took a quarter of a digits step).
        net = self.config.net

        def adam(prefix: str) -> torch.optim.Optimizer:
            params = [p for name, m in nets.items() if name.startswith(prefix)
                      for p in m.parameters()]
            return torch.optim.Adam(params, lr=self.config.train.lr, betas=(net.beta1, net.beta2),
                                    fused=True)

        return {"generators": adam("G:"), "discriminators": adam("D:")}

    def steps(self) -> list[Step]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # DDP syncs gradients through forward(); the losses call the discriminators'
            # own methods (loss, combined), which it would bypass
            raise FugatoError(f"{self.name} trains in one process; run it without torchrun")
        if self.config.train.grad_clip:
            # a global norm over all settings would couple their updates
            raise FugatoError(f"{self.name}: set train.grad_clip = 0 (settings train in "
                              "lockstep)")
        return [Step("discriminators", self._discriminator_loss,
                     repeat=self.config.net.disc_rounds),
                Step("generators", self._generator_loss)]

    @abstractmethod
    def fake(self, nets: Nets, setting: Any, batch: Batch) -> torch.Tensor:
        """Generated samples (B, D) of `setting`'s generator for the training batch `batch`
        (with gradients to the generator; noise drawn on the batch's device)."""

    @abstractmethod
    def _discriminator_loss(self, nets: Nets, batch: Batch, step: int
                            ) -> tuple[torch.Tensor, dict[str, float]]:
        """The summed discriminator losses of every setting, and their logs (`sum_losses`)."""

    def _generator_loss(self, nets: Nets, batch: Batch, step: int
                        ) -> tuple[torch.Tensor, dict[str, float]]:
        """The summed generator losses of every setting (`generator_loss` of its
        discriminators' combined logit on its `fake`), and their logs."""
        losses = []
        for s in self.settings:
            fake = self.fake(nets, s, batch)
            d = cast(FactorDiscriminators, nets[f"D:{s.key}"])
            d.eval()  # scoring only: no power-iteration update of the spectral norms
            losses.append(generator_loss(d.combined(fake)))
            d.train()
        return self.sum_losses(losses, "g_loss")

    @staticmethod
    def check_net(net: Any) -> None:
        """`FugatoError` for an unknown `net.variants` entry or `net.disc_rounds` below 1."""
        for variant in net.variants:
            if variant not in VARIANTS:
                raise FugatoError(f"net.variants: unknown variant {variant!r} "
                                  f"({', '.join(VARIANTS)})")
        if net.disc_rounds < 1:
            raise FugatoError("net.disc_rounds must be at least 1")

    def _per_variant(self, variant: str) -> int:
        return sum(s.variant == variant for s in self.settings)

    def sum_losses(self, losses: Sequence[torch.Tensor], name: str
                   ) -> tuple[torch.Tensor, dict[str, float]]:
        """The sum of per-setting losses (in `settings` order), and as logs their mean per
        variant, `{name}_{variant}`, read off the device in one transfer."""
        values = torch.stack([loss.detach() for loss in losses]).tolist()
        logs: dict[str, float] = defaultdict(float)
        for s, value in zip(self.settings, values, strict=True):
            logs[f"{name}_{s.variant}"] += value / self._per_variant(s.variant)
        return torch.stack(list(losses)).sum(), dict(logs)

    def find_setting(self, key: str, what: str) -> Any:
        """The setting whose `key` is `key`; `FugatoError` naming the trained ones otherwise."""
        for s in self.settings:
            if s.key == key:
                return s
        raise FugatoError(f"unknown {what} {key!r}: choose one of "
                          f"{', '.join(s.key for s in self.settings)}")
