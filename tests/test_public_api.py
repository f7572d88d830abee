"""The public API is pinned: a name added to or dropped from ``hybridtune.__all__`` is a decision, made here."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hybridtune as ht

PUBLIC = {
    "Check", "Comparison", "ConfigError", "Cost", "DataError", "DataSplits", "Diagnosis", "EpochStats", "Exported", "FitResult", "GridSpace",
    "HistoryPoint", "HybridTuneError", "Hyperparams", "LRBand", "LRRamp", "LandscapeResult", "LineCurve",
    "MODELS", "MOMENTUM_OPTIMIZERS", "Match", "ModelError", "MomentumRamp", "MomentumRun", "OPTIMIZERS",
    "OptimizerBand", "ParamPrior", "Priors", "PriorSampler", "ProbeError", "ProcedureResult", "ProxyResult", "RangeTestResult", "Recipe", "RedFlag",
    "SCHEDULES", "SearchSpace", "StepTrace", "StorageError", "StudyConfig", "StudyOutcome", "StudyResult",
    "StudySpec", "SweepResult", "SweepRun", "TargetHit", "Task", "TensorSplit", "TrainConfig", "TrainResult",
    "StorageUnreachable", "TrialFailed", "TuneResult", "UnknownNameError", "WorkerResult", "batch_sizes", "create_model",
    "diagnose_study", "evaluate", "export_study", "find_priors", "fit", "grid_space", "landscape", "list_datasets", "list_models", "load_checkpoint", "load_dataset",
    "load_result", "load_spec", "lr_range_test", "make_splits", "momentum_ramp", "momentum_runs",
    "momentum_runs_figure", "objective", "open_storage", "param_groups", "procedure", "proxy_study",
    "range_test_figure", "read_recipe", "rebuild_report", "resolve_config", "red_flags", "redact", "resolve_device", "run_study", "run_worker",
    "save_to_dashboard", "scale_lr", "search_space", "study_figures", "study_recipe", "successful_band", "suggest_band", "suggest_min_div10",
    "suggest_steepest", "suggest_valley", "sweep", "train", "tune", "wide_space", "write_report"
}


def test_all_is_pinned() -> None:
    assert sorted(ht.__all__) == sorted(PUBLIC)
    assert len(ht.__all__) == len(set(ht.__all__))


def test_every_public_name_resolves_and_says_what_it_is() -> None:
    for name in ht.__all__:
        obj = getattr(ht, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_public_objects_come_from_the_stage_packages() -> None:
    # users never import from a private module; every public function and class is defined in a stage
    for name in ht.__all__:
        mod = getattr(getattr(ht, name), "__module__", None)
        if mod is not None and mod.startswith("hybridtune"):
            stage = mod.split(".")[1]
            assert stage in {"_core", "samplers", "task", "train", "probes", "space", "study", "compare", "diagnostics",
                             "report", "pipeline"}, f"{name} is defined in {mod}"


@pytest.mark.slow  # a real process: a fresh interpreter's sys.modules
def test_import_is_light() -> None:
    # no plotting library and no terminal UI at import time (torch-lr-finder's anti-pattern)
    code = "import sys, hybridtune; print(sorted(m for m in ('plotly', 'rich', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_sampler_imports_without_torch() -> None:
    # the prior-guided sampler is an Optuna sampler for any study: numpy and Optuna only, like Optuna's own
    code = "import hybridtune.samplers, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    code = "import sys, hybridtune as ht; ht.PriorSampler, ht.ParamPrior; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_the_facade_loads_each_name_on_first_use() -> None:
    # PEP 562: every public name resolves, dir() lists them with the stage packages, an unknown name is an
    # AttributeError, and ht.train stays the trainer even once the hybridtune.train package is imported
    import hybridtune.train  # noqa: F401

    assert callable(ht.train) and ht.train.__module__ == "hybridtune.train._loop"
    assert set(ht.__all__) <= set(dir(ht)) and {"study", "samplers", "task", "__version__"} <= set(dir(ht))
    assert not {"importlib", "sys", "types", "Any"} & set(dir(ht))
    try:
        ht.no_such_name  # noqa: B018
    except AttributeError as e:
        assert str(e) == "module 'hybridtune' has no attribute 'no_such_name'"
    else:
        raise AssertionError("an unknown name must raise AttributeError")
