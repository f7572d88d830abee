"""PriorSampler held to Optuna's own sampler contract (``optuna.testing.pytest_samplers``), three ways: with a
prior on every parameter the contract's tests suggest, with no priors at all, and with a TPE base sampler.

Every test of the three test cases that apply runs and passes; none is skipped. The fourth case,
``SingleOnlySamplerTestCase``, is for samplers that refuse multi-objective studies; PriorSampler supports them.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna
import pytest
from optuna.testing.pytest_samplers import (BasicSamplerTestCase, MultiObjectiveSamplerTestCase,
                                            RelativeSamplerTestCase)

from hybridtune.samplers import ParamPrior, PriorSampler

#: A prior on every parameter name the contract's tests suggest, of every kind: each fits some of the
#: distributions those tests give that name and leaves the others to the base sampler.
PRIORS = {
    "x": ParamPrior(1.0, 0.8),  # on each distribution's own scale: log for a log one, linear otherwise
    "y": ParamPrior(3.0, 0.6, scale="log"),
    "z": ParamPrior(0.5, 0.5, scale="log1m"),
    "category": ParamPrior({"x": 2.0, "y": 1.0}, 0.7),  # a weight per choice
    "a": ParamPrior(1, 1.0),  # a preferred choice (or a number)
    "b": ParamPrior(1, 0.9),
    "c": ParamPrior(1, 0.9, scale="log"),
    "d": ParamPrior(1.0, 0.9, scale="linear"),
    "e": ParamPrior(1.0, 0.9, scale="log"),
    "f": ParamPrior(1.0, 0.9),
}


class TestWithPriors(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], optuna.samplers.BaseSampler]:
        return lambda: PriorSampler(PRIORS, seed=0)


class TestWithoutPriors(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], optuna.samplers.BaseSampler]:
        return PriorSampler  # no priors, no seed: the keyed random base sampler alone


class TestWithTPEBase(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], optuna.samplers.BaseSampler]:
        return lambda: PriorSampler(PRIORS, base_sampler=optuna.samplers.TPESampler(n_startup_trials=2, seed=0),
                                    seed=0)
