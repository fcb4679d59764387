"""FusionGAN: the critic terms, the RM / MC samplers, the phase hand-overs, and a tiny run end to
end through the command line (train through all three phases, sample, eval)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fugato.config import load_config
from fugato.losses.wasserstein import balance_penalty, critic_loss, ordering_penalty
from fugato.models.fusiongan.task import FusionGAN, folder_name, random_windows
from fugato.music.encodings import EventEncoding
from fugato.paths import data_dir

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "configs" / "fusion-quick.toml"
HAVE_JAZZ = (data_dir(required=False) or Path("/nonexistent")).joinpath(
    "wjazzd", "score_csv.zip").is_file()
TINY = ["data.genre_b='essen:ireland'", "net.mle_weight=0.5", "net.hidden=16", "net.embed=8",
        "net.critic_embed=16",
        "net.critic_filters=16", "net.rollouts=2", "net.pretrain_steps=12", "net.genre_steps=4",
        "train.max_steps=20", "train.batch_size=8", "train.eval_batches=2", "train.log_every=2",
        "train.eval_every=10", "train.checkpoint_every=10", "sample.eval_windows=40"]


def test_critic_terms_on_hand_made_scores() -> None:
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.0])
    assert critic_loss(real, fake).item() == pytest.approx(-2.0)
    assert balance_penalty(torch.tensor([1.0, 3.0]), torch.tensor([0.0])).item() == 2.0
    assert ordering_penalty(torch.tensor([3.0]), torch.tensor([2.0]), torch.tensor([1.0])) == 0
    # the fusion above its own genre and below the other: both hinges fire
    assert ordering_penalty(torch.tensor([1.0]), torch.tensor([2.0]),
                            torch.tensor([3.0])).item() == pytest.approx(2.0)


def test_random_baselines_draw_seen_values_uniformly_or_by_frequency() -> None:
    enc = EventEncoding(steps_per_quarter=4, pitch_range=(36, 96))
    c, d = enc.first_pitch_token + 60 - 36, enc.first_pitch_token + 62 - 36
    hold = enc.HOLD
    # nine C's of one step for each D of four steps
    reference = np.array([[c] * 9 + [d, hold, hold, hold]] * 20)
    rng = np.random.default_rng(0)
    for uniform, share_of_c in ((True, 0.5), (False, 0.9)):
        out = random_windows(reference, 400, enc, rng, uniform=uniform)
        notes = out[out >= enc.first_pitch_token]
        assert set(np.unique(notes)) == {c, d}
        assert abs((notes == c).mean() - share_of_c) < 0.05
        assert out.shape == (400, 13) and (out[:, 0] >= enc.first_pitch_token).all()


def test_phase_changes_copy_the_pretrained_generators() -> None:
    task = FusionGAN(load_config(CONFIG, TINY))
    task.nets = nets = task.build_nets()
    # both MLE baselines start where G_F starts
    for twin in ("mle", "mle_even"):
        assert torch.equal(nets[twin].head.weight, nets["gen_f"].head.weight)
    p, q = task.config.net.pretrain_steps, task.fusion_start
    with torch.no_grad():
        for net in nets.values():
            for param in net.parameters():
                param.add_(torch.randn_like(param))
    task.on_step(nets, p - 1)
    assert not torch.equal(nets["gen_gan"].head.weight, nets["mle"].head.weight)
    task.on_step(nets, p)  # the GAN baseline continues the MLE baseline (pooled A + B)
    assert torch.equal(nets["gen_gan"].head.weight, nets["mle"].head.weight)
    task.on_step(nets, q)
    assert torch.equal(nets["rl_a"].head.weight, nets["gen_a"].head.weight)
    assert torch.equal(nets["rl_b"].head.weight, nets["gen_b"].head.weight)


def fugato(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fugato.cli", *args], capture_output=True,
                          text=True, timeout=900, cwd=ROOT)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_JAZZ:
        pytest.skip("Weimar Jazz Database not found: set FUGATO_DATA to the shared data folder")
    run = tmp_path_factory.mktemp("fusion") / "run"
    done = fugato("train", str(CONFIG), "--run-dir", str(run), "--quiet",
                  *[x for s in TINY for x in ("--set", s)])
    assert done.returncode == 0, done.stderr[-3000:]
    return run


def test_training_runs_the_three_phases(trained_run: Path) -> None:
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").open()]
    train = {r["step"]: r for r in records if r["split"] == "train"}
    assert "nll_f" in train[2] and "w_a" not in train[2]  # maximum likelihood
    assert all("nll_mle" in r for r in train.values())  # the MLE baseline trains throughout
    assert "w_a" in train[14] and "w_f" not in train[14]  # per genre
    assert {"w_f", "f_balance", "ordering", "reward_gen_f", "reward_rl_a"} <= set(train[20])
    valid = [r for r in records if r["split"] == "valid"]
    assert valid[-1]["classifier_accuracy"] > 0.5


def test_samples_of_every_generator_are_midi_music21_reads(trained_run: Path,
                                                            tmp_path: Path) -> None:
    from music21 import converter

    for name in ("A", "B", "F", "MLE", "MLE-1:1", "GAN", "RL-A"):
        out = tmp_path / name
        done = fugato("sample", str(trained_run), "-n", "2", "--generator", name,
                      "--out", str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        files = sorted(out.glob("*.mid"))
        assert len(files) == 2
        score = converter.parse(files[0])
        assert score.highestTime <= 8.0 + 1e-6  # one window: two bars
    done = fugato("sample", str(trained_run), "-n", "2", "--generator", "Z", "--out",
                  str(tmp_path / "z"))
    assert done.returncode == 2 and "generator" in done.stderr


def test_eval_writes_table_one_balance_and_figure_six(trained_run: Path) -> None:
    done = fugato("eval", str(trained_run))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((trained_run / "eval.json").read_text())
    systems = {"RM", "MC", "MLE", "MLE 1:1", "GAN", "RL", "Fusion"}
    assert set(results["table"]) == systems == set(results["balance"])
    for system in systems:
        for feature in ("dd", "npd"):
            for distance in ("eud", "em"):
                cell = results["table"][system][feature][distance]
                assert np.isfinite(cell["diff"]) and cell["ratio"] > 0
    assert 0 <= results["classifier_accuracy"] <= 1
    assert all(0 <= b <= 1 for b in results["balance"].values())
    # the floor is a real mixture of A and B: close to Diff 0 / Ratio 1
    assert abs(results["floor"]["npd"]["em"]["ratio"] - 1) < 0.5
    # mgeval: a real mixture overlaps each genre more than uniformly random notes do
    relative = results["mgeval"]
    assert set(relative) == systems | {"real mixture (floor)"}

    def overlap(system: str, genre: str) -> float:
        return float(np.mean([f["overlap"] for f in relative[system][genre].values()]))

    for genre in ("A", "B"):
        assert overlap("real mixture (floor)", genre) > overlap("RM", genre)
    for png in ("durations.png", "pitch_classes.png", "training.png", "rewards.png"):
        assert (trained_run / "plots" / png).stat().st_size > 1000
    report = (trained_run / "report.md").read_text()
    assert "Table I" in report and "mgeval" in report
    # a few windows of every system, RM and MC included, as MIDI that music21 reads
    from music21 import converter

    for system in systems:
        files = sorted((trained_run / "samples" / folder_name(system)).glob("*.mid"))
        assert len(files) == 4
        assert converter.parse(files[-1]).highestTime <= 8.0 + 1e-6
    # over seeds, the comparison lays the numbers out as Table I with mean ± sd
    from fugato.report import compare_runs

    compare_runs([trained_run, trained_run], trained_run / "compare")
    text = (trained_run / "compare" / "comparison.md").read_text()
    fusion_row = next(line for line in text.splitlines() if line.startswith("| Fusion |"))
    ratio = results["table"]["Fusion"]["npd"]["em"]["ratio"]
    assert "Table I over 2 seeds" in text and f"{ratio:.4g} ± 0" in fusion_row
