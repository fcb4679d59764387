"""A run folder, loaded back: config, task with trained weights, metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fugato import threads
from fugato.config import build_config
from fugato.errors import FugatoError
from fugato.report import Evaluation
from fugato.samples import Samples
from fugato.train.checkpoint import load_checkpoint, saved_state
from fugato.train.distributed import pick_device
from fugato.train.task import Evaluator, Sampler, Task


class Run:
    """A trained run. `Run.load(path).sample(8)` gives eight melodies (for melody models)."""

    def __init__(self, path: Path, task: Task, step: int) -> None:
        self.path = path
        self.task = task
        self.step = step

    @property
    def config(self) -> Any:
        return self.task.config

    @classmethod
    def load(cls, path: str | Path, checkpoint: str = "last", device: str = "auto") -> Run:
        from fugato.pretrained import resolve_run
        from fugato.registry import get_model

        path = resolve_run(path)
        payload = load_checkpoint(path / "checkpoints" / f"{checkpoint}.pt")
        config = build_config(payload["config"], saved=True)
        task = get_model(config.model)(config, saved_state(payload))
        task.device = pick_device(device)
        nets = task.build_nets()
        for name, net in nets.items():
            net.load_state_dict(payload["nets"][name])
            net.to(task.device).eval()
        task.nets = nets
        threads.adapt()  # every command that loads a run (separate, dance, ...) shares fairly
        return cls(path, task, int(payload["step"]))

    def metrics(self) -> list[dict[str, Any]]:
        """The records of `metrics.jsonl` (empty when the file is missing)."""
        file = self.path / "metrics.jsonl"
        if not file.exists():
            return []
        return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]

    def sample(self, n: int, seed: int | None = None, generator: str | None = None,
               **options: Any) -> Samples:
        """`n` pieces of the task's kind (`fugato.samples`); `options` are the task's own
        (e.g. `temperature`). Raises FugatoError for a task that does not sample."""
        if not isinstance(self.task, Sampler):
            raise FugatoError(f"model {self.config.model!r} does not sample")
        threads.adapt()
        return self.task.sample(n, seed=seed, generator=generator, **options)

    def training(self) -> dict[str, Any]:
        """How far training went: `steps_done` (the last step logged in metrics.jsonl, else
        this checkpoint's), `steps_planned` (`train.max_steps`) and `stopped_early` (a time
        budget or a stop ended it before `max_steps`)."""
        logged = [r["step"] for r in self.metrics() if r.get("split") == "train"]
        done, planned = max(logged, default=self.step), self.config.train.max_steps
        return {"steps_done": done, "steps_planned": planned, "stopped_early": done < planned}

    def evaluate(self, seed: int = 0) -> Evaluation:
        """eval.json numbers and report.md text (not written; `fugato eval` writes them), with
        how far training went (`training`); the report's first line says when it stopped
        early."""
        if not isinstance(self.task, Evaluator):
            raise FugatoError(f"model {self.config.model!r} has no evaluation")
        threads.adapt()
        results, report = self.task.evaluate(self, seed=seed)
        training = self.training()
        if training["stopped_early"]:
            report = (f"**Stopped early: trained {training['steps_done']:,} of "
                      f"{training['steps_planned']:,} steps** (the time budget "
                      "`train.max_minutes` or a stop ended it; `fugato train --resume` "
                      "continues). Every number below is of that model.\n\n" + report)
        return Evaluation({**results, **training}, report)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, model={self.config.model!r}, step={self.step})"


def load_run(path: str | Path, checkpoint: str = "last", device: str = "auto") -> Run:
    return Run.load(path, checkpoint=checkpoint, device=device)
