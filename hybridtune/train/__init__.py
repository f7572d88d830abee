"""How it is trained: :class:`TrainConfig`, the results, the schedules and the one training loop."""

from __future__ import annotations

from ..task._evaluate import evaluate
from ._checkpoint import Recipe, load_checkpoint, read_recipe, save_checkpoint, save_recipe
from ._config import SCHEDULES, TrainConfig
from ._loop import train
from ._optimizer import param_groups
from ._results import Cost, EpochStats, StepTrace, TargetHit, TrainResult
from ._retrain import Tested, train_and_test

__all__ = ["SCHEDULES", "Cost", "EpochStats", "Recipe", "StepTrace", "TargetHit", "Tested", "TrainConfig",
           "TrainResult", "evaluate", "load_checkpoint", "param_groups", "read_recipe", "save_checkpoint",
           "save_recipe", "train", "train_and_test"]
