"""The diagnostic procedures: the optimizer x LR sweep, the 7-step procedure and its red flags, weight-space
line searches."""

from __future__ import annotations

from ._landscape import LandscapeResult, LineCurve, landscape
from ._procedure import Check, LRRamp, ProcedureResult, RedFlag, procedure, red_flags
from ._sweep import OptimizerBand, SweepResult, SweepRun, log_lrs, successful_band, sweep

__all__ = ["Check", "LRRamp", "LandscapeResult", "LineCurve", "OptimizerBand", "ProcedureResult", "RedFlag",
    "SweepResult", "SweepRun", "landscape", "log_lrs", "procedure", "red_flags", "successful_band", "sweep"]
