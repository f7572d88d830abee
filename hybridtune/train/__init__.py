"""How it is trained: :class:`TrainConfig`, the results, the schedules and the one training loop."""

from __future__ import annotations

from ._trainer import (SCHEDULES, Cost, EpochStats, StepTrace, TargetHit, TrainConfig, TrainResult, evaluate,
                       param_groups, train)
from ._retrain import Tested, train_and_test

__all__ = ["SCHEDULES", "Cost", "EpochStats", "StepTrace", "TargetHit", "Tested", "TrainConfig", "TrainResult",
    "evaluate", "param_groups", "train", "train_and_test"]
