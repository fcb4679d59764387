"""AR-VAE: the attribute loss on hand-made cases, the MeasureVAE's two decoding paths, and a tiny
model end to end through the command line (train, reload, sample, eval, traverse, interpolate,
seeds), in-process (`fugato.cli.main`) but for one call of the installed `fugato` command."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fugato.cli import main
from fugato.config import load_config
from fugato.errors import FugatoError
from fugato.losses.attribute import attribute_regularization, kl_divergence
from fugato.metrics.disentanglement import interpretability
from fugato.metrics.regularised import regularised_spearman, traversal_spearman
from fugato.models.arvae import ARVAE, input_bar
from fugato.models.arvae import evaluate as arvae_evaluate
from fugato.models.arvae.evaluate import SUMMARY, eval_bars
from fugato.music.encodings.measure import MeasureEncoding
from fugato.music.io import read_file, write_midi
from fugato.music.melody import Melody, TimeSignature
from fugato.nn.measure_vae import MeasureVAE
from fugato.train import load_run
from fugato.train.checkpoint import load_checkpoint

ROOT = Path(__file__).parents[1]
CONFIG = str(ROOT / "configs" / "arvae-folk-quick.toml")


# -- losses ------------------------------------------------------------------------------------
def test_attribute_loss_matches_a_hand_computed_case() -> None:
    a = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    t = math.tanh(10 * 0.5)
    # in order: the two off-diagonal pairs each miss by 1 - tanh(5); 4 pairs in the mean
    loss, per = attribute_regularization(torch.tensor([[0.0], [0.5]], dtype=a.dtype), a, delta=10.0)
    assert loss.item() == pytest.approx(2 * (1 - t) / 4, rel=1e-5)
    assert per.shape == (1,)
    # reversed order: each off-diagonal pair misses by 1 + tanh(5)
    loss, _ = attribute_regularization(torch.tensor([[0.5], [0.0]], dtype=a.dtype), a, delta=10.0)
    assert loss.item() == pytest.approx(2 * (1 + t) / 4, rel=1e-5)
    # equal attributes: sign 0, so the term asks for equal codes
    loss, _ = attribute_regularization(torch.tensor([[0.0], [0.1]]), torch.zeros(2, 1), 10.0)
    assert loss.item() == pytest.approx(2 * math.tanh(1.0) / 4, rel=1e-5)


def test_attribute_loss_sums_or_averages_attributes() -> None:
    z, a = torch.randn(8, 3), torch.rand(8, 3)
    total, per = attribute_regularization(z, a, reduction="sum")
    mean, _ = attribute_regularization(z, a, reduction="mean")
    assert per.shape == (3,)
    assert total.item() == pytest.approx(per.sum().item())
    assert mean.item() == pytest.approx(per.mean().item())
    # attribute l is tied to column l only
    _, per_shuffled = attribute_regularization(z[:, [0, 2, 1]], a[:, [0, 2, 1]])
    assert torch.allclose(per_shuffled, per[[0, 2, 1]])


def test_attribute_loss_gradient_orders_codes_like_attributes() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(32, 2, generator=g)
    z = torch.randn(32, 2, generator=g).mul(0.05).requires_grad_()
    optimizer = torch.optim.SGD([z], lr=0.05)
    before = attribute_regularization(z, a)[0].item()
    for _ in range(200):
        optimizer.zero_grad()
        attribute_regularization(z, a)[0].backward()
        optimizer.step()
    assert attribute_regularization(z, a)[0].item() < before / 2
    for l in range(2):  # the codes now sort like the attributes
        rank_z = z[:, l].detach().argsort().argsort().float()
        rank_a = a[:, l].argsort().argsort().float()
        assert torch.corrcoef(torch.stack([rank_z, rank_a]))[0, 1] > 0.95


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    assert kl_divergence(torch.zeros(4, 3), torch.zeros(4, 3)).item() == 0.0
    # one dim with mu = 1, var = 1: KL = 1/2 per bar
    mu = torch.tensor([[1.0, 0.0]])
    assert kl_divergence(mu, torch.zeros(1, 2)).item() == pytest.approx(0.5)


# -- metrics of the regularised dimensions -------------------------------------------------------
def test_regularised_spearman_reads_dimension_l_for_attribute_l() -> None:
    factors = np.array([[0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0]])
    # dim 0 rises with factor 0 (not linearly: ranks only), dim 1 is constant, dim 2 would
    # order factor 1 but is not its regularised dimension
    codes = np.stack([factors[:, 0] ** 3, np.ones(4), factors[:, 1]], axis=1)
    assert regularised_spearman(codes, factors).tolist() == pytest.approx([1.0, 0.0])
    swapped = codes[:, [2, 0, 1]]
    assert regularised_spearman(swapped, factors).tolist() == pytest.approx([-1.0, -1.0])


def test_traversal_spearman_averages_the_per_bar_correlations() -> None:
    values = np.linspace(-1, 1, 5)
    rising, falling = values ** 3, -values
    assert traversal_spearman(np.stack([rising, rising]), values) == pytest.approx(1.0)
    assert traversal_spearman(np.stack([rising, falling]), values) == pytest.approx(0.0)
    three_of_four = np.stack([rising, rising, falling, rising])
    assert traversal_spearman(three_of_four, values) == pytest.approx(0.5)


# -- network -----------------------------------------------------------------------------------
def test_measure_vae_shapes_and_free_decoding_agrees_with_teacher_forcing() -> None:
    torch.manual_seed(0)
    vae = MeasureVAE(vocab=32, embed=6, enc_hidden=16, enc_out=24, z_dim=8, dec_hidden=16).eval()
    bars = torch.randint(0, 32, (5, 24))
    logits, mu, logvar, z = vae(bars)
    assert logits.shape == (5, 24, 32) and mu.shape == logvar.shape == z.shape == (5, 8)
    tokens = vae.decode_free(mu)
    assert tokens.shape == (5, 24) and tokens.dtype == torch.long
    # the free-running argmax path is the teacher-forced path fed its own outputs
    assert torch.equal(vae.decode_teacher(mu, tokens).argmax(-1), tokens)
    # sampling draws each token from the teacher-forced softmax given the tokens it drew
    # before: the same generator stream, step by step, draws the same tokens
    sampled = vae.decode_free(mu, temperature=1.0, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        probs = torch.softmax(vae.decode_teacher(mu, sampled), dim=-1)  # (5, 24, 32)
    g = torch.Generator().manual_seed(1)
    redrawn = [torch.multinomial(probs[:, t], 1, generator=g)[:, 0] for t in range(24)]
    assert torch.equal(torch.stack(redrawn, dim=1), sampled)
    assert not torch.equal(sampled, tokens)


# -- end to end --------------------------------------------------------------------------------
FUGATO = Path(sys.executable).with_name("fugato")
"""The installed `fugato` command (the venv's console script)."""


def fugato(*args: str) -> int:
    """`fugato ARGS` in this process: its exit status."""
    return main(list(args))


TINY = ["net.embed=4", "net.enc_hidden=16", "net.enc_layers=1", "net.enc_out=32",
        "net.z_dim=8", "net.dec_hidden=24", "net.dec_layers=1", "train.batch_size=64",
        "train.lr=0.003", "train.log_every=10", "train.eval_batches=2", "train.max_minutes=5",
        "sample.eval_bars=200", "sample.traversal_bars=10", "net.gamma_warmup_steps=20"]


def write_random_tunes(folder: Path, count: int) -> Path:
    """`count` 4/4 MIDI tunes of 8 random bars each (about half holds, 40% pitches in MIDI
    62..75, the rest rests) into `folder`; the same first tunes for every count."""
    rng = np.random.default_rng(0)
    enc = MeasureEncoding()
    for i in range(count):
        kind = rng.choice(3, size=(8, 24), p=[0.5, 0.1, 0.4])  # hold / rest / pitch
        pitch = enc.pitch_token(rng.integers(62, 76, size=(8, 24)))
        tokens = np.where(kind == 2, pitch, kind)
        tokens[0, 0] = pitch[0, 0]
        melody = enc.decode(tokens).replace(time_signatures=[TimeSignature(0, 4, 4)])
        write_midi(melody, folder / f"tune{i:02d}.mid")
    return folder


@pytest.fixture(scope="module")
def folk_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 short 4/4 tunes of random bars (no corpus build from music21: fast)."""
    return write_random_tunes(tmp_path_factory.mktemp("tunes"), 40)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, folk_folder: Path) -> Path:
    run = tmp_path_factory.mktemp("arvae") / "run"
    sets = [*TINY, f"data.corpora=['folder:{folk_folder}']", "train.max_steps=60",
            "train.eval_every=30", "train.checkpoint_every=30"]
    assert fugato("train", CONFIG, "--run-dir", str(run), "--quiet",
                  *[x for s in sets for x in ("--set", s)]) == 0
    return run


def test_training_lowers_the_loss_and_writes_a_run(trained_run: Path) -> None:
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").open()]
    train = [r for r in records if r["split"] == "train"]
    assert train[-1]["recon"] < train[0]["recon"]
    assert train[0]["gamma"] < train[-1]["gamma"] == 1.0  # the warm-up
    assert any(r["split"] == "valid" and r["gamma"] == 1.0 for r in records)
    checkpoint = load_checkpoint(trained_run / "checkpoints" / "last.pt")
    assert checkpoint["step"] == 60
    assert checkpoint["saved_state"]["encoding"]["type"] == "measure"


def test_reloaded_run_samples_one_bar_melodies(trained_run: Path, tmp_path: Path) -> None:
    run = load_run(trained_run)
    melodies = run.sample(6, seed=2)
    assert isinstance(melodies, list)
    assert len(melodies) == 6 and all(isinstance(m, Melody) for m in melodies)
    assert all(m.end <= 4 * 960 for m in melodies)
    assert run.sample(6, seed=2) == melodies
    assert fugato("sample", str(trained_run), "-n", "3", "--out", str(tmp_path), "--seed",
                  "2", "--quiet") == 0
    files = sorted(tmp_path.glob("*.mid"))
    assert len(files) == 3
    for path, melody in zip(files, melodies[:3], strict=True):
        if len(melody):  # a tiny model may decode a bar of holds: a MIDI file without notes
            assert read_file(path)[0] == melody


def test_eval_writes_every_metric(trained_run: Path) -> None:
    assert fugato("eval", str(trained_run), "--quiet") == 0
    results = json.loads((trained_run / "eval.json").read_text())
    for key in SUMMARY:
        assert np.isfinite(results[key]), key
    assert 0 <= results["recon_accuracy"] <= 1
    assert set(results["per_attribute"]) == {"rhythmic_complexity", "pitch_range",
                                             "note_density", "contour"}
    for l, (name, per) in enumerate(results["per_attribute"].items()):
        # SCC takes the best dimension: at least the regularised dimension's |Spearman| (the
        # reference's SCC also drops correlations of p > 0.05)
        assert abs(per["scc_regularised_dim"]) <= per["scc_unfiltered"] + 1e-12, name
        assert per["scc"] <= per["scc_unfiltered"] + 1e-12, name
        assert per["interpretability_dim"] in range(8), name  # net.z_dim=8
        assert per["attribute_dim"] == l, name  # gamma 1: the regularised dimension
    for png in ("training.png", "latents.png", "codes.png", "traversal.png", "surfaces.png"):
        assert (trained_run / "plots" / png).stat().st_size > 1000
    report = (trained_run / "report.md").read_text()
    assert "Per attribute" in report and "![codes](plots/codes.png)" in report
    # the codes coloured by each attribute: four rows of panels of viridis points, not blank
    assert colours_in(trained_run / "plots" / "codes.png") > 100


def colours_in(png: Path) -> int:
    """How many distinct RGB colours the image at `png` has."""
    import matplotlib.image

    pixels = (matplotlib.image.imread(png)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def test_a_beta_vae_is_measured_on_each_attributes_most_informative_dimension(
        folk_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gamma 0 regularises no dimension: traversals and `scc_regularised_dim` use the dimension
    Interpretability picks (highest mutual information), as the paper's Fig. 11, not dim l."""
    run = tmp_path / "beta"
    sets = [*TINY, f"data.corpora=['folder:{folk_folder}']", "train.max_steps=20",
            "train.eval_every=20", "train.checkpoint_every=20", "net.gamma=0"]
    assert fugato("train", CONFIG, "--run-dir", str(run), "--quiet",
                  *[x for s in sets for x in ("--set", s)]) == 0
    swept: list[int] = []
    traversal = ARVAE.traversal

    def spy(self: ARVAE, z: np.ndarray, dim: int, values: np.ndarray) -> np.ndarray:
        swept.append(dim)
        return traversal(self, z, dim, values)

    plotted: list[list[int]] = []
    plot_code_pairs = arvae_evaluate.plot_code_pairs

    def spy_plot(codes: np.ndarray, dims: list[int], *args: object) -> None:
        plotted.append(list(dims))
        plot_code_pairs(codes, dims, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ARVAE, "traversal", spy)
    monkeypatch.setattr(arvae_evaluate, "plot_code_pairs", spy_plot)
    assert fugato("eval", str(run), "--quiet") == 0
    per = json.loads((run / "eval.json").read_text())["per_attribute"]
    dims = [p["interpretability_dim"] for p in per.values()]
    assert swept == dims == [p["attribute_dim"] for p in per.values()]
    assert plotted == [dims]  # codes.png: the same dimensions
    assert dims != list(range(len(dims)))  # eight dims, four attributes: not dim l by chance
    task = load_run(run).task
    assert isinstance(task, ARVAE)
    bars = eval_bars(task, np.random.default_rng(0))
    own = regularised_spearman(task.encode(bars), task.attributes(bars), dims)
    assert [p["scc_regularised_dim"] for p in per.values()] == pytest.approx(own.tolist())


def test_traverse_writes_midi_and_a_png(trained_run: Path, folk_folder: Path,
                                        tmp_path: Path) -> None:
    assert fugato("arvae", "traverse", str(trained_run), "--input",
                  str(folk_folder / "tune00.mid"), "--attribute", "note_density", "contour",
                  "--steps", "5", "--out", str(tmp_path), "--quiet") == 0
    for attribute in ("note_density", "contour"):  # one process, one traversal each
        assert len(list(tmp_path.glob(f"{attribute}-0*.mid"))) == 5
        assert (tmp_path / f"{attribute}-all.mid").exists()
        assert (tmp_path / f"{attribute}.png").stat().st_size > 1000


def test_the_fugato_command_refuses_an_unknown_attribute_in_one_line(trained_run: Path,
                                                                     tmp_path: Path) -> None:
    # the installed command in its own process: its exit status and its stderr are the point
    done = subprocess.run([str(FUGATO), "arvae", "traverse", str(trained_run), "--random",
                           "--attribute", "contour", "nope", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("fugato: error: ") and "'nope'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_users_own_attribute_trains_from_the_config_alone(folk_folder: Path,
                                                            tmp_path: Path) -> None:
    """`module:function` in data.attributes (tests/user_attributes.py): AR-VAE orders its
    regularised dimension by it; a name that does not import is a one-line error."""
    run = tmp_path / "run"
    mine = "user_attributes:syncopation"
    sets = [*TINY, f"data.corpora=['folder:{folk_folder}']", "train.max_steps=200",
            "train.eval_every=100", "train.checkpoint_every=100",
            f"data.attributes=['{mine}', 'note_density']"]
    assert fugato("train", CONFIG, "--run-dir", str(run), "--quiet",
                  *[x for s in sets for x in ("--set", s)]) == 0
    assert fugato("eval", str(run), "--quiet") == 0
    per = json.loads((run / "eval.json").read_text())["per_attribute"]
    assert set(per) == {mine, "note_density"}
    # of the eight dimensions, the regularised one is the attribute's best (SCC is the best)
    assert per[mine]["scc_regularised_dim"] == per[mine]["scc"] > 0.4
    assert fugato("arvae", "traverse", str(run), "--random", "--attribute", mine, "--steps",
                  "3", "--out", str(tmp_path / "t"), "--quiet") == 0
    assert (tmp_path / "t" / "user_attributes-syncopation.png").is_file()
    for bad, reason in (("user_attributes:nope", "has no 'nope'"),
                        ("no_such_module:f", "cannot import 'no_such_module'"),
                        ("syncopation", "module:function")):
        with pytest.raises(FugatoError, match=reason):
            ARVAE(load_config(CONFIG, [f"data.attributes=['{bad}']"]))


def test_interpolate_runs_from_a_to_b(trained_run: Path, folk_folder: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    a, b = folk_folder / "tune00.mid", folk_folder / "tune01.mid"
    assert fugato("arvae", "interpolate", str(trained_run), str(a), str(b), "--steps", "4",
                  "--bar-b", "1", "--out", str(tmp_path), "--quiet") == 0
    assert len(list(tmp_path.glob("interpolation-0*.mid"))) == 4
    assert (tmp_path / "interpolation.png").stat().st_size > 1000
    # the end points are the reconstructions of A's bar 0 and B's bar 1; the whole path is one
    # MIDI of 4 bars
    task = load_run(trained_run).task
    assert isinstance(task, ARVAE)
    ends = task.decode(task.encode(np.concatenate([input_bar(task, a, 0), input_bar(task, b, 1)])))
    for path, bar in zip((tmp_path / "interpolation-00.mid", tmp_path / "interpolation-03.mid"),
                         ends, strict=True):
        melody = task.to_melody(bar, "")
        if len(melody):
            assert read_file(path)[0].pitches.tolist() == melody.pitches.tolist()
    assert (tmp_path / "interpolation-all.mid").stat().st_size > 0
    capsys.readouterr()
    assert fugato("arvae", "interpolate", str(trained_run), str(a), str(b), "--bar-a", "99",
                  "--out", str(tmp_path)) == 2
    assert "no bar 99" in capsys.readouterr().err


def test_seeds_trains_evaluates_and_compares_then_skips_finished_runs(folk_folder: Path,
                                                                     tmp_path: Path) -> None:
    sets = [*TINY, f"data.corpora=['folder:{folk_folder}']", "train.max_steps=20",
            "train.eval_every=20", "train.checkpoint_every=20"]
    args = ["seeds", CONFIG, "--seeds", "0", "1", "--out", str(tmp_path), "--jobs", "2",
            "--threads", "1", "--quiet", *[x for s in sets for x in ("--set", s)]]
    assert fugato(*args) == 0
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    group = comparison["groups"]["arvae-folk-quick"]
    assert len(group["interpretability"]) == 2
    assert "gamma" not in comparison["metrics"] and "recon_accuracy" in comparison["metrics"]
    assert (tmp_path / "comparison.png").stat().st_size > 1000
    evals = [tmp_path / f"arvae-folk-quick-seed{s}" / "eval.json" for s in (0, 1)]
    # different seeds, different models
    assert json.loads(evals[0].read_text()) != json.loads(evals[1].read_text())
    stamps = [p.stat().st_mtime_ns for p in evals]
    assert fugato(*args) == 0
    assert [p.stat().st_mtime_ns for p in evals] == stamps


# -- the paper's claim -------------------------------------------------------------------------
CLAIM_MARGIN = 0.15
"""AR-VAE's Interpretability exceeds the beta-VAE's by at least this on the tiny runs below.
Measured as this test runs (200 steps, one thread, 112 held-out bars), seeds 0..5: AR-VAE
0.43-0.50, beta-VAE 0.02-0.11, the gap 0.33-0.41 (seeds 0, 1: 0.429 vs 0.022, 0.500 vs 0.094);
with gamma 0 for both the two runs are the same model and the gap is 0 (the test fails). The
margin is under half the smallest gap."""


@pytest.fixture(scope="module")
def claim_tunes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """160 random-bar tunes: 16 held-out tunes give 112 unique test bars to measure on (the
    folk fixture repeats 8 motifs, so its held-out tunes have 8 unique bars)."""
    return write_random_tunes(tmp_path_factory.mktemp("claim"), 160)


def tiny_interpretability(folder: Path, run: Path, gamma: float, seed: int) -> float:
    """Train the tiny model on `folder`'s tunes for 200 steps at `gamma` and `seed`; its
    Interpretability (the reference's estimator, as eval.json's `interpretability`) on the
    held-out bars `fugato eval` uses."""
    sets = [*TINY, f"data.corpora=['folder:{folder}']", "train.max_steps=200",
            "train.eval_every=200", "train.checkpoint_every=200", f"net.gamma={gamma}",
            f"train.seed={seed}"]
    assert fugato("train", CONFIG, "--run-dir", str(run), "--quiet",
                  *[x for s in sets for x in ("--set", s)]) == 0
    task = load_run(run).task
    assert isinstance(task, ARVAE)
    bars = eval_bars(task, np.random.default_rng(0))
    return float(interpretability(task.encode(bars), task.attributes(bars))["score"])


@pytest.mark.parametrize("seed", [0, 1])
def test_the_attribute_regulariser_makes_the_latent_space_more_interpretable(
        claim_tunes: Path, tmp_path: Path, seed: int) -> None:
    """The paper's Fig. 3 claim in direction: AR-VAE (gamma 1) above the beta-VAE (gamma 0,
    the same model and seed otherwise) on Interpretability."""
    arvae = tiny_interpretability(claim_tunes, tmp_path / "arvae", 1.0, seed)
    beta = tiny_interpretability(claim_tunes, tmp_path / "beta", 0.0, seed)
    assert arvae > beta + CLAIM_MARGIN, (arvae, beta)
