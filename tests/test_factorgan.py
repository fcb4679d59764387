"""FactorGAN: the combined logit on a discrete distribution with known density ratios, the
metrics on cases with known values, the digit pairing, and a tiny paired-digit run end to end
(train every variant, reload, sample, evaluate through the command line)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import DATA, needs
from torch import nn

from fugato.config import build_config
from fugato.errors import FugatoError
from fugato.metrics.dependency import class_pair_frequencies, dependency_error
from fugato.metrics.fid import fid
from fugato.models.factorgan.core import FactorDiscriminators, combine_logits, shuffle_parts
from fugato.models.factorgan.digits import FactorGAN, pair_partners
from fugato.samples import Images

MNIST = DATA / "mnist"
needs_mnist = needs("mnist")

K1, K2 = 3, 4
PARTS = [slice(0, K1), slice(K1, K1 + K2)]
"""A sample of the discrete toy: one-hot of x1 (K1 values) then one-hot of x2 (K2 values)."""


class MarginalTable(nn.Module):
    """A marginal discriminator on one-hot inputs (B, K): logit = table[x]."""

    def __init__(self, table: torch.Tensor, learn: bool = False) -> None:
        super().__init__()
        self.table = nn.Parameter(table.clone(), requires_grad=learn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.table


class JointTable(nn.Module):
    """A joint discriminator on concatenated one-hots (B, K1 + K2): logit = table[x1, x2]."""

    def __init__(self, table: torch.Tensor, learn: bool = False) -> None:
        super().__init__()
        self.table = nn.Parameter(table.clone(), requires_grad=learn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bi,ij,bj->b", x[:, :K1], self.table, x[:, K1:])


def toy(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random joint distributions p, q (K1, K2) with dependent parts."""
    g = torch.Generator().manual_seed(seed)
    p, q = torch.rand(2, K1, K2, generator=g, dtype=torch.float64) + 0.1
    return (p / p.sum()).float(), (q / q.sum()).float()


def every_sample() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All K1 * K2 samples as one-hot rows (K1 K2, K1 + K2) and their (x1, x2)."""
    i, j = torch.meshgrid(torch.arange(K1), torch.arange(K2), indexing="ij")
    i, j = i.flatten(), j.flatten()
    x = torch.cat([nn.functional.one_hot(i, K1), nn.functional.one_hot(j, K2)], 1).float()
    return x, i, j


def exact_discriminators(p: torch.Tensor, q: torch.Tensor, variant: str = "factorgan"
                         ) -> FactorDiscriminators:
    """Each discriminator given its exact log density ratio: marginals log p_i / q_i,
    D_P log p / (p_1 p_2) (real vs real shuffled), D_Q log q / (q_1 q_2)."""
    p1, p2, q1, q2 = p.sum(1), p.sum(0), q.sum(1), q.sum(0)
    marginals = [MarginalTable((p1 / q1).log()), MarginalTable((p2 / q2).log())]
    d_q = JointTable((q / torch.outer(q1, q2)).log())
    d_p = JointTable((p / torch.outer(p1, p2)).log()) if variant == "factorgan" else None
    return FactorDiscriminators(PARTS, variant, marginals, d_p, d_q)


def test_combined_logit_with_exact_ratios_is_the_joint_log_density_ratio() -> None:
    p, q = toy()
    x, i, j = every_sample()
    truth = (p / q).log()[i, j]
    disc = exact_discriminators(p, q)
    torch.testing.assert_close(disc.combined(x), truth)
    logits = disc.logits(x)  # the same through the combination function alone
    torch.testing.assert_close(combine_logits(logits["marginals"], logits["p"], logits["q"]),
                               truth)
    # without D_P the combination is off by exactly the real dependency log p / (p_1 p_2) ...
    no_cp = exact_discriminators(p, q, "no-cp")
    torch.testing.assert_close(no_cp.combined(x) + logits["p"], truth)
    # ... which is 0 where the real parts are independent: then no-cp is exact too
    independent = torch.outer(p.sum(1), p.sum(0))
    torch.testing.assert_close(exact_discriminators(independent, q, "no-cp").combined(x),
                               (independent / q).log()[i, j])


def test_trained_discriminators_recover_the_joint_log_density_ratio() -> None:
    """The discriminator losses (real part vs fake part, joint vs shuffled) have the exact
    ratios as optima: learnable tables trained on samples of p and q combine to log p / q."""
    torch.manual_seed(0)
    p, q = toy(1)
    x, i, j = every_sample()
    zeros = torch.zeros
    disc = FactorDiscriminators(PARTS, "factorgan",
                                [MarginalTable(zeros(K1), True), MarginalTable(zeros(K2), True)],
                                JointTable(zeros(K1, K2), True), JointTable(zeros(K1, K2), True))
    opt = torch.optim.Adam(disc.parameters(), lr=0.05)
    for _ in range(300):
        real = x[torch.multinomial(p.flatten(), 4000, replacement=True)]
        fake = x[torch.multinomial(q.flatten(), 4000, replacement=True)]
        loss = disc.loss(disc.split(real), real, fake)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        error = (disc.combined(x) - (p / q).log()[i, j]).abs().max().item()
    assert error < 0.15


def test_shuffle_parts_keeps_each_part_and_breaks_the_pairing() -> None:
    x = torch.arange(200.0)[:, None].repeat(1, 4)  # every row's parts agree
    out = shuffle_parts(x, [slice(0, 2), slice(2, 4)], torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :2], x[:, :2])  # the first part stays
    assert torch.equal(out[:, 2:].sort(0).values, x[:, 2:])  # the second is permuted
    assert (out[:, 2] != out[:, 0]).float().mean() > 0.9


def test_variants_hold_their_discriminators() -> None:
    make = lambda d: nn.Linear(d, 1)  # noqa: E731
    joint = FactorDiscriminators.build(PARTS, "gan", make).joint
    assert isinstance(joint, nn.Linear) and joint.in_features == K1 + K2
    no_cp = FactorDiscriminators.build(PARTS, "no-cp", make)
    assert no_cp.p_dependency is None and len(no_cp.marginals) == 2
    full = FactorDiscriminators.build(PARTS, "factorgan", make)
    assert [m.in_features for m in full.marginals] == [K1, K2]
    assert full.combined(torch.rand(5, K1 + K2)).shape == (5,)


def test_dependency_metric_on_a_constructed_case() -> None:
    # real: the bottom class always equals the top class (uniform over 10); generated:
    # independent uniform classes. c_real = 0.1 / 0.011 on the diagonal and 0 off it,
    # c_gen = 0.01 / 0.011 everywhere: mean |difference| = (10 * 90/11 + 90 * 10/11) / 100
    classes = torch.arange(10)
    real = class_pair_frequencies(classes, classes)
    i, j = torch.meshgrid(classes, classes, indexing="ij")
    generated = class_pair_frequencies(i.flatten(), j.flatten())
    assert dependency_error(real, generated) == pytest.approx(18 / 11)
    assert dependency_error(real, real) == 0.0


def test_fid_of_a_set_against_itself_is_zero_and_a_shift_adds_its_square() -> None:
    x = torch.randn(3000, 8, generator=torch.Generator().manual_seed(0)) @ torch.rand(8, 8)
    assert abs(fid(x, x)) < 1e-6
    shift = torch.tensor([3.0, 0, 0, 0, 0, 0, 0, 4.0])
    assert fid(x, x + shift) == pytest.approx(25.0, abs=1e-4)


def test_pairing_follows_lambda() -> None:
    """P(same class) over many draws: lambda the paper's way (another class otherwise, by the
    other classes' frequencies), lambda + (1 - lambda) sum_c p_c^2 the reference code's."""
    g = torch.Generator().manual_seed(0)
    freq = torch.tensor([4.0, 1, 1, 2, 1, 3, 1, 1, 2, 4])  # unequal class frequencies
    labels = torch.multinomial(freq, 40000, replacement=True, generator=g)
    p = torch.bincount(labels, minlength=10).double() / len(labels)
    for pairing in ("paper", "reference"):
        assert torch.equal(labels[pair_partners(labels, 1.0, g, pairing)], labels)
    for lam in (0.0, 0.1, 0.9):
        paper = (labels[pair_partners(labels, lam, g)] == labels).double().mean().item()
        assert paper == pytest.approx(lam, abs=0.01)
        reference = labels[pair_partners(labels, lam, g, "reference")] == labels
        expected = lam + (1 - lam) * float((p**2).sum())
        assert reference.double().mean().item() == pytest.approx(expected, abs=0.01)
    # the paper's other class: by the other classes' frequencies (here after a top digit 0)
    bottom = labels[pair_partners(labels, 0.0, g)][labels == 0]
    drawn = torch.bincount(bottom, minlength=10).double() / len(bottom)
    others = p.clone()
    others[0] = 0
    assert torch.allclose(drawn, others / others.sum(), atol=0.015)
    with pytest.raises(FugatoError, match="data.pairing"):
        pair_partners(labels, 0.5, g, "same")


def test_runs_saved_before_the_pairing_option_load_with_the_reference_pairing() -> None:
    from fugato.config import load_config

    saved = Path(__file__).parent / "fixtures" / "runs" / "factorgan" / "config.toml"
    assert "pairing" not in saved.read_text()
    assert load_config(saved, saved=True).data.pairing == "reference"
    assert load_config(saved).data.pairing == "paper"  # a new config: the paper's
    assert build_config(tiny(pairing="paper"), saved=True).data.pairing == "paper"
    with pytest.raises(FugatoError, match="data.pairing"):
        FactorGAN(build_config(tiny(pairing="Paper")))
    with pytest.raises(FugatoError, match="data.pairing"):
        build_config(tiny(pairing=1))


def tiny(**data: object) -> dict:
    return {
        "model": "factorgan",
        "data": {"limit": 300, "lambdas": [0.5], "paired": [10, 0], **data},
        "net": {"hidden": 16, "disc_hidden": 16, "noise": 8},
        "train": {"max_steps": 12, "batch_size": 16, "grad_clip": 0.0, "log_every": 4,
                  "checkpoint_every": 12, "device": "cpu"},
        "sample": {"eval_samples": 200, "classifier_steps": 12, "grid": 4},
    }


@needs_mnist
def test_tiny_paired_digit_run_trains_samples_and_evaluates(tmp_path: Path) -> None:
    from fugato.cli import main
    from fugato.train import Trainer, load_run

    Trainer(FactorGAN(build_config(tiny())), tmp_path / "run", quiet=True).fit()
    run = load_run(tmp_path / "run", device="cpu")
    digits = run.sample(5, seed=1, generator="factorgan/0.5/10")
    assert isinstance(digits, Images)
    pixels = digits.pixels
    assert pixels.shape == (5, 56, 28) and 0 <= float(pixels.min()) <= float(pixels.max()) <= 1
    again = run.sample(5, seed=1, generator="factorgan/0.5/10")
    assert isinstance(again, Images)
    np.testing.assert_array_equal(again.pixels, pixels)
    task = run.task
    assert isinstance(task, FactorGAN)
    assert task.generators == ("gan/0.5/10", "gan/0.5/all", "factorgan/0.5/10",
                               "factorgan/0.5/all", "no-cp/0.5/10", "no-cp/0.5/all")
    first = run.sample(5, seed=1)  # the default: the first trained setting
    assert isinstance(first, Images)
    np.testing.assert_array_equal(first.pixels,
                                  task.sample(5, seed=1, generator="gan/0.5/10").pixels)
    with pytest.raises(FugatoError, match="unknown generator"):
        run.sample(2, generator="factorgan/0.5/7")
    assert main(["eval", str(tmp_path / "run"), "--quiet"]) == 0
    results = json.loads((tmp_path / "run" / "eval.json").read_text())
    rows = results["digits"]
    assert {(r["model"], r["paired"]) for r in rows} == {
        (v, n) for v in ("gan", "factorgan", "no-cp") for n in (10, "all")}
    assert all(r["fid"] > 0 and 0 <= r["dependency"] < 20 and r["lambda"] == 0.5 for r in rows)
    assert 0 < results["classifier_accuracy"] <= 1 and 0 < results["own_classifier_accuracy"] <= 1
    assert results["fid_space"]["setting"] == "tiny"  # data.limit: a smoke test's space
    assert all(r["own_fid"] > 0 and 0 <= r["own_dependency"] < 20 for r in rows)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "FactorGAN-no-cp" in report and (tmp_path / "run" / "plots" /
                                            "samples-l0.5-n10.png").stat().st_size > 0
    table = FactorGAN.seeds_report("digits", {"table/factorgan/0.5/10/fid": [3.0, 0.5],
                                              "table/factorgan/0.5/10/dependency": [0.2, 0.1],
                                              "table/gan/0.5/all/fid": [3.14159, 0.1234],
                                              "classifier_accuracy": [0.98, 0.0]}, 3)
    assert "| FactorGAN | 0.5 | 10 | 3 ± 0.5 | 0.2 ± 0.1 |" in table
    assert "| GAN | 0.5 | all | 3.142 ± 0.12 |  |" in table  # 4 significant digits
    assert table.index("| GAN |") < table.index("| FactorGAN |")


def test_lockstep_training_needs_no_global_clipping() -> None:
    from fugato.errors import FugatoError

    config = build_config(tiny())
    config.train.grad_clip = 1.0
    with pytest.raises(FugatoError, match="grad_clip"):
        FactorGAN(config).steps()


# -- the paper's claim -------------------------------------------------------------------------
CLAIM_MARGIN = 0.04
"""FactorGAN's FID is below the GAN's by at least this with 10 jointly observed pairs, on the
tiny runs below. Measured as this test runs (600 steps, one thread, 2,000 training digits,
lambda 0.9, the paper's pairing, 500 pairs scored in the "tiny" shared space), seeds 0..7:
GAN 0.34-0.70, FactorGAN 0.21-0.27, the gap 0.083-0.495 (seeds 0, 1: 0.342 vs 0.246, 0.516 vs
0.231). With the GAN in FactorGAN's place (`CLAIM_VARIANT = "gan"`: no marginal or dependency
discriminators) the two are the same model and the gap is 0 (the test fails). The gain comes
from the marginal discriminators, trained on every unpaired digit: FactorGAN without its
p-dependency discriminator ("no-cp") is as far below the GAN (0.17-0.26 at seeds 0..3). The
margin is under half the smallest gap."""
CLAIM_VARIANT = "factorgan"


def tiny_claim_fids(run: Path, seed: int) -> dict[str, float]:
    """FID of the GAN and of `CLAIM_VARIANT` at lambda 0.9 and N = 10 after 600 lockstep
    steps on 2,000 training digits (`fugato eval`'s numbers)."""
    from fugato.train import Trainer, load_run

    variants = ["gan"] if CLAIM_VARIANT == "gan" else ["gan", CLAIM_VARIANT]
    config = build_config(tiny(limit=2000, lambdas=[0.9], paired=[10]))
    config.net.variants, config.net.hidden, config.net.disc_hidden = variants, 32, 32
    config.train.max_steps = config.train.log_every = config.train.checkpoint_every = 600
    config.train.batch_size, config.train.lr, config.train.seed = 32, 1e-3, seed
    config.sample.eval_samples, config.sample.classifier_steps = 500, 1
    Trainer(FactorGAN(config), run, quiet=True).fit()
    rows = load_run(run, device="cpu").evaluate().results["digits"]
    fids = {r["model"]: float(r["fid"]) for r in rows}
    return {"gan": fids["gan"], "claim": fids[CLAIM_VARIANT]}


@needs_mnist
@pytest.mark.parametrize("seed", [0, 1])
def test_factorgan_beats_the_gan_on_fid_with_ten_pairs(tmp_path: Path, seed: int) -> None:
    """The paper's Figure 1 claim in direction: with few jointly observed pairs (N = 10)
    FactorGAN's FID is below the GAN's (the same sizes and seed otherwise)."""
    fids = tiny_claim_fids(tmp_path / "run", seed)
    assert fids["claim"] < fids["gan"] - CLAIM_MARGIN, fids
