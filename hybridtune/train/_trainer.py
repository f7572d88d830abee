"""A thin facade over the trainer's modules, for code that still imports from ``train._trainer``.

The trainer lives in ``_config`` (:class:`TrainConfig`), ``_results`` (what a run returns),
``_optimizer`` and ``_schedules`` (what a config builds) and ``_loop`` (:func:`train`); evaluation and
batching live in ``task`` (``task._evaluate``, ``task._batches``). Import from those, or from
:mod:`hybridtune.train`.
"""

from __future__ import annotations

from ..task._batches import autocast as _autocast
from ..task._batches import batches as _batches
from ..task._evaluate import LossFn, MetricFn, evaluate, metric_sum
from ._config import SCHEDULES, TrainConfig
from ._loop import EpochCallback, StepCallback, steps_per_epoch, train
from ._optimizer import current_momentum, make_optimizer, param_groups
from ._results import Cost, EpochStats, Status, StepTrace, TargetHit, TrainResult
from ._schedules import CYCLE_DEPTH, make_scheduler, onecycle_momentum

__all__ = ["CYCLE_DEPTH", "SCHEDULES", "Cost", "EpochCallback", "EpochStats", "LossFn", "MetricFn", "Status",
    "StepCallback", "StepTrace", "TargetHit", "TrainConfig", "TrainResult", "_autocast", "_batches",
    "current_momentum", "evaluate", "make_optimizer", "make_scheduler", "metric_sum", "onecycle_momentum",
    "param_groups", "steps_per_epoch", "train"]
