"""The one training loop of fugato.

Every model is a `Task`; the trainer owns everything around its update steps: devices, seeds,
DDP, batching, logging to `metrics.jsonl`, validation, atomic checkpoints and resuming. A run
folder holds `config.toml`, `metrics.jsonl` and `checkpoints/{last,best}.pt`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from fugato import threads
from fugato.atomic import atomic_path, write_text
from fugato.config import TrainConfig, dump_config
from fugato.errors import FugatoError
from fugato.train import distributed as D
from fugato.train.checkpoint import load_checkpoint, save_checkpoint
from fugato.train.task import Nets, Step, Task, TensorData


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """The multiple of `cfg.lr` at step `step` (0-based): a linear warm-up, then constant or a
    cosine decay to `min_lr_ratio` at `max_steps`. A pure function of the step, so a resumed
    run follows the same schedule."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class BatchSchedule:
    """Which examples make up the batch of global step `step` on this rank.

    A fresh seeded permutation every epoch, sharded over ranks; a pure function of the step, so
    a resumed run sees exactly the batches the uninterrupted run would have seen.
    """

    def __init__(self, n: int, batch_size: int, seed: int, info: D.DistInfo) -> None:
        if n == 0:
            raise FugatoError("the training set is empty")
        self.n, self.seed, self.info = n, seed, info
        self.per_rank = max(n // info.world_size, 1)
        self.batch_size = min(batch_size, self.per_rank)
        self.steps_per_epoch = self.per_rank // self.batch_size
        self._epoch = -1
        self._order = torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.n, generator=g)
            self._order = perm[self.info.rank :: self.info.world_size][: self.per_rank]
            self._epoch = epoch
        return self._order[k * self.batch_size : (k + 1) * self.batch_size]


@dataclass(eq=False)
class _Session:
    """What one `Trainer.fit` call works on; `step` is the number of steps done."""

    device: torch.device
    info: D.DistInfo
    nets: Nets
    optimizers: dict[str, torch.optim.Optimizer]
    steps: list[Step]
    train_data: TensorData
    valid_data: TensorData
    schedule: BatchSchedule
    wrapped: Nets = field(default_factory=dict)
    """The nets as the updates see them (DDP-wrapped under torchrun)."""
    step: int = 0
    best: float = math.inf
    started: float = field(default_factory=time.monotonic)
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_logs: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def params_of(self) -> dict[str, list[torch.Tensor]]:
        """Each optimizer's parameters (what `grad_clip` clips)."""
        return {name: [p for group in opt.param_groups for p in group["params"]]
                for name, opt in self.optimizers.items()}


class Trainer:
    def __init__(self, task: Task, run_dir: str | Path, quiet: bool = False) -> None:
        self.task = task
        self.config = task.config
        self.run_dir = Path(run_dir)
        self.quiet = quiet
        self._stop_requested = False

    # -- paths -------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    # -- main entry ----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Train to `train.max_steps` (or the time budget); return the last logged numbers."""
        run = self._start(resume)
        self._install_signal_handlers()
        bar = tqdm(
            total=self.config.train.max_steps, initial=run.step, desc=self.config.model,
            unit="step", disable=self.quiet or not run.info.is_main, dynamic_ncols=True,
        )
        try:
            while run.step < self.config.train.max_steps:
                threads.adapt()
                self._train_step(run)
                bar.update(1)
                if self._after_step(run, bar):
                    break
        finally:
            bar.close()
            self._restore_signal_handlers()
            D.shutdown(run.info)
        return run.last_logs

    def _start(self, resume: bool) -> _Session:
        """Devices, seeds, data, nets, optimizers and (with `resume`) the checkpoint's state."""
        cfg = self.config.train
        if cfg.lr_schedule not in ("constant", "cosine"):
            raise FugatoError(f"train.lr_schedule: {cfg.lr_schedule!r}, not 'constant' or "
                              "'cosine'")
        device = D.pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        info = D.init_distributed(device)
        self.info = info
        if device.type == "cuda":
            torch.cuda.set_device(device)
        seed_everything(cfg.seed)
        if cfg.threads is not None:
            threads.configure(cfg.threads)
        checkpoint = self._checkpoint_to_resume(resume, info)
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text(self.run_dir / "config.toml", dump_config(self.config))

        # Rank 0 builds corpus caches first; the others then read them.
        if not info.is_main:
            D.barrier(info)
        self.task.progress = info.is_main and not self.quiet
        train_data, valid_data = self.task.build_data()
        if info.is_main:
            D.barrier(info)

        self.task.device = device
        self.task.run_dir = self.run_dir
        nets = {name: net.to(device) for name, net in self.task.build_nets().items()}
        self.task.nets = nets
        optimizers = self.task.optimizers(nets)
        run = _Session(device, info, nets, optimizers, self.task.steps(), train_data, valid_data,
                       BatchSchedule(len(train_data), cfg.batch_size, cfg.seed, info))
        if checkpoint is not None:
            self._restore(run, checkpoint)
        for opt in optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
        run.wrapped = self._wrap(nets, device, info)
        return run

    def _checkpoint_to_resume(self, resume: bool, info: D.DistInfo) -> dict[str, Any] | None:
        """The last checkpoint with `resume`; refuses to train over an existing run without."""
        last = self.checkpoint_dir / "last.pt"
        if resume:
            if not last.is_file():
                raise FugatoError(f"{self.run_dir}: nothing to resume (no checkpoints/last.pt)")
            return load_checkpoint(last)
        if info.is_main and last.exists():
            raise FugatoError(
                f"{self.run_dir}: already holds a run; pass --resume to continue it "
                "or choose another --run-dir"
            )
        return None

    def _restore(self, run: _Session, checkpoint: dict[str, Any]) -> None:
        """Weights, optimizer moments, step, best score and RNG state of `checkpoint`."""
        for name, net in run.nets.items():
            net.load_state_dict(checkpoint["nets"][name])
        for name, opt in run.optimizers.items():
            opt.load_state_dict(checkpoint["optimizers"][name])
        run.step = int(checkpoint["step"])
        run.best = float(checkpoint.get("best", math.inf))
        _set_rng_state(checkpoint["rng"])
        if run.info.is_main:
            self._truncate_metrics(run.step)

    def _train_step(self, run: _Session) -> None:
        """One training step: the schedule's batch through every active update, in order."""
        cfg = self.config.train
        for net in run.nets.values():
            net.train()
        batch = run.train_data.batch(run.schedule.indices(run.step), run.device)
        self.task.on_step(run.nets, run.step)
        factor = lr_factor(cfg, run.step)
        for name, opt in run.optimizers.items():
            scale = factor * self.task.lr_scale(name, run.step)
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * scale
        for spec in run.steps:
            if not spec.active(run.step):
                continue
            params = run.params_of[spec.optimizer]
            for _ in range(spec.repeat):
                opt = run.optimizers[spec.optimizer]
                opt.zero_grad(set_to_none=True)
                loss, logs = spec.loss(run.wrapped, batch, run.step)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                for k, v in logs.items():
                    run.sums[k] += float(v)
                    run.counts[k] += 1
        run.step += 1

    def _after_step(self, run: _Session, bar: Any) -> bool:
        """Logging, validation, the end-of-training stage and checkpoints after a step;
        True when training stops (a signal or the time budget)."""
        cfg, step = self.config.train, run.step
        elapsed = time.monotonic() - run.started
        # Rank 0 decides for all ranks, so every rank stops and runs the end-of-training stage
        # at the same step.
        out_of_time = D.broadcast_flag(
            cfg.max_minutes is not None and elapsed > 60 * cfg.max_minutes, run.info)
        stop = D.broadcast_flag(self._stop_requested, run.info) or out_of_time
        last_step = step >= cfg.max_steps or stop
        if step % cfg.log_every == 0 or last_step:
            self._log_train(run, elapsed, bar)
        if step % cfg.eval_every == 0 or last_step:
            self._log_valid(run)
        if step >= cfg.max_steps or out_of_time:
            # Also on a spent time budget, so such a run is usable; a resumed run runs the
            # stage again at its own end.
            for net in run.nets.values():
                net.eval()
            self.task.on_train_end(run.nets, run.train_data)
        if step % cfg.checkpoint_every == 0 or last_step:
            self._save(run.nets, run.optimizers, step, run.best, "last.pt")
        if stop and run.info.is_main and not self.quiet:
            why = "time budget spent" if out_of_time else "stopped"
            tqdm.write(f"{why} at step {step}; resume with --resume")
        return stop

    def _log_train(self, run: _Session, elapsed: float, bar: Any) -> None:
        """Each logged value averaged over the updates that logged it since the last record (a
        GAN's critic and generator steps log different keys, some several times per step)."""
        cfg = self.config.train
        means = D.all_reduce_mean({k: v / run.counts[k] for k, v in run.sums.items()}, run.info)
        run.last_logs = {"step": run.step, "split": "train", **means,
                         "lr": cfg.lr * lr_factor(cfg, run.step - 1),
                         "elapsed_s": round(elapsed, 2)}
        self._log(run.last_logs)
        bar.set_postfix({k: f"{v:.3g}" for k, v in list(means.items())[:3]})
        run.sums.clear()
        run.counts.clear()

    def _log_valid(self, run: _Session) -> None:
        """Validation numbers; a new best validation loss writes `best.pt`."""
        valid_logs = self._validate(run.wrapped, run.valid_data, run.device, run.info)
        if not valid_logs:
            return
        self._log({"step": run.step, "split": "valid", **valid_logs})
        run.last_logs.update({f"valid_{k}": v for k, v in valid_logs.items()})
        score = valid_logs.get("loss", math.inf)
        if score < run.best:
            run.best = score
            self._save(run.nets, run.optimizers, run.step, run.best, "best.pt")

    # -- pieces --------------------------------------------------------------------------------
    @staticmethod
    def _wrap(nets: Nets, device: torch.device, info: D.DistInfo) -> Nets:
        if not info.enabled:
            return nets
        ids = [device.index] if device.type == "cuda" else None
        return {
            name: DistributedDataParallel(net, device_ids=ids)
            if any(p.requires_grad for p in net.parameters()) else net
            for name, net in nets.items()
        }

    def _validate(self, nets: Nets, data: TensorData, device: torch.device, info: D.DistInfo
                  ) -> dict[str, float]:
        if len(data) == 0:
            return {}
        bare = {k: unwrap(v) for k, v in nets.items()}
        for net in bare.values():
            net.eval()
        bs = self.config.train.batch_size
        # A fixed random subset: the first windows of a split come from a handful of tunes.
        shuffled = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
        order = shuffled[info.rank :: info.world_size]
        sums: dict[str, float] = defaultdict(float)
        n = 0
        with torch.no_grad():
            for i in range(min(self.config.train.eval_batches, math.ceil(len(order) / bs))):
                idx = order[i * bs : (i + 1) * bs]
                if len(idx) == 0:
                    break
                for k, v in self.task.validate(bare, data.batch(idx, device)).items():
                    sums[k] += float(v)
                n += 1
        return D.all_reduce_mean({k: v / max(n, 1) for k, v in sums.items()}, info)

    def _save(self, nets: Nets, optimizers: dict[str, torch.optim.Optimizer], step: int,
              best: float, name: str) -> None:
        if not self.info.is_main:
            return
        save_checkpoint(self.checkpoint_dir / name, {
            "config": self.config.to_dict(),
            "saved_state": self.task.saved_state(),
            "nets": {k: v.state_dict() for k, v in nets.items()},
            "optimizers": {k: v.state_dict() for k, v in optimizers.items()},
            "step": step,
            "best": best,
            "rng": _rng_state(),
        })

    def _log(self, record: dict[str, Any]) -> None:
        if not self.info.is_main:
            return
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def _truncate_metrics(self, step: int) -> None:
        """Drop records logged after the checkpoint we resume from (they will be redone)."""
        if not self.metrics_path.exists():
            return
        kept = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= step]
        with atomic_path(self.metrics_path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))

    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT finish the current step, checkpoint and exit cleanly."""
        self._old_handlers = {}

        def request_stop(signum: int, frame: Any) -> None:
            self._stop_requested = True

        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, request_stop)
        except ValueError:  # not the main thread: leave signals alone
            self._old_handlers = {}

    def _restore_signal_handlers(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)


def unwrap(net: nn.Module) -> nn.Module:
    return net.module if isinstance(net, DistributedDataParallel) else net
