"""The one training loop of fugato.

Every model is a `Task`; the trainer owns everything around its update steps: devices, seeds,
DDP, batching, logging to `metrics.jsonl`, validation, atomic checkpoints and resuming. A run
folder holds `config.toml`, `metrics.jsonl` and `checkpoints/{last,best}.pt`.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from fugato.atomic import atomic_path, write_text
from fugato.config import TrainConfig, dump_config
from fugato.errors import FugatoError
from fugato.train import distributed as D
from fugato.train.checkpoint import load_checkpoint, save_checkpoint
from fugato.train.task import Nets, Task, TensorData


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
        cfg = self.config.train
        device = D.pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        info = D.init_distributed(device)
        self.info = info
        if device.type == "cuda":
            torch.cuda.set_device(device)
        seed_everything(cfg.seed)

        checkpoint = None
        if resume:
            last = self.checkpoint_dir / "last.pt"
            if not last.is_file():
                raise FugatoError(f"{self.run_dir}: nothing to resume (no checkpoints/last.pt)")
            checkpoint = load_checkpoint(last)
        elif info.is_main and (self.checkpoint_dir / "last.pt").exists():
            raise FugatoError(
                f"{self.run_dir}: already holds a run; pass --resume to continue it "
                "or choose another --run-dir"
            )

        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text(self.run_dir / "config.toml", dump_config(self.config))

        # Rank 0 builds corpus caches first; the others then read them.
        if not info.is_main:
            D.barrier(info)
        train_data, valid_data = self.task.build_data()
        if info.is_main:
            D.barrier(info)

        self.task.device = device
        self.task.run_dir = self.run_dir
        nets = {name: net.to(device) for name, net in self.task.build_nets().items()}
        self.task.nets = nets
        optimizers = self.task.optimizers(nets)
        steps = self.task.steps()

        start_step, best = 0, math.inf
        if checkpoint is not None:
            for name, net in nets.items():
                net.load_state_dict(checkpoint["nets"][name])
            for name, opt in optimizers.items():
                opt.load_state_dict(checkpoint["optimizers"][name])
            start_step = int(checkpoint["step"])
            best = float(checkpoint.get("best", math.inf))
            _set_rng_state(checkpoint["rng"])
            if info.is_main:
                self._truncate_metrics(start_step)

        if cfg.lr_schedule not in ("constant", "cosine"):
            raise FugatoError(f"train.lr_schedule: {cfg.lr_schedule!r}, not 'constant' or "
                              "'cosine'")
        for opt in optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
        wrapped = self._wrap(nets, device, info)
        schedule = BatchSchedule(len(train_data), cfg.batch_size, cfg.seed, info)
        params_of = {
            name: [p for group in opt.param_groups for p in group["params"]]
            for name, opt in optimizers.items()
        }

        self._install_signal_handlers()
        started = time.monotonic()
        # each logged value is averaged over the updates that logged it (a GAN's critic and
        # generator steps log different keys, some of them several times per step)
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        last_logs: dict[str, Any] = {}
        bar = tqdm(
            total=cfg.max_steps, initial=start_step, desc=self.config.model, unit="step",
            disable=self.quiet or not info.is_main, dynamic_ncols=True,
        )
        step = start_step
        try:
            while step < cfg.max_steps:
                for net in nets.values():
                    net.train()
                batch = train_data.batch(schedule.indices(step), device)
                self.task.on_step(nets, step)
                factor = lr_factor(cfg, step)
                for name, opt in optimizers.items():
                    scale = factor * self.task.lr_scale(name, step)
                    for group in opt.param_groups:
                        group["lr"] = group["initial_lr"] * scale
                for spec in steps:
                    if not spec.active(step):
                        continue
                    for _ in range(spec.repeat):
                        opt = optimizers[spec.optimizer]
                        opt.zero_grad(set_to_none=True)
                        loss, logs = spec.loss(wrapped, batch, step)
                        loss.backward()
                        if cfg.grad_clip:
                            torch.nn.utils.clip_grad_norm_(params_of[spec.optimizer], cfg.grad_clip)
                        opt.step()
                        for k, v in logs.items():
                            sums[k] += float(v)
                            counts[k] += 1
                step += 1
                bar.update(1)

                elapsed = time.monotonic() - started
                # Rank 0 decides for all ranks, so every rank stops and runs the end-of-training
                # stage at the same step.
                out_of_time = D.broadcast_flag(
                    cfg.max_minutes is not None and elapsed > 60 * cfg.max_minutes, info)
                stop = D.broadcast_flag(self._stop_requested, info) or out_of_time
                last_step = step >= cfg.max_steps or stop

                if step % cfg.log_every == 0 or last_step:
                    means = D.all_reduce_mean({k: v / counts[k] for k, v in sums.items()}, info)
                    last_logs = {"step": step, "split": "train", **means,
                                 "lr": cfg.lr * factor, "elapsed_s": round(elapsed, 2)}
                    self._log(last_logs)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(means.items())[:3]})
                    sums.clear()
                    counts.clear()
                if step % cfg.eval_every == 0 or last_step:
                    valid_logs = self._validate(wrapped, valid_data, device, info)
                    if valid_logs:
                        self._log({"step": step, "split": "valid", **valid_logs})
                        last_logs.update({f"valid_{k}": v for k, v in valid_logs.items()})
                        score = valid_logs.get("loss", math.inf)
                        if score < best:
                            best = score
                            self._save(nets, optimizers, step, best, "best.pt")
                if step >= cfg.max_steps or out_of_time:
                    # Also on a spent time budget, so such a run is usable; a resumed run
                    # runs the stage again at its own end.
                    for net in nets.values():
                        net.eval()
                    self.task.on_train_end(nets, train_data)
                if step % cfg.checkpoint_every == 0 or last_step:
                    self._save(nets, optimizers, step, best, "last.pt")
                if stop:
                    if info.is_main and not self.quiet:
                        why = "time budget spent" if out_of_time else "stopped"
                        tqdm.write(f"{why} at step {step}; resume with --resume")
                    break
        finally:
            bar.close()
            self._restore_signal_handlers()
            D.shutdown(info)
        return last_logs

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
