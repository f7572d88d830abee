"""How it is trained: :class:`TrainConfig`, the results, the schedules and the one training loop."""

from __future__ import annotations

from ._checkpoint import Recipe, library_versions, load_checkpoint, read_recipe, save_checkpoint, save_recipe
from ._config import SCHEDULES, TrainConfig
from ._loop import steps_per_epoch, train
from ._optimizer import param_groups
from ._results import Cost, EpochStats, StepTrace, TargetHit, TrainResult
from ._retrain import Tested, train_and_test
from ._schedules import onecycle_momentum

__all__ = ["SCHEDULES", "Cost", "EpochStats", "Recipe", "StepTrace", "TargetHit", "Tested", "TrainConfig",
           "TrainResult", "library_versions", "load_checkpoint", "onecycle_momentum", "param_groups", "read_recipe",
           "save_checkpoint", "save_recipe", "steps_per_epoch", "train", "train_and_test"]
