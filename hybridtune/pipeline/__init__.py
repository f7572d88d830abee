"""The coordinator (:func:`run_study`), :func:`tune`, :func:`fit`, exports and scaled-down tuning: the only stage
that calls the report stage. The CLI takes what the report stage makes for it (the comparison as text, the probes'
and diagnostics' HTML pages) through this door too."""

from __future__ import annotations

from ..report import explain_lines, landscape_page, procedure_page, range_test_page, summary_rows, sweep_page
from ._doctor import Diagnosis, diagnose_study
from ._export import Exported, export_study, study_recipe
from ._fit import FIT_DEFAULTS, TRAIN_ON, FitResult, fit
from ._proxy import ProxyResult, proxy_study
from ._run import rebuild_report, resolve_config, run_study
from ._tune import TuneResult, objective, tune

__all__ = ["FIT_DEFAULTS", "TRAIN_ON", "Diagnosis", "Exported", "FitResult", "ProxyResult", "TuneResult",
           "diagnose_study", "export_study", "fit", "objective", "proxy_study", "rebuild_report", "resolve_config",
           "run_study", "study_recipe", "tune",
           # the report stage's, for the CLI (the terminal's comparison, the pages of lr-find, sweep, landscape,
           # procedure): only this stage imports report/, so the CLI's one way to what it makes goes through here
           "explain_lines", "landscape_page", "procedure_page", "range_test_page", "summary_rows", "sweep_page"]
