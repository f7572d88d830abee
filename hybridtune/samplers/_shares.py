"""The three sources' shares (:func:`shares_of`): a pure function of a study's finished trials and of what the
caller counts as evidence (the hooks :class:`Evidence` holds)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optuna.study import StudyDirection
from optuna.trial import TrialState

if TYPE_CHECKING:  # pragma: no cover
    from optuna.trial import FrozenTrial

#: The trial user attribute in which the sampler records which source drew a trial's prior parameters.
SOURCE_ATTR = "source_draw"
PRIOR, WIDE, INCUMBENT, ENQUEUED = "prior", "wide", "incumbent", "enqueued"
SOURCES = (PRIOR, WIDE, INCUMBENT)
#: The prior's starting share is ``START_SHARE + START_CONFIDENT * confidence``.
START_SHARE, START_CONFIDENT = 0.5, 0.4
#: Its logit falls by 1 every ``DECAY_TRIALS + DECAY_CONFIDENT * confidence`` finished trials...
DECAY_TRIALS, DECAY_CONFIDENT = 10, 20
#: ...by this for each of its trials that failed (:func:`default_is_failure`, or the sampler's ``is_failure``)...
FAILED = 1.0
#: ...and by this for each of its trials that did no better than a trial finished before it.
BEATEN = 0.5
#: The incumbent's share of the rest is ``g / (g + INCUMBENT_AFTER)`` for ``g`` good trials, at most...
INCUMBENT_AFTER = 4
#: ...this: the wide source always keeps a quarter of the rest.
INCUMBENT_MAX = 0.75
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def default_is_failure(trial: FrozenTrial) -> bool:
    """Whether a finished trial counts as a failure: it failed, returned a value that is not finite, or broke
    a constraint (``Trial.set_constraint`` with a value above 0).

    Example:
        >>> import optuna
        >>> default_is_failure(optuna.trial.create_trial(value=float("inf")))
        True
    """
    if trial.state == TrialState.FAIL:
        return True
    if trial.state == TrialState.COMPLETE and not all(math.isfinite(v) for v in trial.values or ()):
        return True
    return any(c > 0 for c in trial.constraints.values())


def _every(trial: FrozenTrial) -> bool:
    return True


def _none(trial: FrozenTrial) -> bool:
    return False


@dataclass(frozen=True)
class Evidence:
    """What a study's trials say about the prior: the rules :func:`shares_of` reads them by.

    Args:
        is_failure: whether a finished trial failed (default :func:`default_is_failure`). A failed trial is
            never the incumbent, and one of the prior's costs the prior's share :data:`FAILED`.
        is_evidence: whether a finished trial is evidence at all (default: every one); e.g. not one that was
            interrupted.
        counts_for_prior: trials the prior answers for besides those it drew (default: none); e.g. trials
            queued at the prior's own values.
    """

    is_failure: Callable[[FrozenTrial], bool] = default_is_failure
    is_evidence: Callable[[FrozenTrial], bool] = _every
    counts_for_prior: Callable[[FrozenTrial], bool] = _none

    def finished(self, trials: Sequence[FrozenTrial], number: int | None = None) -> list[FrozenTrial]:
        """The finished trials that are evidence, but trial ``number``."""
        return [t for t in trials if t.state in _FINISHED and t.number != number and self.is_evidence(t)]

    def is_prior(self, trial: FrozenTrial) -> bool:
        """Whether the prior answers for ``trial``: it drew it, or :attr:`counts_for_prior` says so."""
        return trial.user_attrs.get(SOURCE_ATTR) == PRIOR or self.counts_for_prior(trial)

    def good(self, trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> list[FrozenTrial]:
        """The completed trials that did not fail and have finite values; for one objective sorted worst first
        (on a tie the earlier trial counts as the better), for several by trial number."""
        ok = [t for t in trials if t.state == TrialState.COMPLETE and not self.is_failure(t)
              and t.values is not None and all(math.isfinite(v) for v in t.values)]
        if len(directions) > 1:
            return sorted(ok, key=lambda t: t.number)
        sign = 1 if directions[0] == StudyDirection.MAXIMIZE else -1
        return sorted(ok, key=lambda t: (sign * t.values[0], -t.number))


def _oriented(t: FrozenTrial, directions: Sequence[StudyDirection]) -> list[float]:
    """``t``'s values, each negated where it is minimized: higher is better in every one."""
    return [v if d == StudyDirection.MAXIMIZE else -v for v, d in zip(t.values, directions)]


def _at_least_as_good(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x >= y for x, y in zip(a, b))


def pareto_front(good: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> list[FrozenTrial]:
    """The trials of ``good`` that no other one dominates, by trial number."""
    vals = {t.number: _oriented(t, directions) for t in good}
    return [t for t in good if not any(_at_least_as_good(vals[u.number], vals[t.number])
                                       and vals[u.number] != vals[t.number] for u in good)]


def _beaten(good: Sequence[FrozenTrial], directions: Sequence[StudyDirection], evidence: Evidence) -> int:
    """How many of the prior's good trials did no better than a good trial finished before them: one that was
    at least as good in every objective (for one objective, the best value so far; ties count against the
    later trial)."""
    ordered = sorted(good, key=lambda t: t.number)
    if len(directions) == 1:
        sign = 1 if directions[0] == StudyDirection.MAXIMIZE else -1
        n, best = 0, -math.inf
        for t in ordered:
            v = sign * t.values[0]
            if best >= v and evidence.is_prior(t):
                n += 1
            best = max(best, v)
        return n
    vals = [_oriented(t, directions) for t in ordered]
    return sum(evidence.is_prior(t) and any(_at_least_as_good(vals[j], vals[i]) for j in range(i))
               for i, t in enumerate(ordered))


def shares_of(trials: Sequence[FrozenTrial], confidence: float, *,
              directions: Sequence[StudyDirection | str] = (StudyDirection.MINIMIZE,),
              evidence: Evidence | None = None) -> dict[str, float]:
    """The three sources' shares after ``trials``, for priors of mean ``confidence``. Trials still running or
    waiting, and those ``evidence`` does not count, are no evidence.

    1. The prior's share starts at ``0.5 + 0.4 c``: 0.9 for a fully trusted prior (even a perfect one leaves a
       tenth of the trials to the wide source), half for a weak one (it is still the best single guess).
    2. Its logit then falls by ``n / (10 + 20 c)`` after ``n`` finished trials (its pull fades over about a small
       study's budget, longer the surer it was: piBO's decay); by 1 for each of the prior's trials that failed
       (evidence that its region is bad); by 0.5 for each of the prior's trials that did no better than one
       finished before it (with several objectives: one at least as good in every objective), so the prior
       keeps its share only while its draws still improve on what is in.
    3. Of the rest, the incumbent takes ``g / (g + 4)`` (at most 3/4) once there are ``g`` good trials (completed,
       not failed); the wide source keeps the remainder, at least a quarter, so a region the prior missed stays
       reachable.

    Example:
        >>> shares_of([], 1.0)
        {'prior': 0.9, 'wide': 0.1, 'incumbent': 0.0}
    """
    ev = evidence or Evidence()
    dirs = [d if isinstance(d, StudyDirection) else StudyDirection[str(d).upper()] for d in directions]
    trials = ev.finished(trials)
    good = ev.good(trials, dirs)
    start = START_SHARE + START_CONFIDENT * confidence
    logit = math.log(start / (1 - start)) - len(trials) / (DECAY_TRIALS + DECAY_CONFIDENT * confidence)
    logit -= FAILED * sum(ev.is_failure(t) for t in trials if ev.is_prior(t))
    for _ in range(_beaten(good, dirs, ev)):
        logit -= BEATEN
    prior = 1 / (1 + math.exp(-logit))
    incumbent = (1 - prior) * min(INCUMBENT_MAX, len(good) / (len(good) + INCUMBENT_AFTER))
    return {PRIOR: round(prior, 6), WIDE: round(1 - prior - incumbent, 6), INCUMBENT: round(incumbent, 6)}


def incumbent_of(good: Sequence[FrozenTrial], directions: Sequence[StudyDirection], pick: Any) -> FrozenTrial | None:
    """The trial the incumbent source perturbs: the best good trial (the earliest on a tie); with several
    objectives one of the Pareto front, chosen by ``pick(n)`` (an index below ``n``)."""
    if not good:
        return None
    if len(directions) == 1:
        return good[-1]
    front = pareto_front(good, directions)
    return front[int(pick(len(front)))]
