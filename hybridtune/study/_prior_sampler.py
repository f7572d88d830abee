"""hybridtune's search with ``space="prior"``: the probes' priors as the beliefs of the public
:class:`~hybridtune.samplers.PriorSampler`, and hybridtune's own rules for reading its trials as evidence, passed to it
through its hooks.

The sampler (:mod:`hybridtune.samplers`) draws each trial's LR and momentum from the prior, the wide space or
around the incumbent, with shares that move away from the prior as its trials fail or do worse; see its
docstring. What counts as a failure, and which trials the prior answers for, is the caller's to say. A search
study says it from what its objective stores (:mod:`hybridtune.study.keys`):

- a failure of the prior's region (``is_failure``, :func:`_is_bad`): a trial that diverged, ended within noise of
  chance (at or below the study's chance floor: a 1cycle peak far too high often collapses to one class with a
  finite loss) or failed for a reason of its own, not out of memory (a batch-size problem), not over budget and
  not killed (no outcome at all);
- no evidence at all (``is_evidence``): a trial interrupted by Ctrl-C;
- the prior's trials besides those it drew (``counts_for_prior``): the range test's suggestions, unless one moved
  a decade up off the prior (failing there is no evidence against it);
- held values (``held``, :func:`stepped_suggestion`): the range test's suggestions still open the study, and they
  follow the evidence too: a suggestion that starts after a trial that was too hot (diverged, collapsed to chance,
  or its training loss climbed back at its peak LR) moves a decade below it; one that starts after a trial that
  trained cleanly moves a decade above it, toward where training breaks. With a budget of two trials (0.1 of the
  textbook grid) this is the whole search, and it is what recovers a range test that read a decade too low or
  too high.

The sampler's constants were tuned on synthetic bowls (the optimum at 1x, 10x and 1/10x the prior's centre, with
and without divergence above 3x the optimum, seeds 0-23). With a width of 0.2 decades at full confidence, a fully
trusted prior 10x off was still not within 2x of the optimum after 30 trials on 3 seeds of 16; with these
constants every seed was within 27 trials, the held-out seeds 100-139 within 23 (:data:`RECOVERY_TRIALS` states
30), and a correct, fully trusted prior was within 2x by its 8th trial. Each trial's source is stored as the user
attribute :data:`~hybridtune.study.keys.SOURCE_DRAW`, and how a suggestion moved as
:data:`~hybridtune.study.keys.SUGGESTION_MOVE`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from ..samplers import Evidence, Held, ParamPrior, PriorSampler
from . import keys
from ._open import study_floor

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

#: How a range-test suggestion moved on the evidence (user attribute :data:`~keys.SUGGESTION_MOVE`).
DOWN, UP, BETWEEN = "down", "up", "between"
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


def _is_evidence(t: FrozenTrial) -> bool:
    """Interrupted trials (Ctrl-C) are no evidence: a resumed study runs them again."""
    return t.user_attrs.get(keys.OUTCOME) != keys.OUTCOME_INTERRUPTED


def _is_prior_suggestion(t: FrozenTrial) -> bool:
    """A range-test suggestion not moved up off the prior: the prior answers for it (a suggestion moved a decade
    up tests the region above the prior, and failing there is no evidence against it)."""
    return (t.user_attrs.get(keys.SOURCE) == keys.SUGGESTION_SOURCE
            and t.user_attrs.get(keys.SUGGESTION_MOVE) != UP)


def evidence(floor: float | None = None) -> Evidence:
    """How a search study's trials are read as evidence about the prior, with its chance ``floor`` (the module
    docstring's rules)."""
    return Evidence(is_failure=lambda t: _is_bad(t, floor), is_evidence=_is_evidence,
                    counts_for_prior=_is_prior_suggestion)


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


def _suggestions(suggestions: Mapping[str, Sequence[float]], floor: float | None) -> Any:
    """The ``held`` hook: a queued trial that holds suggestion ``i`` (user attributes ``source`` and
    ``suggestion``, see :func:`hybridtune.study.fill_search_queue`) gets suggestion ``i`` of each parameter
    that has one, moved by the evidence of the trials finished before it (:func:`stepped_suggestion`)."""
    rules = evidence(floor)

    def held(study: optuna.Study, trial: FrozenTrial) -> Held | None:
        if not trial.user_attrs.get(keys.SOURCE):
            return None
        i = trial.user_attrs.get(keys.SUGGESTION)
        values: dict[str, float] = {}
        attrs: dict[str, dict[str, str]] = {}
        if i is not None:
            history = rules.finished(study.get_trials(deepcopy=False), trial.number)
            for name, values_i in suggestions.items():
                if int(i) < len(values_i):
                    values[name], move = stepped_suggestion(values_i[int(i)], history, name, floor)
                    if move is not None:
                        attrs[name] = {keys.SUGGESTION_MOVE: move}
        return Held(values, attrs)

    return held


def widened(centre: float, confidence: float, bounds: Sequence[float], scale: str) -> tuple[float, float]:
    """``bounds`` widened, if needed, to hold the prior's central 68% (its centre +- one width) on ``scale``
    (``log`` or ``log1m``), read back through the scale as the sampler reads them.

    Example:
        >>> [round(b, 6) for b in widened(3.0, 0.5, (1e-4, 1.0), "log")]  # one width is a decade
        [0.0001, 30.0]
    """
    prior = ParamPrior(centre, confidence, bounds=(float(bounds[0]), float(bounds[1])), scale=scale)
    to_t = (lambda v: math.log10(v)) if scale == "log" else (lambda v: math.log10(1 - v))
    from_t = (lambda t: 10 ** t) if scale == "log" else (lambda t: 1 - 10 ** t)
    sigma = prior.width(*prior.bounds)  # type: ignore[misc]
    lo, hi = prior.bounds  # type: ignore[misc]
    t = sorted((to_t(lo), to_t(hi), to_t(centre) - sigma, to_t(centre) + sigma))
    return tuple(sorted((from_t(t[0]), from_t(t[-1]))))  # type: ignore[return-value]


def prior_guided(priors: Any, narrow: Any, *, lr_range: Sequence[float], positions: Sequence[float],
                 confidence: float | None = None) -> tuple[Any, dict[str, Any]]:
    """The search space and the sampler's record (:data:`~hybridtune.study.keys.PRIOR_SAMPLER`) of
    ``space="prior"``: the narrow space's batch sizes and weight decay, with the LR and momentum bounds widened
    to the random baseline's textbook bounds (and to the prior's central 68%), and one
    :class:`~hybridtune.samplers.ParamPrior` each: the LR centred on the log-middle of the narrow band
    (``10**0.5 x lr_max`` by default, at the probes' batch size), the momentum on the priors' momentum, each with
    the probes' measured confidence (or ``confidence``). The range test's suggestions sit at ``positions`` in the
    narrow band, as in the narrow search.

    Args:
        priors: the :class:`hybridtune.Priors`.
        narrow: the narrow :class:`hybridtune.SearchSpace` built from them (:func:`hybridtune.search_space`).
        lr_range: the narrow band in multiples of ``lr_max``.
        positions: the suggestions' positions in that band (``StudyConfig.suggestions``).
        confidence: overrides both measured confidences.
    """
    from ..space import SearchSpace, suggested_peak, wide_space

    wide = wide_space(narrow.optimizer, narrow.batch_sizes, weight_decay=narrow.weight_decay)
    lr_centre = suggested_peak(priors.lr_max, lr_range, 0.5)
    lr_confidence = confidence or priors.lr_confidence or UNMEASURED_CONFIDENCE
    lr_bounds = widened(lr_centre, lr_confidence, (min(wide.lr[0], narrow.lr[0]), max(wide.lr[1], narrow.lr[1])),
                        "log")
    params = {narrow.lr_name: {"centre": lr_centre, "confidence": lr_confidence, "bounds": list(lr_bounds),
                               "scale": "log"}}
    momentum = narrow.momentum
    if narrow.momentum is not None and wide.momentum is not None and priors.momentum is not None:
        m_confidence = confidence or priors.momentum_confidence or UNMEASURED_CONFIDENCE
        m_bounds = widened(priors.momentum, m_confidence, (min(wide.momentum[0], narrow.momentum[0]),
                                                            max(wide.momentum[1], narrow.momentum[1])), "log1m")
        params["momentum"] = {"centre": priors.momentum, "confidence": m_confidence, "bounds": list(m_bounds),
                              "scale": "log1m"}
        momentum = (max(0.0, m_bounds[0]), min(m_bounds[1], 0.999))
    space = SearchSpace(optimizer=narrow.optimizer, lr=lr_bounds, ref_batch_size=narrow.ref_batch_size,
                        momentum=momentum, batch_sizes=narrow.batch_sizes, weight_decay=narrow.weight_decay,
                        zero_weight_decay=narrow.zero_weight_decay, source="prior-guided")
    record = {"params": params,
              "suggestions": {narrow.lr_name: [suggested_peak(priors.lr_max, lr_range, pos) for pos in positions]}}
    return space, record


def sampler_from_record(record: Mapping[str, Any], *, seed: int, study: optuna.Study | None = None) -> PriorSampler:
    """The :class:`~hybridtune.samplers.PriorSampler` a stored :func:`prior_guided` record describes, with a
    search study's rules (:func:`evidence`, the range test's suggestions as held values) and ``study``'s chance
    floor. Every process builds the same."""
    floor = study_floor(study) if study is not None and study.direction.name == "MAXIMIZE" else None
    params = {k: ParamPrior(float(v["centre"]), float(v["confidence"]), scale=str(v["scale"]),
                            bounds=widened(float(v["centre"]), float(v["confidence"]), v["bounds"], str(v["scale"])))
              for k, v in record["params"].items()}
    suggestions = {k: tuple(float(x) for x in vs) for k, vs in (record.get("suggestions") or {}).items()}
    rules = evidence(floor)
    return PriorSampler(params, seed=seed, is_failure=rules.is_failure, is_evidence=rules.is_evidence,
                        counts_for_prior=rules.counts_for_prior, held=_suggestions(suggestions, floor))
