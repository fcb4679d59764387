"""A tiny regression Task for trainer tests (no corpus, trains in milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fugato.config import ExperimentConfig, TrainConfig
from fugato.train.task import Step, Task, TensorData


@dataclass
class ToyData:
    n: int = 256
    noise: float = 0.1


@dataclass
class ToyNet:
    hidden: int = 16
    dropout: float = 0.1


@dataclass
class ToySample:
    pass


class ToyTask(Task):
    name = "toy"
    DataConfig = ToyData
    NetConfig = ToyNet
    SampleConfig = ToySample

    def build_data(self) -> tuple[TensorData, TensorData]:
        g = torch.Generator().manual_seed(123)
        x = torch.randn(self.config.data.n, 4, generator=g)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + self.config.data.noise * torch.randn(
            self.config.data.n, 1, generator=g)
        cut = self.config.data.n * 3 // 4
        return TensorData((x[:cut], y[:cut])), TensorData((x[cut:], y[cut:]))

    def build_nets(self) -> dict[str, nn.Module]:
        h = self.config.net.hidden
        drop = self.config.net.dropout
        return {"mlp": nn.Sequential(nn.Linear(4, h), nn.ReLU(), nn.Dropout(drop), nn.Linear(h, 1))}

    def _mse(self, nets, batch, step):  # type: ignore[no-untyped-def]
        x, y = batch
        loss = nn.functional.mse_loss(nets["mlp"](x), y)
        return loss, {"loss": loss.item()}

    def steps(self) -> list[Step]:
        return [Step("main", self._mse)]


def toy_config(**train: object) -> ExperimentConfig:
    defaults = dict(max_steps=20, batch_size=16, lr=1e-2, log_every=5, eval_every=10,
                    checkpoint_every=10, eval_batches=2)
    defaults.update(train)
    return ExperimentConfig(model="toy", data=ToyData(), net=ToyNet(),
                            train=TrainConfig(**defaults), sample=ToySample())  # type: ignore[arg-type]
