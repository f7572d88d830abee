# Copied from hybridtune/samplers/_sampler.py by optunahub/sync.py: edit that file, not this one.
"""The prior-guided sampler: a user's beliefs about the best values as priors that the study's results override."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import TrialState

from ._errors import ConfigError
from ._optuna import enqueued_params, set_user_attr
from ._prior import FROM_PRIOR, ParamPrior, fit, same_choice, wide_draw
from ._shares import (ENQUEUED, INCUMBENT, PRIOR, SOURCE_ATTR, SOURCES, WIDE, Evidence, default_is_failure,
                      incumbent_of, shares_of)

if TYPE_CHECKING:  # pragma: no cover
    from optuna.trial import FrozenTrial

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    """What the caller of a :class:`PriorSampler` holds for a queued trial (its ``held`` hook): values for some
    prior parameters, decided as the trial starts, and the user attributes to record on the trial beside each.

    Example:
        >>> Held({"lr": 0.03}, {"lr": {"moved": "down"}}).values
        {'lr': 0.03}
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    attrs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """What one trial draws from: its source, the source its prior parameters come from, the incumbent's
    values and what the caller holds for it."""

    source: str
    draw: str
    incumbent: Mapping[str, Any]
    held: Held | None


def _seed(seed: int, number: int, name: str) -> int:
    """One draw's seed: from the sampler's seed, the trial's number and the parameter's name."""
    return int(np.random.SeedSequence([seed, number, zlib.crc32(name.encode())]).generate_state(1)[0])


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]


class PriorSampler(optuna.samplers.BaseSampler):
    """A sampler that starts from your beliefs about the best values (priors) and lets the study's results
    override them, as in PriorBand (Mallik et al., NeurIPS 2023) and piBO (Hvarfner et al., ICLR 2022).

    Each trial draws its prior parameters from one of three sources: the **prior**
    (:class:`ParamPrior`), the **wide** space (the base sampler) or **around the incumbent** (the best
    trial so far, perturbed on the prior's scale). Their shares are a pure function of the finished trials
    (:func:`shares_of`): the prior starts with ``0.5 + 0.4 c`` of the trials (``c`` the priors' mean
    confidence), and loses ground with every trial, faster with each of its trials that fails or does no
    better than one before it; the incumbent takes up to 3/4 of the rest; the wide space never less than a
    quarter of it. Parameters without a prior (or whose prior does not fit the distribution) are drawn by the
    base sampler.

    A prior that was right is exploited at once; one that was wrong by a decade is given up within a few
    dozen trials (``benchmarks/sampler.py``).

    Every decision depends on the study's stored history and on ``(seed, trial number, parameter)`` only, so
    workers sharing a study agree, and a resumed study draws the same sequence. Each trial records its source as
    the user attribute ``source_draw`` (``prior``, ``wide``, ``incumbent``; ``enqueued`` for a trial queued with
    ``Study.enqueue_trial`` that fixes a prior parameter, whose other prior parameters come from the prior).

    Multi-objective studies are supported: the incumbent is a trial of the Pareto front, and a prior trial
    counts as beaten when an earlier trial was at least as good in every objective. Constraints set with
    ``Trial.set_constraint`` count: an infeasible trial is a failure (by default) and never the incumbent.
    A base sampler's own ``constraints_func`` keeps working: its ``before_trial`` and ``after_trial`` are
    called.

    Args:
        priors: parameter name -> :class:`ParamPrior`. None (or empty): every parameter goes to the base sampler.
        base_sampler: what draws the wide source and the parameters without a prior: any Optuna sampler
            (``TPESampler`` works well). ``None``: random sampling keyed on ``(seed, trial number,
            parameter)``, like ``RandomSampler`` but with no state, so every process agrees.
        seed: with each trial's number, the seed of every draw the sampler makes itself. A seeded sampler
            draws the same sequence again for the same history (one process, or a resumed study), and
            ``reseed_rng`` leaves it so; with ``n_jobs > 1`` or several processes each trial sees whatever has
            finished when it starts, but no two trials draw alike, since their numbers differ. An unseeded
            sampler draws a fresh seed in ``reseed_rng``, and reseeds its base sampler.
        is_failure: whether a finished trial failed: evidence against the prior's region when the prior drew
            it; a failed trial is never the incumbent. Default :func:`default_is_failure`: the trial failed,
            returned a value that is not finite, or broke a constraint.
        is_evidence: whether a finished trial is evidence at all (default: every one).
        counts_for_prior: trials the prior answers for besides those it drew (default: none).
        held: called as each trial starts with ``(study, trial)``; returns a :class:`Held` for a trial the caller
            queued and holds values for (it draws its other prior parameters from the prior), or ``None``.

    Example:
        >>> import math, optuna
        >>> from hybridtune.samplers import ParamPrior, PriorSampler
        >>> def objective(trial):
        ...     lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        ...     layers = trial.suggest_int("layers", 1, 8)
        ...     act = trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
        ...     return math.log10(lr / 3e-3) ** 2 + (layers - 4) ** 2 / 10 + (act != "gelu")
        >>> sampler = PriorSampler({"lr": ParamPrior(1e-3, 0.8), "layers": ParamPrior(4, 0.5),
        ...                         "act": ParamPrior("gelu", 0.7)}, seed=0)
        >>> study = optuna.create_study(sampler=sampler)
        >>> study.optimize(objective, n_trials=20)
        >>> study.best_value < 0.5
        True
    """

    def __init__(self, priors: Mapping[str, ParamPrior] | None = None, *,
                 base_sampler: optuna.samplers.BaseSampler | None = None, seed: int | None = None,
                 is_failure: Callable[[FrozenTrial], bool] | None = None,
                 is_evidence: Callable[[FrozenTrial], bool] | None = None,
                 counts_for_prior: Callable[[FrozenTrial], bool] | None = None,
                 held: Callable[[optuna.Study, FrozenTrial], Held | None] | None = None) -> None:
        for name, p in (priors or {}).items():
            if not isinstance(p, ParamPrior):
                raise ConfigError(f"priors must map a parameter name to a ParamPrior, but got "
                                  f"{name}={type(p).__name__}.")
        if base_sampler is not None and not isinstance(base_sampler, optuna.samplers.BaseSampler):
            raise ConfigError(f"base_sampler must be an Optuna sampler, but got {type(base_sampler).__name__}.")
        for hook, fn in (("is_failure", is_failure), ("is_evidence", is_evidence),
                         ("counts_for_prior", counts_for_prior), ("held", held)):
            if fn is not None and not callable(fn):
                raise ConfigError(f"{hook} must be a function, but got {type(fn).__name__}.")
        self.priors: dict[str, ParamPrior] = dict(priors or {})
        self.confidence = (sum(p.confidence for p in self.priors.values()) / len(self.priors)) if self.priors else 0.0
        self.evidence = Evidence(is_failure=is_failure or default_is_failure,
                                 **{k: v for k, v in (("is_evidence", is_evidence),
                                                      ("counts_for_prior", counts_for_prior)) if v is not None})
        self._base = base_sampler
        self._held = held
        self._seeded = seed is not None
        self._seed = int(seed) if seed is not None else _fresh_seed()
        self._plans: dict[tuple[str, int], _Plan] = {}  # this process's trials, from before_trial to after_trial
        self._warned: set[str] = set()

    def reseed_rng(self) -> None:
        if not self._seeded:
            self._seed = _fresh_seed()
            if self._base is not None:
                self._base.reseed_rng()

    # ------------------------------------------------------------------------------------------
    # The plan: one source per trial

    def shares(self, study: optuna.Study, number: int | None = None) -> dict[str, float]:
        """The sources' shares for trial ``number`` (default: the next one), from the finished trials.

        Example:
            >>> import optuna
            >>> s = PriorSampler({"x": ParamPrior(0.5, 1.0)}, seed=0)
            >>> s.shares(optuna.create_study(sampler=s))
            {'prior': 0.9, 'wide': 0.1, 'incumbent': 0.0}
        """
        trials = self.evidence.finished(study.get_trials(deepcopy=False), number)
        return shares_of(trials, self.confidence, directions=study.directions, evidence=self.evidence)

    def _plan(self, study: optuna.Study, trial: FrozenTrial) -> _Plan:
        key = (study.study_name, trial.number)
        if key not in self._plans:
            history = self.evidence.finished(study.get_trials(deepcopy=False), trial.number)
            good = self.evidence.good(history, study.directions)
            best = incumbent_of(good, study.directions,
                                lambda n: np.random.default_rng([self._seed, trial.number, 1]).integers(n))
            incumbent = best.params if best is not None else {}
            held = self._held(study, trial) if self._held is not None else None
            fixed = enqueued_params(trial)
            if held is not None or any(name in fixed for name in self.priors):
                plan = _Plan(source=ENQUEUED, draw=PRIOR, incumbent=incumbent, held=held)
            else:
                shares = shares_of(history, self.confidence, directions=study.directions, evidence=self.evidence)
                rng = np.random.default_rng([self._seed, trial.number])
                source = str(rng.choice(SOURCES, p=[shares[s] / sum(shares.values()) for s in SOURCES]))
                plan = _Plan(source=source, draw=source, incumbent=incumbent, held=None)
            self._plans[key] = plan
            _log.debug("trial %d draws from %s", trial.number, plan.source)
        return self._plans[key]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self._base is not None:
            self._base.before_trial(study, trial)
        if self.priors:
            set_user_attr(study, trial, SOURCE_ATTR, self._plan(study, trial).source)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Any) -> None:
        try:
            if self._base is not None:
                self._base.after_trial(study, trial, state, values)
        finally:
            self._plans.pop((study.study_name, trial.number), None)

    # ------------------------------------------------------------------------------------------
    # Sampling

    def _usable(self, name: str, dist: BaseDistribution) -> bool:
        """Whether ``name`` has a prior that can draw ``dist`` (else the base sampler draws it)."""
        p = self.priors.get(name)
        if p is None:
            return False
        if p.fits(dist):
            return True
        if name not in self._warned:
            self._warned.add(name)
            _log.warning("the prior on %s (%r) does not fit %r: the base sampler draws it", name, p, dist)
        return False

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        space = dict(self._base.infer_relative_search_space(study, trial)) if self._base is not None else {}
        if self.priors:
            # the prior parameters every completed trial shared; the first trials draw them independently, alike
            complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            for name, dist in optuna.search_space.intersection_search_space(complete).items():
                if self._usable(name, dist):
                    space[name] = dist
        return space

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        # the prior parameters here; the base sampler's relative ones to it; anything else independently
        rest = {n: d for n, d in search_space.items() if not self._usable(n, d)}
        out: dict[str, Any] = {}
        if rest and self._base is not None:
            out.update({n: v for n, v in self._base.sample_relative(study, trial, rest).items() if n in rest})
        for name, dist in search_space.items():
            if name not in rest:
                out[name] = self._draw(study, trial, name, dist)
            elif name not in out:
                out[name] = self.sample_independent(study, trial, name, dist)
        return out

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if self._usable(param_name, param_distribution):
            return self._draw(study, trial, param_name, param_distribution)
        return self._base_draw(study, trial, param_name, param_distribution)

    def _base_draw(self, study: optuna.Study, trial: FrozenTrial, name: str, dist: BaseDistribution) -> Any:
        if self._base is not None:
            return self._base.sample_independent(study, trial, name, dist)
        keyed = optuna.samplers.RandomSampler(seed=_seed(self._seed, trial.number, name))
        return keyed.sample_independent(study, trial, name, dist)

    def _draw(self, study: optuna.Study, trial: FrozenTrial, name: str, dist: BaseDistribution) -> Any:
        """One prior parameter's value, the same whether it is sampled relatively or independently."""
        p, plan = self.priors[name], self._plan(study, trial)
        if plan.held is not None and name in plan.held.values:
            value = _held_value(plan.held.values[name], dist)
            if value is not None:
                for key, v in plan.held.attrs.get(name, {}).items():
                    set_user_attr(study, trial, key, v)
                return value
        if plan.draw == WIDE and self._base is not None:
            return self._base.sample_independent(study, trial, name, dist)
        rng = np.random.default_rng(_seed(self._seed, trial.number, name))
        if plan.draw == WIDE:
            return wide_draw(rng, dist, p.bounds)
        around = plan.incumbent.get(name, FROM_PRIOR) if plan.draw == INCUMBENT else FROM_PRIOR
        return p.draw(rng, dist, around=around)


def _held_value(value: Any, dist: BaseDistribution) -> Any:
    """A held value as ``dist`` takes it: clipped (and rounded) into its range, or one of its choices; ``None``
    for a choice the distribution does not offer."""
    if isinstance(dist, CategoricalDistribution):
        return next((c for c in dist.choices if same_choice(c, value)), None)
    return fit(value, dist)  # type: ignore[arg-type]
