"""One trainer for every model: `Task` describes a model, `Trainer` runs it, `Run` loads it back."""

from fugato.train.run import Run, load_run
from fugato.train.task import Step, Task, TensorData
from fugato.train.trainer import Trainer

__all__ = ["Run", "Step", "Task", "TensorData", "Trainer", "load_run"]
