"""The shared FID feature space of the paired digits (`fugato.metrics.digit_space`): one
classifier, trained once and deterministically, cached by the hash of what determines it, and
the same for every run and seed; its FID ranks obvious cases right."""

from pathlib import Path

import pytest
import torch
from shared_data import needs

import fugato.metrics.digit_space as digit_space_module
from fugato.config import build_config
from fugato.metrics.digit_space import digit_space
from fugato.metrics.fid import fid
from fugato.models.factorgan.digits import FactorGAN
from fugato.models.factorgan.digits_evaluate import real_pairs, scorers
from fugato.nn.digit_classifier import shift_digits


def _digits(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Toy digits (n, 784) in [0, 1]: a bright 4x4 block whose place is the class (n,)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(10, (n,), generator=g)
    images = torch.rand(n, 28, 28, generator=g) * 0.1
    for i, c in enumerate(labels.tolist()):
        images[i, 4 + 2 * c: 8 + 2 * c, 6:10] = 1.0
    return images.reshape(n, 784), labels


def _no_training(*args: object) -> None:
    raise AssertionError("the shared classifier was trained again")


def _weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_the_shared_classifier_is_trained_once_then_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUGATO_CACHE", str(tmp_path))
    images, labels = _digits()
    first = digit_space(images, labels, "tiny")
    assert first.trained and first.path.is_file() and first.path.parent.parent == tmp_path
    assert not any(p.name.startswith(".") for p in first.path.parent.iterdir())  # atomic
    monkeypatch.setattr(digit_space_module, "train_space_classifier", _no_training)
    second = digit_space(images, labels, "tiny")
    assert not second.trained and second.key == first.key
    weights = _weights(second.classifier)
    assert all(torch.equal(v, weights[k]) for k, v in _weights(first.classifier).items())


def test_training_is_deterministic_and_leaves_the_random_state_alone() -> None:
    images, labels = _digits()
    config = digit_space_module.SPACES["tiny"]
    before = torch.random.get_rng_state()
    a = digit_space_module.train_space_classifier(images, labels, config)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(123)  # another global state: the same weights
    b = digit_space_module.train_space_classifier(images, labels, config)
    assert all(torch.equal(v, b[k]) for k, v in a.items())


def test_changed_data_or_setting_builds_a_new_classifier(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUGATO_CACHE", str(tmp_path))
    images, labels = _digits()
    first = digit_space(images, labels, "tiny")
    changed = images.clone()
    changed[0, 0] += 0.5  # one pixel of one digit
    second = digit_space(changed, labels, "tiny")
    assert second.trained and second.key != first.key and second.path != first.path
    relabelled = labels.clone()
    relabelled[0] = (relabelled[0] + 1) % 10
    assert digit_space(images, relabelled, "tiny").key not in (first.key, second.key)
    assert len(list(first.path.parent.glob("tiny-*.pt"))) == 3


def _tiny_task(seed: int) -> FactorGAN:
    """An untrained tiny paired-digit task of training seed `seed`, its nets built."""
    task = FactorGAN(build_config({
        "model": "factorgan", "data": {"limit": 300, "lambdas": [0.5], "paired": [10]},
        "net": {"variants": ["factorgan"], "hidden": 8, "disc_hidden": 8, "noise": 4},
        "train": {"seed": seed, "device": "cpu"}, "sample": {"eval_samples": 50}}))
    torch.manual_seed(seed)  # as the trainer seeds each run before building its nets
    task.nets = task.build_nets()
    return task


@needs("mnist")
def test_two_seeds_are_scored_with_identical_feature_weights(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [_tiny_task(0), _tiny_task(1)]
    first, about = scorers(tasks[0], tasks[0].splits())
    monkeypatch.setattr(digit_space_module, "train_space_classifier", _no_training)
    second, about_again = scorers(tasks[1], tasks[1].splits())
    assert about["fid_space"] == about_again["fid_space"]
    assert about["fid_space"]["setting"] == "tiny"  # data.limit: a smoke test
    shared = [_weights(s[0].classifier) for s in (first, second)]
    assert all(torch.equal(v, shared[1][k]) for k, v in shared[0].items())
    # each run's own classifier (the `own_` numbers) is a space of its own
    own = [_weights(s[1].classifier) for s in (first, second)]
    assert not torch.equal(own[0]["hidden.weight"], own[1]["hidden.weight"])


@needs("mnist")
def test_fid_ranks_held_out_below_jittered_below_noise() -> None:
    task = _tiny_task(0)
    splits = task.splits()
    shared = scorers(task, splits)[0][0]
    test_images, test_labels = splits["test"]
    half = len(test_images) // 2
    reference = shared.reference(real_pairs((test_images[:half], test_labels[:half]), 0.5,
                                            1000, 0))
    held_out = real_pairs((test_images[half:], test_labels[half:]), 0.5, 1000, 1)[0]
    g = torch.Generator().manual_seed(0)
    jittered = torch.cat([shift_digits(held_out[:, :784], 4.0, g),
                          shift_digits(held_out[:, 784:], 4.0, g)], 1)
    jittered = (jittered + 0.3 * torch.randn(jittered.shape, generator=g)).clamp(0, 1)
    noise = torch.rand(held_out.shape, generator=g)
    fids = [shared.scores(x, None, reference)["fid"] for x in (held_out, jittered, noise)]
    assert fids[0] < fids[1] < fids[2], fids
    assert fid(reference["top"], reference["top"]) < 1e-6
