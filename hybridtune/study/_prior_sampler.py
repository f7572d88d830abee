"""A prior-guided Optuna sampler: the probes' priors as beliefs that the study's results can override.

Each trial's prior parameters (the LR, the momentum) come from one of three sources, as in PriorBand (Mallik
et al., NeurIPS 2023): the **prior** (a normal distribution on a log scale around the prior's centre, its
width set by the measured confidence), the **wide** prior-free space (uniform, or log-uniform for a log
parameter, on wide bounds) or **around the incumbent** (the best completed, non-diverged trial, perturbed
on the log scale). Every other parameter is drawn at random, as the random baseline draws it.

The shares of the three sources are a pure function of the study's finished trials (:func:`shares_of`),
with ``c`` the mean confidence of the priors:

1. the prior's share starts at ``0.5 + 0.4 c``: 0.9 for a fully trusted prior (even a perfect measurement
   leaves a tenth of the trials to the wide space), half for a weak one (it is still the best single guess);
2. its logit then falls by
   - ``n / (10 + 20 c)`` after ``n`` finished trials: the prior's pull fades over about a small study's
     budget, longer the better it was measured (piBO's decay);
   - 1 for every trial of the prior's (drawn from it, or a queued range-test suggestion) that diverged,
     ended within noise of chance (a hybridtune search's chance floor: a peak far too high often collapses
     to one class with a finite loss) or failed for a reason of its own (not out of memory, not killed):
     such a trial is evidence that its region is too hot;
   - 0.5 for every trial of the prior's that did worse than the best result of the trials drawn before it:
     the prior keeps its share only while its draws still find something better than what is in;
3. of the rest, the incumbent takes ``g / (g + 4)`` (at most 3/4) once there are ``g`` completed,
   non-diverged trials; the wide space keeps the remainder, at least a quarter, so a region the prior
   missed stays reachable.

The prior's width is ``0.5 / c`` decades (at most 2): a fully trusted prior's +-1 width spans the decade
that the narrow search's band ``[lr_max, 10 lr_max]`` spans. The constants were tuned on synthetic bowls
(the optimum at 1x, 10x and 1/10x the prior's centre, with and without divergence above 3x the optimum,
seeds 0-23). With a width of 0.2 decades at full confidence, a fully trusted prior 10x off was still not
within 2x of the optimum after 30 trials on 3 seeds of 16; with these constants every seed was within 27
trials, the held-out seeds 100-139 within 23 (:data:`RECOVERY_TRIALS` states 30), and a correct, fully
trusted prior was within 2x by its 8th trial.

The range test's suggestions still open the study, and they follow the evidence too
(:func:`stepped_suggestion`): a suggestion that starts after a trial that was too hot (diverged, collapsed
to chance, or its training loss climbed back at its peak LR) moves a decade below it; one that starts after
a trial that trained cleanly moves a decade above it, toward where training breaks. With a budget of two
trials (0.1 of the textbook grid) this is the whole search, and it is what recovers a range test that read a
decade too low or too high.

Interrupted trials (Ctrl-C) are no evidence. Decisions depend only on the stored history and on
``numpy.random.default_rng([seed, trial.number, ...])``, never on a stateful RNG, so workers sharing a study
agree on the rule and a resumed study draws the same sequence. Each trial's source is stored as the user
attribute :data:`SOURCE_DRAW` (``prior``, ``wide``, ``incumbent``; ``enqueued`` for a trial queued with
fixed prior values, which pass through untouched).
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.trial import TrialState

from .._core import ConfigError, check_choice
from . import keys
from ._open import study_floor

if TYPE_CHECKING:  # pragma: no cover
    from optuna.trial import FrozenTrial

_log = logging.getLogger(__name__)

#: The trial user attribute that records which source drew the trial's prior parameters.
SOURCE_DRAW = keys.SOURCE_DRAW
PRIOR, WIDE, INCUMBENT, ENQUEUED = "prior", "wide", "incumbent", "enqueued"
#: How a range-test suggestion moved on the evidence (user attribute :data:`~keys.SUGGESTION_MOVE`).
DOWN, UP, BETWEEN = "down", "up", "between"
SOURCES = (PRIOR, WIDE, INCUMBENT)
#: ``log``: the value's log10; ``log1m``: log10(1 - value), for a momentum (0.9 and 0.99 a decade apart).
SCALES = ("log", "log1m")
#: The prior's width (decades) is ``SIGMA_CONFIDENT / confidence``...
SIGMA_CONFIDENT = 0.5
#: ...up to this, where the prior is nearly as wide as the wide space.
SIGMA_MAX = 2.0
#: The perturbation around the incumbent (decades): a factor of about 1.8 either way.
SIGMA_INCUMBENT = 0.25
#: The prior's starting share is ``START_SHARE + START_CONFIDENT * confidence``.
START_SHARE, START_CONFIDENT = 0.5, 0.4
#: Its logit falls by 1 every ``DECAY_TRIALS + DECAY_CONFIDENT * confidence`` finished trials...
DECAY_TRIALS, DECAY_CONFIDENT = 10, 20
#: ...by 1 for each of its trials that diverged or failed...
DIVERGED = 1.0
#: ...and by this for each of its trials that did worse than the best result drawn before it.
BEATEN = 0.5
#: The incumbent's share of the rest is ``g / (g + INCUMBENT_AFTER)`` for ``g`` good trials, at most...
INCUMBENT_AFTER = 4
#: ...this: the wide space always keeps a quarter of the rest.
INCUMBENT_MAX = 0.75
#: The trials within which the synthetic test's best recovers a 10x-misplaced, fully trusted prior.
RECOVERY_TRIALS = 30
#: A range-test suggestion that comes after finished trials moves this factor from them (see
#: :func:`stepped_suggestion`): a decade, the error the benchmark's misreadings make either way.
SUGGESTION_STEP = 10.0
#: A trial whose training loss climbed back by more than this fraction of its starting loss at its peak LR
#: (:meth:`hybridtune.StepTrace.loss_rise`) was warm: at or near where training breaks. On the model zoo's LR map
#: (``benchmarks/suggestion_steps.py``, seeds 0-2) runs a decade below the range test's suggestions climbed
#: 0.02-0.12, runs at them 0.05-0.41 (the CNN's upper suggestion is already warm on some seeds) and runs a decade
#: above them that still trained 0.09-1.0. Replayed on that map, this threshold with a decade's step either way
#: lost at most 0.5 validation points to the narrow search's two suggestions at x1/10, x1 and x10 on every task;
#: 0.2, or no warm signal at all, lost 1.7-2.6 on cnn1d at x10 (a model that still trains there).
WARM_RISE = 0.15
#: The confidence of a prior whose probes measured none (priors stored before confidences existed).
UNMEASURED_CONFIDENCE = 0.25


@dataclass(frozen=True)
class ParamPrior:
    """One parameter's prior: its centre, its confidence in (0, 1], the wide prior-free ``bounds`` and the
    scale its width is measured on. The bounds are widened, if needed, to hold the prior's central 68%
    (its centre +- one width).

    Example:
        >>> p = ParamPrior(centre=3.0, confidence=0.5, bounds=(1e-4, 1.0))
        >>> p.sigma, round(p.bounds[1], 2)
        (1.0, 30.0)
    """

    centre: float
    confidence: float
    bounds: tuple[float, float]
    scale: str = "log"

    def __post_init__(self) -> None:
        check_choice("scale", self.scale, SCALES)
        if not (isinstance(self.confidence, (int, float)) and not isinstance(self.confidence, bool)
                and 0 < self.confidence <= 1):
            raise ConfigError(f"confidence must be in (0, 1], but got confidence={self.confidence}.")
        lo, hi = (float(b) for b in self.bounds)
        for name, v in (("centre", self.centre), ("low bound", lo), ("high bound", hi)):
            if not self.holds(v):
                rule = "a positive number" if self.scale == "log" else "a number below 1"
                raise ConfigError(f"the {name} must be {rule} on the {self.scale} scale, but got {v}.")
        if lo > hi:
            raise ConfigError(f"bounds must be (low, high) with low <= high, but got bounds={(lo, hi)}.")
        t = sorted((self.to_t(lo), self.to_t(hi), self.to_t(self.centre) - self.sigma,
                    self.to_t(self.centre) + self.sigma))
        object.__setattr__(self, "bounds", tuple(sorted((self.from_t(t[0]), self.from_t(t[-1])))))

    @property
    def sigma(self) -> float:
        """The prior's width in decades: narrower the higher the confidence."""
        return min(SIGMA_MAX, SIGMA_CONFIDENT / self.confidence)

    def to_t(self, v: float) -> float:
        return math.log10(v) if self.scale == "log" else math.log10(1 - v)

    def from_t(self, t: float) -> float:
        return 10 ** t if self.scale == "log" else 1 - 10 ** t

    def holds(self, v: float) -> bool:
        """Whether the scale can hold ``v`` (positive on ``log``, below 1 on ``log1m``)."""
        return math.isfinite(v) and (v > 0 if self.scale == "log" else v < 1)

    def t_range(self, low: float, high: float) -> tuple[float, float]:
        """``[low, high]`` on this scale, sorted; an end it cannot hold (0 on ``log``, 1 on ``log1m``) is -inf."""
        ends = [self.to_t(v) if self.holds(v) else -math.inf for v in (low, high)]
        return min(ends), max(ends)


@dataclass(frozen=True)
class _Plan:
    """What one trial draws from: its source and, for ``incumbent``, the values to perturb."""

    source: str
    draw: str
    incumbent: Mapping[str, Any]


def _finished(trials: Sequence[FrozenTrial], number: int = -1) -> list[FrozenTrial]:
    """The finished trials but ``number``; an interrupted one (Ctrl-C) is no evidence."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return [t for t in trials if t.state in states and t.number != number
            and t.user_attrs.get(keys.OUTCOME) != keys.OUTCOME_INTERRUPTED]


def _is_bad(t: FrozenTrial, floor: float | None = None) -> bool:
    """A trial that says its region is too hot: it diverged, it ended within noise of chance (at or below
    ``floor``: a 1cycle peak far too high often collapses to one class without a non-finite loss), or it
    failed for a reason of its own other than running out of memory (a batch-size problem) or being
    interrupted or killed (no outcome at all)."""
    outcome = t.user_attrs.get(keys.OUTCOME)
    if outcome == keys.OUTCOME_DIVERGED:
        return True
    if floor is not None and t.state == TrialState.COMPLETE and t.value is not None and t.value <= floor:
        return True
    return t.state == TrialState.FAIL and outcome not in (None, keys.OUTCOME_FAILED, keys.OUTCOME_INTERRUPTED,
                                                          keys.OUTCOME_OVER_BUDGET)


def _is_prior(t: FrozenTrial) -> bool:
    """A trial the prior answers for: drawn from it, or a range-test suggestion not moved up off it (a
    suggestion moved a decade up tests the region above the prior, and failing there is no evidence against
    it)."""
    return (t.user_attrs.get(SOURCE_DRAW) == PRIOR
            or (t.user_attrs.get(keys.SOURCE) == keys.SUGGESTION_SOURCE
                and t.user_attrs.get(keys.SUGGESTION_MOVE) != UP))


def _is_warm(t: FrozenTrial) -> bool:
    """A finished trial whose training loss climbed back at its peak LR by more than :data:`WARM_RISE`."""
    rise = t.user_attrs.get(keys.LOSS_RISE)
    return isinstance(rise, (int, float)) and rise > WARM_RISE


def _is_clean(t: FrozenTrial, floor: float | None) -> bool:
    """A completed trial that trained well above chance with its loss falling through its peak LR: evidence
    that training breaks somewhere above its LR, not how far."""
    rise = t.user_attrs.get(keys.LOSS_RISE)
    return (t.state == TrialState.COMPLETE and not _is_bad(t, floor) and isinstance(rise, (int, float))
            and rise <= WARM_RISE)


def stepped_suggestion(value: float, trials: Sequence[FrozenTrial], name: str,
                       floor: float | None = None) -> tuple[float, str | None]:
    """Where a range-test suggestion's ``value`` of parameter ``name`` moves after the finished ``trials``,
    and which way (``down``, ``up``, ``between`` or ``None``):

    - **down**, to at most a :data:`SUGGESTION_STEP` below the lowest value that was too hot: a trial that
      diverged, ended within noise of chance or failed on its own (:func:`_is_bad`), or one that was warm
      (:func:`_is_warm`);
    - **up**, to at least a :data:`SUGGESTION_STEP` above the highest value that trained cleanly
      (:func:`_is_clean`) when none was too hot. A clean run only bounds from below where training breaks,
      and 1cycle's best peak sits just under that edge (Smith and Topin 2019), so the step goes toward it:
      if the range test read a decade too low this lands where it should have, and if it read right the
      step is too hot and the clean trial stays the best;
    - **between** a clean value and a hot one above it: their geometric middle.

    Example:
        >>> stepped_suggestion(0.3, [], "lr")
        (0.3, None)
    """
    hot = [t.params[name] for t in trials if name in t.params and (_is_bad(t, floor) or _is_warm(t))]
    clean = [t.params[name] for t in trials if name in t.params and _is_clean(t, floor)]
    if hot:
        below = [c for c in clean if c < min(hot)]
        if below:
            return math.sqrt(max(below) * min(hot)), BETWEEN
        return (min(hot) / SUGGESTION_STEP, DOWN) if value > min(hot) / SUGGESTION_STEP else (value, None)
    if clean and value < max(clean) * SUGGESTION_STEP:
        return max(clean) * SUGGESTION_STEP, UP
    return value, None


def _good(trials: Sequence[FrozenTrial], maximize: bool, floor: float | None = None) -> list[FrozenTrial]:
    """The completed, non-diverged trials, worst first; on a tie the earlier trial counts as the better."""
    ok = [t for t in trials if t.state == TrialState.COMPLETE and not _is_bad(t, floor) and t.value is not None
          and math.isfinite(t.value)]
    return sorted(ok, key=lambda t: ((t.value if maximize else -t.value), -t.number))  # type: ignore[operator]


def shares_of(trials: Sequence[FrozenTrial], confidence: float, *, maximize: bool = True,
              floor: float | None = None) -> dict[str, float]:
    """The three sources' shares after ``trials``, for priors of mean ``confidence``: the rule of the module
    docstring (trials still running or waiting, and interrupted ones, are no evidence).

    Example:
        >>> shares_of([], 1.0)
        {'prior': 0.9, 'wide': 0.1, 'incumbent': 0.0}
    """
    trials = _finished(trials)
    good = _good(trials, maximize, floor)
    start = START_SHARE + START_CONFIDENT * confidence
    logit = math.log(start / (1 - start)) - len(trials) / (DECAY_TRIALS + DECAY_CONFIDENT * confidence)
    logit -= DIVERGED * sum(_is_bad(t, floor) for t in trials if _is_prior(t))
    rank = {t.number: i for i, t in enumerate(good)}  # 0 is the worst
    best_before = -1
    for t in sorted(good, key=lambda t: t.number):
        if _is_prior(t) and rank[t.number] < best_before:
            logit -= BEATEN
        best_before = max(best_before, rank[t.number])
    prior = 1 / (1 + math.exp(-logit))
    incumbent = (1 - prior) * min(INCUMBENT_MAX, len(good) / (len(good) + INCUMBENT_AFTER))
    return {PRIOR: round(prior, 6), WIDE: round(1 - prior - incumbent, 6), INCUMBENT: round(incumbent, 6)}


class PriorSampler(optuna.samplers.BaseSampler):
    """Draw each trial's prior parameters from the prior, the wide space or around the incumbent (see the
    module docstring for the rule); every other parameter at random.

    Args:
        priors: parameter name (as the trial suggests it: ``lr`` or ``base_lr``, ``momentum``) ->
            :class:`ParamPrior`. A prior applies to a continuous ``suggest_float`` parameter.
        seed: with each trial's number, the seed of every draw.
        suggestions: parameter name -> the range test's suggestions, by index. A queued trial that holds
            suggestion ``i`` (user attributes ``source`` and ``suggestion``, see
            :func:`hybridtune.study._queue.fill_search_queue`) and leaves that parameter open gets value ``i``,
            moved by the evidence of the trials finished before it (:func:`stepped_suggestion`: a decade
            down after one that was too hot, a decade up after one that trained cleanly): the suggestions
            follow the evidence too.

    Example:
        >>> import optuna
        >>> sampler = PriorSampler({"lr": ParamPrior(0.1, 0.8, (1e-4, 1.0))}, seed=0)
        >>> study = optuna.create_study(sampler=sampler)
        >>> study.optimize(lambda t: (math.log10(t.suggest_float("lr", 1e-5, 10, log=True)) + 1) ** 2, n_trials=5)
        >>> sorted({t.user_attrs[SOURCE_DRAW] for t in study.trials} - set(SOURCES))
        []
    """

    def __init__(self, priors: Mapping[str, ParamPrior], *, seed: int = 0,
                 suggestions: Mapping[str, Sequence[float]] | None = None) -> None:
        if not priors:
            raise ConfigError("priors must name at least one parameter, but got none.")
        for name, p in priors.items():
            if not isinstance(p, ParamPrior):
                raise ConfigError(f"priors must map a parameter name to a ParamPrior, but got "
                                  f"{name}={type(p).__name__}.")
        self.priors = dict(priors)
        self.seed = int(seed)
        self.suggestions = {k: tuple(float(v) for v in vs) for k, vs in (suggestions or {}).items()}
        self.confidence = sum(p.confidence for p in self.priors.values()) / len(self.priors)
        self._plans: dict[tuple[str, int], _Plan] = {}  # this process's trials, from before_trial to after_trial

    def reseed_rng(self) -> None:
        pass  # every draw comes from (seed, trial number): there is no state to reseed

    def shares(self, study: optuna.Study, number: int = -1) -> dict[str, float]:
        """The sources' shares for trial ``number`` (default: the next one), from the finished trials."""
        trials = _finished(study.get_trials(deepcopy=False), number)
        return shares_of(trials, self.confidence, maximize=_maximize(study), floor=_floor(study))

    def _plan(self, study: optuna.Study, trial: FrozenTrial) -> _Plan:
        key = (study.study_name, trial.number)
        if key not in self._plans:
            fixed = trial.system_attrs.get("fixed_params") or {}  # what enqueue_trial fixed (no public accessor)
            history = _finished(study.get_trials(deepcopy=False), trial.number)
            good = _good(history, _maximize(study), _floor(study))
            incumbent = good[-1].params if good else {}
            if trial.user_attrs.get(keys.SOURCE) or any(name in fixed for name in self.priors):
                self._plans[key] = _Plan(source=ENQUEUED, draw=PRIOR, incumbent=incumbent)
            else:
                shares = shares_of(history, self.confidence, maximize=_maximize(study), floor=_floor(study))
                rng = np.random.default_rng([self.seed, trial.number])
                source = str(rng.choice(SOURCES, p=[shares[s] / sum(shares.values()) for s in SOURCES]))
                self._plans[key] = _Plan(source=source, draw=source, incumbent=incumbent)
            _log.debug("trial %d draws from %s", trial.number, self._plans[key].source)
        return self._plans[key]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        _record(study, trial, self._plan(study, trial).source)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._plans.pop((study.study_name, trial.number), None)

    def _usable(self, name: str, dist: BaseDistribution) -> bool:
        return name in self.priors and isinstance(dist, FloatDistribution) and dist.step is None

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        # the prior parameters every completed trial shared; the first trials draw them independently, alike
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        space = optuna.search_space.intersection_search_space(complete)
        return {n: d for n, d in space.items() if self._usable(n, d)}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {n: self._draw(study, trial, n, d) for n, d in search_space.items()}  # type: ignore[arg-type]

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if self._usable(param_name, param_distribution):
            return self._draw(study, trial, param_name, param_distribution)  # type: ignore[arg-type]
        fallback = optuna.samplers.RandomSampler(seed=_seed(self.seed, trial.number, param_name))
        return fallback.sample_independent(study, trial, param_name, param_distribution)

    def _draw(self, study: optuna.Study, trial: FrozenTrial, name: str, dist: FloatDistribution) -> float:
        """One prior parameter's value, the same whether it is sampled relatively or independently."""
        p, plan = self.priors[name], self._plan(study, trial)
        held = trial.user_attrs.get(keys.SUGGESTION) if trial.user_attrs.get(keys.SOURCE) else None
        if held is not None and int(held) < len(self.suggestions.get(name, ())):
            value, move = stepped_suggestion(self.suggestions[name][int(held)],
                                             _finished(study.get_trials(deepcopy=False), trial.number), name,
                                             _floor(study))
            if move is not None:
                _record(study, trial, move, key=keys.SUGGESTION_MOVE)
            return float(min(max(value, dist.low), dist.high))
        rng = np.random.default_rng(_seed(self.seed, trial.number, name))
        if plan.draw == WIDE:
            lo, hi = max(p.bounds[0], dist.low), min(p.bounds[1], dist.high)
            lo, hi = (lo, hi) if lo <= hi else (dist.low, dist.high)
            if dist.log:
                return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            return float(rng.uniform(lo, hi))
        centre, sigma = p.to_t(p.centre), p.sigma
        if plan.draw == INCUMBENT and p.holds(plan.incumbent.get(name, math.nan)):
            centre, sigma = p.to_t(plan.incumbent[name]), SIGMA_INCUMBENT
        t_lo, t_hi = p.t_range(dist.low, dist.high)
        for _ in range(32):  # a normal truncated to the distribution, by rejection...
            t = rng.normal(centre, sigma)
            if t_lo <= t <= t_hi:
                break
        # ...or, where the distribution lies far from the centre, the last draw clipped into it
        return float(min(max(p.from_t(t), dist.low), dist.high))


def _maximize(study: optuna.Study) -> bool:
    return study.direction.name == "MAXIMIZE"


def _floor(study: optuna.Study) -> float | None:
    """A hybridtune search's chance floor (:func:`~hybridtune.study.study_floor`): a trial at or below
    it found nothing; ``None`` for any other study."""
    return study_floor(study) if _maximize(study) else None


def _seed(seed: int, number: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, number, zlib.crc32(name.encode())]).generate_state(1)[0])


def _record(study: optuna.Study, trial: FrozenTrial, value: str, *, key: str = SOURCE_DRAW) -> None:
    """Store a trial's source as its :data:`SOURCE_DRAW` user attribute (or ``value`` as ``key``).

    A sampler sees a ``FrozenTrial``; writing to it goes through the storage with the trial's id, both private
    (as Optuna's own GridSampler does). Isolated here; ``test_prior_sampler.py`` fails loudly if it breaks.
    """
    study._storage.set_trial_user_attr(trial._trial_id, key, value)


def prior_guided(priors: Any, narrow: Any, *, lr_range: Sequence[float], positions: Sequence[float],
                 confidence: float | None = None) -> tuple[Any, dict[str, Any]]:
    """The search space and the sampler's record (:data:`~hybridtune.study.keys.PRIOR_SAMPLER`) of
    ``space="prior"``: the narrow space's batch sizes and weight decay, with the LR and momentum bounds widened
    to the random baseline's textbook bounds (and to the prior's central 68%), and one :class:`ParamPrior`
    each: the LR centred on the log-middle of the narrow band (``10**0.5 x lr_max`` by default, at the probes'
    batch size), the momentum on the priors' momentum, each with the probes' measured confidence (or
    ``confidence``). The range test's suggestions sit at ``positions`` in the narrow band, as in the narrow
    search.

    Args:
        priors: the :class:`hybridtune.Priors`.
        narrow: the narrow :class:`hybridtune.SearchSpace` built from them (:func:`hybridtune.search_space`).
        lr_range: the narrow band in multiples of ``lr_max``.
        positions: the suggestions' positions in that band (``StudyConfig.suggestions``).
        confidence: overrides both measured confidences.
    """
    from ..space import SearchSpace, suggested_peak, wide_space

    wide = wide_space(narrow.optimizer, narrow.batch_sizes, weight_decay=narrow.weight_decay)
    measured = priors.lr_confidence or UNMEASURED_CONFIDENCE
    lr = ParamPrior(centre=suggested_peak(priors.lr_max, lr_range, 0.5), confidence=confidence or measured,
                    bounds=(min(wide.lr[0], narrow.lr[0]), max(wide.lr[1], narrow.lr[1])))
    params = {narrow.lr_name: lr}
    momentum = narrow.momentum
    if narrow.momentum is not None and wide.momentum is not None and priors.momentum is not None:
        m = ParamPrior(centre=priors.momentum, scale="log1m",
                       confidence=confidence or priors.momentum_confidence or UNMEASURED_CONFIDENCE,
                       bounds=(min(wide.momentum[0], narrow.momentum[0]), max(wide.momentum[1], narrow.momentum[1])))
        params["momentum"] = m
        momentum = (max(0.0, m.bounds[0]), min(m.bounds[1], 0.999))
    space = SearchSpace(optimizer=narrow.optimizer, lr=lr.bounds, ref_batch_size=narrow.ref_batch_size,
                        momentum=momentum, batch_sizes=narrow.batch_sizes, weight_decay=narrow.weight_decay,
                        zero_weight_decay=narrow.zero_weight_decay, source="prior-guided")
    record = {"params": {k: {"centre": p.centre, "confidence": p.confidence, "bounds": list(p.bounds),
                             "scale": p.scale} for k, p in params.items()},
              "suggestions": {narrow.lr_name: [suggested_peak(priors.lr_max, lr_range, pos) for pos in positions]}}
    return space, record


def sampler_from_record(record: Mapping[str, Any], *, seed: int) -> PriorSampler:
    """The :class:`PriorSampler` a stored :func:`prior_guided` record describes (every process builds the same)."""
    params = {k: ParamPrior(centre=float(v["centre"]), confidence=float(v["confidence"]),
                            bounds=tuple(v["bounds"]), scale=str(v["scale"]))  # type: ignore[arg-type]
              for k, v in record["params"].items()}
    return PriorSampler(params, seed=seed, suggestions=record.get("suggestions"))
