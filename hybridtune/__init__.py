"""hybridtune: range-test priors, an Optuna search inside them, and a cost-fair proof against grid search.

The public API lives here, grouped by stage in data-flow order (each stage is a sub-package that imports
only from the stages above it); modules whose names start with ``_`` are private. Names are loaded on first
use (PEP 562), so ``import hybridtune.samplers`` (the prior-guided Optuna sampler) does not import torch.

Example:
    >>> import hybridtune as ht
    >>> task = ht.Task(model="cnn", data="synthetic:n=300", device="cpu")
    >>> result = ht.train(task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=2, batch_size=32))
    >>> result.status
    'completed'
"""

from __future__ import annotations

import importlib as _importlib
import sys as _sys
import types as _types
from typing import Any as _Any

from ._core import __version__  # noqa: F401  (hybridtune.__version__)

#: Each public name and the stage whose door (``__init__``) it is imported from, in data-flow order.
_STAGE_OF: dict[str, str] = {name: stage for stage, names in {
    # errors and storage
    "_core": ("ConfigError", "DataError", "HybridTuneError", "ModelError", "ProbeError", "StorageError",
              "StorageUnreachable", "TrialFailed", "UnknownNameError", "open_storage", "redact"),
    # samplers: the prior-guided Optuna sampler (no torch)
    "samplers": ("ParamPrior", "PriorSampler"),
    # task: data, models, device, optimizer families
    "task": ("MODELS", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS", "DataSplits", "Task", "TensorSplit", "create_model",
             "evaluate", "list_datasets", "list_models", "load_dataset", "make_splits", "resolve_device"),
    # train: the one trainer, and what it leaves: a recipe and a checkpoint
    "train": ("SCHEDULES", "Cost", "EpochStats", "StepTrace", "TargetHit", "TrainConfig", "TrainResult",
              "param_groups", "train", "Recipe", "load_checkpoint", "read_recipe"),
    # probes: range test, momentum runs, priors
    "probes": ("LRBand", "MomentumRamp", "MomentumRun", "Priors", "RangeTestResult", "find_priors", "lr_range_test",
               "momentum_ramp", "momentum_runs", "suggest_band", "suggest_min_div10", "suggest_steepest",
               "suggest_valley"),
    # space: search space and grid
    "space": ("GridSpace", "Hyperparams", "SearchSpace", "batch_sizes", "grid_space", "scale_lr", "search_space",
              "wide_space"),
    # study: config, specs, workers
    "study": ("StudyConfig", "StudySpec", "WorkerResult", "load_spec", "run_worker"),
    # compare: outcomes and the comparison
    "compare": ("Comparison", "HistoryPoint", "Match", "StudyOutcome", "StudyResult", "load_result"),
    # diagnostics: sweep, procedure, landscape
    "diagnostics": ("Check", "LRRamp", "LandscapeResult", "LineCurve", "OptimizerBand", "ProcedureResult", "RedFlag",
                    "SweepResult", "SweepRun", "landscape", "procedure", "red_flags", "successful_band", "sweep"),
    # report: figures, pages, dashboard
    "report": ("momentum_runs_figure", "range_test_figure", "save_to_dashboard", "study_figures", "write_report"),
    # pipeline: the coordinator, tune, scaled-down tuning
    "pipeline": ("ProxyResult", "TuneResult", "objective", "proxy_study", "rebuild_report", "run_study", "tune",
                 "Exported", "export_study", "resolve_config", "study_recipe", "FitResult", "fit", "Diagnosis",
                 "diagnose_study"),
}.items() for name in names}

__all__ = list(_STAGE_OF)

#: The stage packages ``hybridtune.<stage>`` reaches (``train`` is the trainer function; ``cli`` is the CLI's own).
_STAGES = ("_core", "samplers", "task", "probes", "space", "study", "compare", "diagnostics", "report", "pipeline")


def __getattr__(name: str) -> _Any:
    stage = _STAGE_OF.get(name)
    if stage is not None:
        value = getattr(_importlib.import_module(f".{stage}", __name__), name)
    elif name in _STAGES:
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # what the eager facade listed: the public names, the stage packages, the module's own attributes
    return sorted({n for n in globals() if not n.startswith("_") or n.startswith("__") and n not in _HIDDEN}
                  | set(__all__) | set(_STAGES))


class _Facade(_types.ModuleType):
    """``hybridtune.train`` is the trainer function, as ``from .train import train`` made it, even after the
    import system binds the ``hybridtune.train`` sub-package here on its first import."""

    @property
    def train(self) -> _Any:
        return __getattr__("train") if "train" not in globals() else globals()["train"]

    @train.setter
    def train(self, value: _Any) -> None:
        if not isinstance(value, _types.ModuleType):
            globals()["train"] = value


_HIDDEN = {"__getattr__", "__dir__", "__annotations__"}
_sys.modules[__name__].__class__ = _Facade
