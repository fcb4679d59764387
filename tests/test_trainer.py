import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from toy_task import ToyTask, toy_config

from fugato.errors import FugatoError
from fugato.train import Trainer
from fugato.train.checkpoint import load_checkpoint
from fugato.train.distributed import DistInfo
from fugato.train.trainer import BatchSchedule, lr_factor

HERE = Path(__file__).parent


def weights(task: ToyTask) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in task.nets["mlp"].state_dict().items()}


def test_training_lowers_loss_and_writes_run(tmp_path: Path) -> None:
    task = ToyTask(toy_config(max_steps=60))
    logs = Trainer(task, tmp_path, quiet=True).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["loss"] for r in records if r["split"] == "train"]
    assert train_losses[-1] < 0.25 * train_losses[0]
    assert logs["step"] == 60 and "valid_loss" in logs
    assert (tmp_path / "config.toml").is_file()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert ckpt["step"] == 60 and ckpt["config"]["train"]["max_steps"] == 60
    assert (tmp_path / "checkpoints" / "best.pt").is_file()


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = ToyTask(toy_config(max_steps=20))
    Trainer(straight, tmp_path / "a", quiet=True).fit()

    first = ToyTask(toy_config(max_steps=10))
    Trainer(first, tmp_path / "b", quiet=True).fit()
    resumed = ToyTask(toy_config(max_steps=20))
    Trainer(resumed, tmp_path / "b", quiet=True).fit(resume=True)

    for key, value in weights(straight).items():
        torch.testing.assert_close(weights(resumed)[key], value, rtol=0, atol=0)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "metrics.jsonl").open()]
    assert steps == sorted(steps)


def test_cosine_schedule_warms_up_decays_and_is_logged(tmp_path: Path) -> None:
    cfg = toy_config(max_steps=40).train
    cfg.lr_schedule, cfg.warmup_steps, cfg.min_lr_ratio = "cosine", 10, 0.1
    factors = [lr_factor(cfg, s) for s in range(40)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False))
    assert factors[-1] == pytest.approx(0.1, abs=0.01)

    task = ToyTask(toy_config(max_steps=40))
    task.config.train.lr_schedule, task.config.train.log_every = "cosine", 10
    Trainer(task, tmp_path, quiet=True).fit()
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "metrics.jsonl").open()
           if json.loads(line)["split"] == "train"]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.01 * lrs[0]


def test_a_tasks_lr_scale_multiplies_the_shared_schedule(tmp_path: Path) -> None:
    frozen_after = 5

    class Annealed(ToyTask):
        def lr_scale(self, optimizer: str, step: int) -> float:
            return 1.0 if step < frozen_after else 0.0

    task = Annealed(toy_config(max_steps=5, checkpoint_every=5))
    Trainer(task, tmp_path / "a", quiet=True).fit()
    at_five = weights(task)
    resumed = Annealed(toy_config(max_steps=12))
    Trainer(resumed, tmp_path / "a", quiet=True).fit(resume=True)
    # Adam with a zero learning rate leaves every weight where step 5 left it
    for key, value in at_five.items():
        torch.testing.assert_close(weights(resumed)[key], value, rtol=0, atol=0)
    plain = ToyTask(toy_config(max_steps=12))
    Trainer(plain, tmp_path / "b", quiet=True).fit()
    assert any(not torch.equal(v, weights(plain)[k]) for k, v in at_five.items())


def test_steps_run_in_phases() -> None:
    from fugato.train import Step

    pretrain = Step("g", lambda *a: None, stop=10)  # type: ignore[arg-type, return-value]
    critic = Step("d", lambda *a: None, start=10, every=3)  # type: ignore[arg-type, return-value]
    assert [s for s in range(16) if pretrain.active(s)] == list(range(10))
    assert [s for s in range(16) if critic.active(s)] == [10, 13]


def test_refuses_to_overwrite_a_run_and_to_resume_nothing(tmp_path: Path) -> None:
    Trainer(ToyTask(toy_config(max_steps=2)), tmp_path / "r", quiet=True).fit()
    with pytest.raises(FugatoError, match="--resume"):
        Trainer(ToyTask(toy_config(max_steps=2)), tmp_path / "r", quiet=True).fit()
    with pytest.raises(FugatoError, match="nothing to resume"):
        Trainer(ToyTask(toy_config(max_steps=2)), tmp_path / "empty", quiet=True).fit(resume=True)


def test_batch_schedule_shards_ranks_and_covers_an_epoch() -> None:
    a = BatchSchedule(100, 10, seed=3, info=DistInfo(0, 2, 0))
    b = BatchSchedule(100, 10, seed=3, info=DistInfo(1, 2, 0))
    seen_a = torch.cat([a.indices(s) for s in range(a.steps_per_epoch)])
    seen_b = torch.cat([b.indices(s) for s in range(b.steps_per_epoch)])
    assert len(set(seen_a.tolist()) & set(seen_b.tolist())) == 0
    assert sorted(seen_a.tolist() + seen_b.tolist()) == list(range(100))
    # A fresh schedule gives the same batch for the same step (what resuming relies on).
    again = BatchSchedule(100, 10, seed=3, info=DistInfo(0, 2, 0))
    assert torch.equal(again.indices(7), a.indices(7))
    assert not torch.equal(a.indices(0), a.indices(a.steps_per_epoch))  # new epoch, new order


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name(
    "torchrun").exists(), reason="torchrun not installed")
def test_two_ranks_under_torchrun_end_with_identical_weights(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun) if torchrun.exists() else "torchrun", "--standalone",
           "--nproc_per_node=2", str(HERE / "ddp_worker.py"), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    torch.manual_seed(0)  # the trainer seeds with train.seed = 0 before building the nets
    init = ToyTask(toy_config()).build_nets()["mlp"].state_dict()
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0)
    for key in rank0:  # it did train
        assert not torch.allclose(rank0[key], init[key])
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_sigterm_checkpoints_the_current_step_and_exits_cleanly(tmp_path: Path) -> None:
    script = (
        "import sys; sys.path.insert(0, {here!r})\n"
        "from toy_task import ToyTask, toy_config\n"
        "from fugato.train import Trainer\n"
        "Trainer(ToyTask(toy_config(max_steps=10**9, checkpoint_every=1000, log_every=1000,"
        " eval_every=10**9)), {run!r}, quiet=True).fit()\n"
    ).format(here=str(HERE), run=str(tmp_path / "run"))
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    first = tmp_path / "run" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not first.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    step = load_checkpoint(first)["step"]
    assert step > 1000
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert records[-1]["step"] == step  # the stop was logged and checkpointed at its own step


def test_a_run_ended_by_its_time_budget_says_so_in_eval_json_report_and_last_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fugato.cli import main

    monkeypatch.chdir(Path(__file__).parents[1])
    run = tmp_path / "run"
    sets = ["data.corpus='folder:tests/fixtures/tunes/folk'", "data.workers=1", "net.hidden=16",
            "net.embed=8", "net.layers=1", "train.batch_size=8", "train.eval_batches=1",
            "sample.eval_samples=4", "train.max_steps=400", "train.log_every=10",
            "train.max_minutes=0.00001"]
    main(["train", "configs/melody-lm-quick.toml", "--run-dir", str(run), "--quiet",
          *[x for s in sets for x in ("--set", s)]])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("stopped early: trained 1 of 400 steps")
    main(["eval", str(run), "--quiet"])
    results = json.loads((run / "eval.json").read_text())
    assert (results["steps_done"], results["steps_planned"], results["stopped_early"]) == \
        (1, 400, True)
    first = (run / "report.md").read_text().splitlines()[0]
    assert first.startswith("**Stopped early: trained 1 of 400 steps**")
