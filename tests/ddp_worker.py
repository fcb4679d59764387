"""Run under torchrun: train the toy task with DDP and dump this rank's weights."""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from toy_task import ToyTask, toy_config  # noqa: E402

from fugato.train import Trainer  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    task = ToyTask(toy_config(max_steps=12, batch_size=8))
    Trainer(task, out / "run", quiet=True).fit()
    rank = int(os.environ["RANK"])
    torch.save({k: v.detach().cpu() for k, v in task.nets["mlp"].state_dict().items()},
               out / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
