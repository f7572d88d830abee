"""The coordinator (:func:`run_study`), :func:`tune` and scaled-down tuning: the only callers of the report
stage."""

from __future__ import annotations

from ._proxy import ProxyResult, proxy_study
from ._run import rebuild_report, run_study
from ._tune import TuneResult, objective, tune

__all__ = ["ProxyResult", "TuneResult", "objective", "proxy_study", "rebuild_report", "run_study", "tune"]
