"""A run folder, loaded back: config, task with trained weights, metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fugato.config import build_config
from fugato.errors import FugatoError
from fugato.train.checkpoint import load_checkpoint
from fugato.train.distributed import pick_device
from fugato.train.task import Task


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
        from fugato.models import get_model

        path = Path(path)
        if not path.is_dir():
            raise FugatoError(f"{path}: run folder not found")
        payload = load_checkpoint(path / "checkpoints" / f"{checkpoint}.pt")
        config = build_config(payload["config"])
        task = get_model(config.model)(config, state=payload.get("task_state"))
        task.device = pick_device(device)
        nets = task.build_nets()
        for name, net in nets.items():
            net.load_state_dict(payload["nets"][name])
            net.to(task.device).eval()
        task.nets = nets
        return cls(path, task, int(payload["step"]))

    def metrics(self) -> list[dict[str, Any]]:
        """The records of `metrics.jsonl` (empty when the file is missing)."""
        file = self.path / "metrics.jsonl"
        if not file.exists():
            return []
        return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]

    def sample(self, n: int, seed: int | None = None, **options: Any) -> Any:
        sample = getattr(self.task, "sample", None)
        if sample is None:
            raise FugatoError(f"model {self.config.model!r} does not sample")
        return sample(n, seed=seed, **options)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, model={self.config.model!r}, step={self.step})"


def load_run(path: str | Path, checkpoint: str = "last", device: str = "auto") -> Run:
    return Run.load(path, checkpoint=checkpoint, device=device)
