"""What a model gives the one trainer, and what else it can do, declared as types.

`Task` is what the trainer runs: nets, optimizers, data and update steps. A single-loss model
declares one `Step`; a GAN declares several (say, two critic steps and one generator step),
each with its own optimizer. The trainer runs them in order on every batch.

What a trained task offers besides is declared by the abstract classes it derives from, and the
command line, `Run` and the studio use these and nothing else:

- `Sampler`: `sample(n, seed, generator)` draws new pieces, one documented type per kind of
  output (`fugato.samples`: a list of `Melody`, `Images`, `Dances` or `Audio`);
- `Evaluator`: `evaluate(run, seed)` gives an `Evaluation` (eval.json numbers, report.md);
- `SeedsReport`: `seeds_report(group, summary, runs)`, the system's tables over seeds;
- `BarCodec`: one-bar melodies to latent codes and back (AR-VAE, IML melodies).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from fugato.config import ExperimentConfig
from fugato.report import Evaluation
from fugato.samples import Samples

if TYPE_CHECKING:
    from fugato.music.melody import Melody
    from fugato.train.run import Run

Batch = tuple[torch.Tensor, ...]
Nets = dict[str, nn.Module]
LossFn = Callable[[Nets, Batch, int], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class Step:
    """One update: `loss(nets, batch, step) -> (loss, logs)`, then `optimizer` steps.

    `repeat` runs it several times per batch (e.g. critic rounds); `every` runs it only on
    every n-th training step; `start` and `stop` confine it to the training steps
    [start, stop) (stop None: to the end), so a model can train in phases (pre-training, then
    adversarial training, ...).
    """

    optimizer: str
    loss: LossFn
    repeat: int = 1
    every: int = 1
    start: int = 0
    stop: int | None = None

    def active(self, step: int) -> bool:
        """Whether this update runs at training step `step`."""
        return (self.start <= step and (self.stop is None or step < self.stop)
                and (step - self.start) % self.every == 0)


@dataclass
class TensorData:
    """A dataset held as tensors sharing their first dimension (windows, bars, images, ...)."""

    tensors: tuple[torch.Tensor, ...]

    def __post_init__(self) -> None:
        sizes = {len(t) for t in self.tensors}
        if len(sizes) != 1:
            raise ValueError(f"tensors differ in length: {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.tensors[0])

    def batch(self, index: torch.Tensor, device: torch.device) -> Batch:
        return tuple(t[index].to(device, non_blocking=True) for t in self.tensors)


class Task:
    """Base class of every model. Subclasses set the three config dataclasses and implement
    `build_nets`, `build_data` and `steps`; `optimizers` and `validate` have defaults."""

    name: ClassVar[str]
    DataConfig: ClassVar[type]
    NetConfig: ClassVar[type]
    SampleConfig: ClassVar[type]
    SAVED_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}
    """Per config section, the values of fields added after runs were saved that those runs
    were trained with: a saved config (a checkpoint's, a run's config.toml) lacking such a
    field loads with this value, not the field's default (`build_config(..., saved=True)`)."""

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        """`saved` is what `saved_state()` returned when the checkpoint was written (e.g. the
        encoding), so a run can be rebuilt without its corpus."""
        self.config = config
        self.device = torch.device("cpu")
        self.nets: Nets = {}
        self.run_dir: Path | None = None
        """The run folder while the trainer runs this task (set by `Trainer.fit`)."""
        self.progress = True
        """Whether slow data work (a corpus build, measuring attributes) shows a progress bar;
        `--quiet` turns it off (set by `Trainer.fit` and the commands that load a run)."""

    # -- what the trainer calls ------------------------------------------------------------
    def build_nets(self) -> Nets:
        raise NotImplementedError

    def build_data(self) -> tuple[TensorData, TensorData]:
        """(train, valid) data."""
        raise NotImplementedError

    def steps(self) -> list[Step]:
        raise NotImplementedError

    def optimizers(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        """One Adam over all parameters, named "main"."""
        params = [p for net in nets.values() for p in net.parameters()]
        train = self.config.train
        return {"main": torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay)}

    @torch.no_grad()
    def validate(self, nets: Nets, batch: Batch) -> dict[str, float]:
        """Validation numbers of one batch (averaged over batches by the trainer)."""
        logs: dict[str, float] = {}
        for step in self.steps():
            loss, step_logs = step.loss(nets, batch, 0)
            logs.update(step_logs)
            logs.setdefault("loss", float(loss))
        return logs

    def lr_scale(self, optimizer: str, step: int) -> float:
        """A task's own multiple of optimizer `optimizer`'s learning rate at step `step`, on
        top of the shared `train.lr_schedule` (e.g. an auxiliary net that anneals within its
        own phase). A pure function of the step, so a resumed run follows it. Default: 1."""
        return 1.0

    def on_step(self, nets: Nets, step: int) -> None:
        """Called at the start of every training step, before its updates, on every rank: phase
        changes that are not gradient updates (e.g. copying a pre-trained net into a baseline)
        go here. Default: nothing."""

    def on_train_end(self, nets: Nets, train: TensorData) -> None:
        """Called once when training ends (at `max_steps` or when `max_minutes` is spent), before
        the last checkpoint is written: a second, non-gradient stage (e.g. fitting IML's base
        distribution on latent codes) goes here and keeps its result in `saved_state()`.
        Default: nothing."""

    @staticmethod
    def restore_encoding(saved: dict[str, Any] | None, build: Callable[[], Any]) -> Any:
        """The encoding a checkpoint's saved state embeds (so a loaded run decodes exactly as
        it was trained), else a new one from `build()`; models return it in `saved_state()`."""
        from fugato.music.encodings import encoding_from_dict

        return encoding_from_dict(saved["encoding"]) if saved and "encoding" in saved else build()

    def saved_state(self) -> dict[str, Any]:
        """JSON-safe facts a checkpoint must embed besides weights (encoding, vocab, ...);
        given back to `__init__` as `saved` when the run is loaded. (Not `state_dict`: that
        is `nn.Module`'s name for weights.)"""
        return {}


# -- what a trained task can do besides ------------------------------------------------------------
class Sampler(ABC):
    """A task that draws new pieces.

    `sample` returns the one type of its kind of output (`fugato.samples`): a list of `Melody`,
    `Images` (N, H, W) in [0, 1], `Dances` (N, T, 147) or `Audio` (N, S). `generators` names
    what `generator` may choose (the first is the default; empty: the task has one).
    """

    generators: tuple[str, ...] = ()

    @abstractmethod
    def sample(self, n: int, seed: int | None = None, generator: str | None = None) -> Samples:
        """`n` pieces drawn with `seed` (None: 0) from `generator` (None: the default)."""

    def pick_generator(self, generator: str | None) -> str | None:
        """`generator` checked against `generators` (None: the first, or None for a task
        with one); raises FugatoError naming the choices."""
        from fugato.errors import FugatoError

        if generator is None:
            return self.generators[0] if self.generators else None
        if generator not in self.generators:
            choices = ", ".join(self.generators) or "none: this model has one"
            raise FugatoError(f"unknown generator {generator!r} (choose: {choices})")
        return generator


class Evaluator(ABC):
    """A task that measures a trained run of itself."""

    @abstractmethod
    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """eval.json numbers and report.md text of `run` (plots go to `run.path / "plots"`)."""


class SeedsReport(ABC):
    """A task with tables of its own over seeds (its paper's layout) in `fugato compare`."""

    @staticmethod
    @abstractmethod
    def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
        """Markdown tables of `group` from `compare_runs`' summary ({eval.json path: [mean,
        sd]}) of `runs` runs; "" when the summary holds none of its numbers."""


class BarCodec(ABC):
    """One-bar melodies (4/4 bars in `MeasureEncoding`, 24 tokens) to latent codes and back."""

    @abstractmethod
    def encode(self, bars: Any) -> np.ndarray:
        """Bars (N, 24) int -> encoder means (N, z)."""

    @abstractmethod
    def decode(self, codes: Any, temperature: float | None = None, seed: int | None = None
               ) -> np.ndarray:
        """Codes (N, z) -> free-running decoded bars (N, 24) int64; `temperature` None: the
        config's, 0: argmax."""

    @abstractmethod
    def to_melody(self, bars: np.ndarray, title: str) -> Melody:
        """Bars (n, 24) -> one 4/4 `Melody` of n bars at the sampling tempo."""
