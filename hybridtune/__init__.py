"""hybridtune: range-test priors, an Optuna search inside them, and a cost-fair proof against grid search.

The public API lives here; everything else is private (``hybridtune._*``).

Example:
    >>> import hybridtune as ht
    >>> task = ht.Task(model="cnn", data="synthetic:n=300", device="cpu")
    >>> result = ht.train(task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=2, batch_size=32))
    >>> result.status
    'completed'
"""

from __future__ import annotations

from ._data import DataSplits, TensorSplit, list_datasets, load_dataset, make_splits
from ._device import resolve_device
from ._errors import (ConfigError, DataError, HybridTuneError, ModelError, StorageError,
                      UnknownNameError)
from ._figures import momentum_runs_figure, range_test_figure
from ._landscape import LandscapeResult, LineCurve, landscape
from ._models import MODELS, create_model, list_models
from ._priors import MomentumRamp, MomentumRun, Priors, find_priors, momentum_ramp, momentum_runs
from ._proxy import ProxyResult, proxy_study
from ._procedure import Check, LRRamp, ProcedureResult, RedFlag, procedure, red_flags
from ._rangetest import RangeTestResult, lr_range_test
from ._suggest import LRBand, suggest_band, suggest_min_div10, suggest_steepest, suggest_valley
from ._sweep import OptimizerBand, SweepResult, SweepRun, successful_band, sweep
from ._task import MOMENTUM_OPTIMIZERS, OPTIMIZERS, Task
from ._trainer import (SCHEDULES, Cost, EpochStats, StepTrace, TargetHit, TrainConfig, TrainResult,
                       evaluate, param_groups, train)
# the hybrid study (issue 4)
from ._api import TuneResult, objective, tune
from ._report import save_to_dashboard, write_report
from ._space import (GridSpace, Hyperparams, SearchSpace, batch_sizes, grid_space, scale_lr, search_space,
                     wide_space)
from ._spec import StudySpec, load_spec
from ._study import (Comparison, HistoryPoint, Match, StudyConfig, StudyOutcome, StudyResult, TrialFailed,
                     WorkerResult, load_result, run_study, run_worker)
# scale out (issue 5)
from ._storage import open_storage, redact

__version__ = "0.1.0"

__all__ = [
    "MODELS", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS", "SCHEDULES",
    "ConfigError", "Cost", "DataError", "DataSplits", "EpochStats", "HybridTuneError", "ModelError",
    "StepTrace", "StorageError", "TargetHit", "Task", "TensorSplit", "TrainConfig", "TrainResult",
    "UnknownNameError",
    "create_model", "evaluate", "list_datasets", "list_models", "load_dataset", "make_splits",
    "param_groups", "resolve_device", "train",
    # seed procedures (issue 7)
    "Check", "LRRamp", "LandscapeResult", "LineCurve", "OptimizerBand", "ProcedureResult", "RedFlag",
    "SweepResult", "SweepRun", "landscape", "procedure", "red_flags", "successful_band", "sweep",
    "ProxyResult", "proxy_study",
    # range-test priors (issue 3)
    "LRBand", "MomentumRamp", "MomentumRun", "Priors", "RangeTestResult", "find_priors", "lr_range_test",
    "momentum_ramp", "momentum_runs", "momentum_runs_figure", "range_test_figure", "suggest_band",
    "suggest_min_div10", "suggest_steepest", "suggest_valley",
    # the hybrid study (issue 4)
    "Comparison", "GridSpace", "HistoryPoint", "Hyperparams", "Match", "SearchSpace", "StudyConfig",
    "StudyOutcome", "StudyResult", "StudySpec", "batch_sizes", "grid_space", "load_result", "load_spec",
    "run_study", "save_to_dashboard", "scale_lr", "search_space", "wide_space", "write_report",
    # scale out (issue 5)
    "TrialFailed", "WorkerResult", "open_storage", "redact", "run_worker",
    # the library API for AutoML pipelines (issue 6)
    "TuneResult", "objective", "tune",
]
