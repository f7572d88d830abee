"""Cheap probes first: suggestion rules, the LR range test, momentum runs and their :class:`Priors`."""

from __future__ import annotations

from ._suggest import LRBand, suggest_band, suggest_min_div10, suggest_steepest, suggest_valley
from ._rangetest import RangeTestResult, lr_range_test
from ._priors import MomentumRamp, MomentumRun, Priors, find_priors, momentum_ramp, momentum_runs

__all__ = ["LRBand", "MomentumRamp", "MomentumRun", "Priors", "RangeTestResult", "find_priors", "lr_range_test",
    "momentum_ramp", "momentum_runs", "suggest_band", "suggest_min_div10", "suggest_steepest", "suggest_valley"]
