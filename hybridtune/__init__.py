"""hybridtune: range-test priors, an Optuna search inside them, and a cost-fair proof against grid search.

The public API lives here, grouped by stage in data-flow order (each stage is a sub-package that imports
only from the stages above it); modules whose names start with ``_`` are private.

Example:
    >>> import hybridtune as ht
    >>> task = ht.Task(model="cnn", data="synthetic:n=300", device="cpu")
    >>> result = ht.train(task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=2, batch_size=32))
    >>> result.status
    'completed'
"""

from __future__ import annotations

from ._core import (ConfigError, DataError, HybridTuneError, ModelError, ProbeError, StorageError, StorageUnreachable,
                    TrialFailed, UnknownNameError, __version__, open_storage, redact)  # noqa: F401  (hybridtune.__version__)
from .task import (MODELS, MOMENTUM_OPTIMIZERS, OPTIMIZERS, DataSplits, Task, TensorSplit, create_model, evaluate,
                   list_datasets, list_models, load_dataset, make_splits, resolve_device)
from .train import (SCHEDULES, Cost, EpochStats, Recipe, StepTrace, TargetHit, TrainConfig, TrainResult,
                    load_checkpoint, param_groups, read_recipe, train)
from .probes import (LRBand, MomentumRamp, MomentumRun, Priors, RangeTestResult, find_priors, lr_range_test,
                     momentum_ramp, momentum_runs, suggest_band, suggest_min_div10, suggest_steepest,
                     suggest_valley)
from .space import (GridSpace, Hyperparams, SearchSpace, batch_sizes, grid_space, scale_lr, search_space,
                    wide_space)
from .study import StudyConfig, StudySpec, WorkerResult, load_spec, run_worker
from .compare import Comparison, HistoryPoint, Match, StudyOutcome, StudyResult, load_result
from .diagnostics import (Check, LandscapeResult, LineCurve, LRRamp, OptimizerBand, ProcedureResult, RedFlag,
                          SweepResult, SweepRun, landscape, procedure, red_flags, successful_band, sweep)
from .report import momentum_runs_figure, range_test_figure, save_to_dashboard, write_report
from .pipeline import (Diagnosis, Exported, FitResult, ProxyResult, TuneResult, diagnose_study, export_study, fit,
                       objective, proxy_study, rebuild_report, resolve_config, run_study, study_recipe, tune)

__all__ = [
    # errors and storage
    "ConfigError", "DataError", "HybridTuneError", "ModelError", "ProbeError", "StorageError", "StorageUnreachable",
    "TrialFailed", "UnknownNameError", "open_storage", "redact",
    # task: data, models, device, optimizer families
    "MODELS", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS", "DataSplits", "Task", "TensorSplit", "create_model",
    "list_datasets", "list_models", "load_dataset", "make_splits", "resolve_device",
    # train: the one trainer
    "SCHEDULES", "Cost", "EpochStats", "StepTrace", "TargetHit", "TrainConfig", "TrainResult", "evaluate",
    "param_groups", "train",
    # ... and what it leaves: a recipe and a checkpoint
    "Recipe", "load_checkpoint", "read_recipe",
    # probes: range test, momentum runs, priors
    "LRBand", "MomentumRamp", "MomentumRun", "Priors", "RangeTestResult", "find_priors", "lr_range_test",
    "momentum_ramp", "momentum_runs", "suggest_band", "suggest_min_div10", "suggest_steepest", "suggest_valley",
    # space: search space and grid
    "GridSpace", "Hyperparams", "SearchSpace", "batch_sizes", "grid_space", "scale_lr", "search_space",
    "wide_space",
    # study: config, specs, workers
    "StudyConfig", "StudySpec", "WorkerResult", "load_spec", "run_worker",
    # compare: outcomes and the comparison
    "Comparison", "HistoryPoint", "Match", "StudyOutcome", "StudyResult", "load_result",
    # diagnostics: sweep, procedure, landscape
    "Check", "LRRamp", "LandscapeResult", "LineCurve", "OptimizerBand", "ProcedureResult", "RedFlag",
    "SweepResult", "SweepRun", "landscape", "procedure", "red_flags", "successful_band", "sweep",
    # report: figures, pages, dashboard
    "momentum_runs_figure", "range_test_figure", "save_to_dashboard", "write_report",
    # pipeline: the coordinator, tune, scaled-down tuning
    "ProxyResult", "TuneResult", "objective", "proxy_study", "rebuild_report", "run_study", "tune",
    "Exported", "export_study", "resolve_config", "study_recipe",
    "FitResult", "fit",
    "Diagnosis", "diagnose_study",
]
