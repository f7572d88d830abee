"""The coordinator (:func:`run_study`), :func:`tune`, :func:`fit`, exports and scaled-down tuning: the only
callers of the report stage."""

from __future__ import annotations

from ._doctor import Diagnosis, diagnose_study
from ._export import Exported, export_study, study_recipe
from ._fit import FIT_DEFAULTS, TRAIN_ON, FitResult, fit
from ._proxy import ProxyResult, proxy_study
from ._run import rebuild_report, resolve_config, run_study
from ._tune import TuneResult, objective, tune

__all__ = ["FIT_DEFAULTS", "TRAIN_ON", "Diagnosis", "Exported", "FitResult", "ProxyResult", "TuneResult", "export_study", "fit",
           "diagnose_study", "objective", "proxy_study", "rebuild_report", "resolve_config", "run_study", "study_recipe", "tune"]
