"""Cheap probes first: suggestion rules, the LR range test, momentum runs and their :class:`Priors`."""

from __future__ import annotations

from ._priors import MomentumRamp, MomentumRun, Priors, find_priors, momentum_ramp, momentum_runs
from ._rangetest import EXTEND_MODES, RangeTestResult, lr_range_test
from ._suggest import LRBand, suggest_band, suggest_min_div10, suggest_steepest, suggest_valley

__all__ = ["EXTEND_MODES", "LRBand", "MomentumRamp", "MomentumRun", "Priors", "RangeTestResult", "find_priors",
           "lr_range_test", "momentum_ramp", "momentum_runs", "suggest_band", "suggest_min_div10", "suggest_steepest",
           "suggest_valley"]
