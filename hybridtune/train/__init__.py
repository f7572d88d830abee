"""How it is trained: :class:`TrainConfig`, the results, the schedules and the one training loop."""

from __future__ import annotations

from ._checkpoint import Recipe, library_versions, load_checkpoint, read_recipe, save_checkpoint, save_recipe
from ._config import TrainConfig
from ._loop import steps_per_epoch, train
from ._optimizer import param_groups
from ._results import Cost, EpochStats, StepTrace, TargetHit, TrainResult
from ._retrain import Tested, train_and_test
from ._schedules import SCHEDULE_REGISTRY, SCHEDULES, ScheduleInfo, onecycle_momentum, schedule_info

__all__ = ["SCHEDULES", "SCHEDULE_REGISTRY", "Cost", "EpochStats", "Recipe", "ScheduleInfo", "StepTrace", "TargetHit",
           "Tested", "TrainConfig", "TrainResult", "library_versions", "load_checkpoint", "onecycle_momentum",
           "param_groups", "read_recipe", "save_checkpoint", "save_recipe", "schedule_info", "steps_per_epoch", "train",
           "train_and_test"]
