"""A prior-guided Optuna sampler: your beliefs about the best values as priors that the study's results override.

Light on purpose: it needs Optuna and numpy only (no torch), like Optuna's own samplers, and works on any
Optuna study::

    import optuna
    from hybridtune.samplers import ParamPrior, PriorSampler

    sampler = PriorSampler({"lr": ParamPrior(1e-3, confidence=0.8),        # log-normal around 1e-3
                            "momentum": ParamPrior(0.9, 0.5, scale="log1m"),
                            "optimizer": ParamPrior("adam", 0.7)}, seed=0)  # a preferred choice
    study = optuna.create_study(sampler=sampler)

A thin public face over private modules: ``_prior`` (:class:`ParamPrior` and its draws on each kind of
distribution), ``_shares`` (the sources' shares: :func:`shares_of`, :class:`Evidence`), ``_sampler``
(:class:`PriorSampler`) and ``_optuna`` (the two private Optuna hooks it needs, each in one function).
"""

from __future__ import annotations

from ._prior import SCALES, ParamPrior
from ._sampler import Held, PriorSampler
from ._shares import (ENQUEUED, INCUMBENT, PRIOR, SOURCE_ATTR, SOURCES, WIDE, Evidence, default_is_failure,
                      shares_of)

__all__ = [
    # the sampler and its priors
    "ParamPrior", "PriorSampler", "SCALES",
    # its evidence: the rules, the shares they give, what it records
    "ENQUEUED", "Evidence", "Held", "INCUMBENT", "PRIOR", "SOURCES", "SOURCE_ATTR", "WIDE", "default_is_failure",
    "shares_of",
]
