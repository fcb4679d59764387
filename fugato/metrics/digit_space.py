"""The shared feature space of the classifier-feature FID on MNIST digits (FactorGAN's paired
digits): one `DigitClassifier`, trained once per machine and then loaded, so that every run and
every seed is scored in the same 50-d space and a mean over seeds averages one quantity.

As in FactorGAN's reference code (`training/MNIST.py`: one MNIST CNN trained once, saved, and
loaded by every later evaluation; FID on its FC1 activations), except that what determines the
classifier is written down and hashed: the training digits' bytes, the training setting
(`SPACES`) and `CODE_VERSION`. The classifier trains deterministically (a fixed seed, one CPU
thread, a seeded data order and seeded shifts, the caller's random state untouched) and is
cached at `cache_dir()/digit-space/<setting>-<key>.pt`, written atomically: concurrent seeds
that find no cache each train the same weights and the last rename wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from fugato.atomic import atomic_path
from fugato.errors import FugatoError
from fugato.nn.digit_classifier import DigitClassifier, classifier_loss, warm_cosine
from fugato.paths import cache_dir

CODE_VERSION = 1
"""Bump when the classifier's network or training changes: every cached space is rebuilt."""


@dataclass(frozen=True)
class SpaceConfig:
    """How the shared classifier trains: `steps` Adam steps at peak rate `lr` (`warm_cosine`
    shape), `batch` digits a step in a seeded order (epochs of a permutation), each shifted by
    up to 2 pixels; dropout before the output layer."""

    steps: int = 1500
    batch: int = 256
    lr: float = 3e-3
    dropout: float = 0.2
    seed: int = 0


SPACES = {"standard": SpaceConfig(), "tiny": SpaceConfig(steps=20, batch=32)}
"""Named settings ("tiny": smoke tests only, a poor classifier)."""


@dataclass(frozen=True)
class DigitSpace:
    """The shared classifier (eval mode, CPU) and what names its space."""

    classifier: DigitClassifier
    setting: str
    key: str
    """Hex digest of the training digits, the setting and `CODE_VERSION`."""
    path: Path
    trained: bool
    """True when this call trained it, False when it was loaded from the cache."""


def space_key(images: torch.Tensor, labels: torch.Tensor, config: SpaceConfig) -> str:
    """20 hex digits naming the space of a classifier trained on digits (N, 784) in [0, 1]
    with classes (N,) under `config`."""
    h = hashlib.sha256(json.dumps({"code": CODE_VERSION, **asdict(config)},
                                  sort_keys=True).encode())
    h.update(images.detach().cpu().float().contiguous().numpy().tobytes())
    h.update(labels.detach().cpu().long().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def train_space_classifier(images: torch.Tensor, labels: torch.Tensor, config: SpaceConfig
                           ) -> dict[str, torch.Tensor]:
    """State dict of a `DigitClassifier` trained on digits (N, 784), classes (N,) under
    `config`: the same weights on every call on a machine (one thread, seeded everything)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # initial weights and dropout
            g = torch.Generator().manual_seed(config.seed)  # data order and shifts
            net = DigitClassifier(dropout=config.dropout).train()
            optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
            images, labels = images.detach().cpu().float(), labels.detach().cpu().long()
            order = torch.empty(0, dtype=torch.long)
            for step in range(config.steps):
                if len(order) < config.batch:
                    order = torch.cat([order, torch.randperm(len(images), generator=g)])
                index, order = order[: config.batch], order[config.batch:]
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * warm_cosine(step, config.steps)
                loss, _ = classifier_loss(net, images[index], labels[index], g)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def digit_space(images: torch.Tensor, labels: torch.Tensor, setting: str = "standard"
                ) -> DigitSpace:
    """The shared classifier of training digits (N, 784) in [0, 1] with classes (N,): loaded
    from the cache when a classifier of the same key is there, else trained and cached."""
    if setting not in SPACES:
        raise FugatoError(f"sample.fid_space: unknown setting {setting!r} "
                          f"({', '.join(SPACES)})")
    config = SPACES[setting]
    key = space_key(images, labels, config)
    path = cache_dir() / "digit-space" / f"{setting}-{key}.pt"
    trained = not path.is_file()
    if trained:
        state = train_space_classifier(images, labels, config)
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    net = DigitClassifier(dropout=config.dropout)
    net.load_state_dict(state)
    return DigitSpace(net.eval(), setting, key, path, trained)
