"""The first model end to end through the command line: train, kill, resume, sample, eval; in
process on the small shipped folk tune folder, except the run that is killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import pytest

from fugato.cli import main
from fugato.models.melody_lm.task import MelodyLM
from fugato.music.io import read_file
from fugato.train import load_run
from fugato.train.checkpoint import load_checkpoint

ROOT = Path(__file__).parents[1]
CONFIG = str(ROOT / "configs" / "melody-lm-quick.toml")
FOLK = f"folder:{ROOT / 'tests' / 'fixtures' / 'tunes' / 'folk'}"
TINY = [f"data.corpus='{FOLK}'", "data.workers=1", "net.hidden=32", "net.embed=16", "net.layers=1",
        "train.batch_size=16", "train.eval_batches=2", "sample.eval_samples=20",
        "train.max_minutes=10", "train.log_every=10"]


def sets(*extra: str) -> list[str]:
    out = []
    for item in [*TINY, *extra]:
        out += ["--set", item]
    return out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("lm") / "run"
    assert main(["train", CONFIG, "--run-dir", str(run), "--quiet", "--device", "cpu",
                 *sets("train.max_steps=40", "train.eval_every=20",
                       "train.checkpoint_every=20")]) == 0
    return run


def test_training_writes_a_complete_run(trained_run: Path) -> None:
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").open()]
    train = [r["loss"] for r in records if r["split"] == "train"]
    assert len(train) >= 2 and train[-1] < train[0]
    assert any(r["split"] == "valid" for r in records)
    checkpoint = load_checkpoint(trained_run / "checkpoints" / "last.pt")
    assert checkpoint["step"] == 40
    assert checkpoint["saved_state"]["encoding"]["type"] == "event"
    assert checkpoint["config"]["data"]["corpus"] == FOLK


def test_sampled_midi_parses_back_to_the_sampled_melodies(trained_run: Path,
                                                           tmp_path: Path) -> None:
    assert main(["sample", str(trained_run), "-n", "4", "--out", str(tmp_path), "--seed", "3",
                 "--device", "cpu"]) == 0
    files = sorted(tmp_path.glob("*.mid"))
    assert len(files) == 4
    expected = load_run(trained_run).sample(4, seed=3)
    assert isinstance(expected, list)
    for path, melody in zip(files, expected, strict=True):
        (back,) = read_file(path)
        assert back == melody and len(back) > 0


def test_same_seed_same_samples(trained_run: Path) -> None:
    run = load_run(trained_run)
    a, b, c = run.sample(3, seed=1), run.sample(3, seed=1), run.sample(3, seed=2)
    assert a == b and a != c


def test_eval_writes_json_and_report(trained_run: Path) -> None:
    assert main(["eval", str(trained_run), "--quiet", "--device", "cpu"]) == 0
    results = json.loads((trained_run / "eval.json").read_text())
    for key in ("dd_em", "npd_em", "dd_eud", "npd_eud"):
        assert 0 < results[key] < float("inf")  # not NaN: samples and test tunes differ
    for key in ("dd_em", "npd_em"):
        assert 0 < results["reference_train_vs_test"][key] < float("inf")
    vocabulary = cast(MelodyLM, load_run(trained_run).task).encoding.vocab_size
    for key in ("perplexity", "test_perplexity"):
        assert 1 < results[key] < vocabulary  # better than uniform over the vocabulary
    assert results["samples"] == 20 and results["sample_notes"] > 0 and results["test_tunes"] > 0
    report = (trained_run / "report.md").read_text()
    assert report.startswith(f"# Melody LM: {results['corpus']}")
    assert f"| validation perplexity | {results['perplexity']:.4g} |" in report
    for png in ("training.png", "durations.png", "pitch_classes.png"):
        assert (trained_run / "plots" / png).stat().st_size > 1000


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "fugato.cli", "train", CONFIG, "--run-dir", str(run), "--quiet",
           *sets("train.max_steps=100000", "train.checkpoint_every=5", "train.log_every=5",
                 "train.eval_every=1000")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if last.exists() and load_checkpoint(last)["step"] >= 10:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
    proc.wait()
    step = load_checkpoint(last)["step"]
    assert step >= 10

    assert main(["train", "--run-dir", str(run), "--resume", "--quiet", "--device", "cpu",
                 "--set", f"train.max_steps={step + 10}"]) == 0
    assert load_checkpoint(last)["step"] == step + 10
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").open()
             if json.loads(line)["split"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == step + 10
