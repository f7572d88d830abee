"""One study's numbers, computed from its stored trials alone (pure functions of ``FrozenTrial`` objects)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core import finite_json
from ..study import keys
from ..train import Cost
from ._stats import TestScore

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def outcome_of(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's stored outcome, or its state in lower case when it stored none."""
    return str(trial.user_attrs.get(keys.OUTCOME, trial.state.name.lower()))


def best_trial(trials: Sequence[optuna.trial.FrozenTrial], *, floor: float | None = None,
               direction: str = "maximize") -> optuna.trial.FrozenTrial | None:
    """The completed, non-diverged trial with the best value (the highest, or the lowest for
    ``direction="minimize"``; the earliest on a tie); ``None`` when there is none, or when the best does not
    rise above ``floor`` (:func:`~hybridtune.task.chance_floor`: a study that found nothing never presents a
    chance-level configuration as its best; for a minimised metric the best must fall below it). On the
    multi-fidelity ladder only the longest rung reached counts: a short run's value is not a full run's."""
    from optuna.trial import TrialState

    ok = [t for t in trials if t.state == TrialState.COMPLETE and outcome_of(t) != keys.OUTCOME_DIVERGED
          and t.value is not None and math.isfinite(t.value)]
    top = top_fidelity(ok)
    ok = [t for t in ok if at_top(t, top)]
    if not ok:
        return None
    sign = direction_sign(direction)
    best = max(ok, key=lambda t: (sign * t.value, -t.number))  # type: ignore[operator]
    return None if floor is not None and sign * best.value <= sign * floor else best  # type: ignore[operator]


def top_fidelity(trials: Sequence[optuna.trial.FrozenTrial]) -> int | None:
    """The longest planned schedule among ``trials`` on the multi-fidelity ladder (their
    :data:`~hybridtune.study.keys.FIDELITY` epochs; the length ladder's longer runs aside: they compete with
    it); ``None`` when a trial ran without one (full length)."""
    fids = [t.user_attrs.get(keys.FIDELITY) for t in trials if not t.user_attrs.get(keys.EXTENDED)]
    if not fids or any(f is None for f in fids):
        return None
    return max(int(f) for f in fids)


def at_top(trial: optuna.trial.FrozenTrial, top: int | None) -> bool:
    """Whether ``trial`` ran the longest planned schedule ``top`` (:func:`top_fidelity`) or longer; a trial
    without a fidelity ran full length."""
    f = trial.user_attrs.get(keys.FIDELITY)
    return f is None if top is None else int(f) >= top


def direction_sign(direction: Any) -> float:
    """``+1`` for a maximised metric, ``-1`` for a minimised one: ``sign * value`` is then always "higher is
    better". Takes ``"maximize"``/``"minimize"`` or an Optuna ``StudyDirection``."""
    name = str(getattr(direction, "name", direction)).lower()
    return -1.0 if name == "minimize" else 1.0


@dataclass(frozen=True)
class HistoryPoint:
    """One finished trial, in completion order, with the running totals the comparison reads.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> p = r.result.search.history[-1]
        >>> p.cumulative.examples >= p.cost.examples
        True
    """

    number: int
    state: str
    outcome: str
    value: float | None
    cost: Cost
    cumulative: Cost
    best_so_far: float | None
    #: its schedule's length on the multi-fidelity ladder (``None``: the study's full epochs)
    fidelity: int | None = None
    #: where its values came from: ``range test suggestion``, ``promoted from N`` (the ladder), or ``None``
    #: (the sampler)
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "outcome": self.outcome, "value": self.value,
                "cost": self.cost.to_dict(), "cumulative": self.cumulative.to_dict(),
                "best_so_far": self.best_so_far, "fidelity": self.fidelity, "source": self.source}


@dataclass(frozen=True)
class StudyOutcome:
    """One study's numbers, computed from its stored trials (see :func:`outcome_from_trials`).

    ``cost`` is the total of every finished trial (completed, pruned, diverged) plus, for the search,
    the probes (``probe_cost``); ``history`` lists the finished trials in completion order;
    ``best_config`` is the best trial's trainer settings (``lr``, ``momentum``, ``weight_decay``,
    ``batch_size``); ``test`` the stored record of its test retrains and ``test_score`` their summary over
    seeds (see :func:`test_score`), both ``None`` when the best trial was not retrained.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> r.result.grid.n_trials, r.result.search.n_trials
        (1, 2)
    """

    role: str
    study_name: str
    best_value: float | None
    best_trial: int | None
    best_params: dict[str, Any]
    best_config: dict[str, Any] | None
    n_trials: int
    n_complete: int
    n_pruned: int
    n_diverged: int
    n_failed: int
    cost: Cost
    probe_cost: Cost | None
    history: tuple[HistoryPoint, ...]
    test: dict[str, Any] | None = None
    test_score: TestScore | None = None
    #: the best trial's validation standard error from its per-example scores (:data:`keys.VAL_SE`), for a
    #: metric that is not an accuracy; ``None`` otherwise
    best_se: float | None = None

    @property
    def best_hyperparams(self) -> dict[str, Any] | None:
        """Deprecated: use :attr:`best_config` (the name its JSON has always had)."""
        warnings.warn("StudyOutcome.best_hyperparams is deprecated; use StudyOutcome.best_config.",
                      DeprecationWarning, stacklevel=2)
        return self.best_config

    @property
    def test_accuracy(self) -> float | None:
        """The chosen configuration's test accuracy, the mean over its retrain seeds."""
        return None if self.test_score is None else self.test_score.mean

    def to_dict(self) -> dict[str, Any]:
        return finite_json({
            "study": self.study_name, "best_value": self.best_value, "best_trial": self.best_trial,
            "best_params": dict(self.best_params), "best_config": self.best_config,
            "n_trials": self.n_trials, "n_complete": self.n_complete, "n_pruned": self.n_pruned,
            "n_diverged": self.n_diverged, "n_failed": self.n_failed, "cost": self.cost.to_dict(),
            "probe_cost": self.probe_cost.to_dict() if self.probe_cost is not None else None,
            "test_accuracy": self.test_score.to_dict() if self.test_score else None, "test": self.test,
            "history": [p.to_dict() for p in self.history],
        })

    def to_frame(self) -> Any:
        """One row per finished trial (completion order), as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([{"number": p.number, "state": p.state, "outcome": p.outcome, "value": p.value,
                              "examples": p.cost.examples, "seconds": p.cost.seconds,
                              "cumulative_examples": p.cumulative.examples,
                              "cumulative_seconds": p.cumulative.seconds, "best_so_far": p.best_so_far}
                             for p in self.history])


def history_from_trials(trials: Sequence[optuna.trial.FrozenTrial], *, start: Cost | None = None,
                        direction: str = "maximize") -> tuple[HistoryPoint, ...]:
    """Finished trials (completed, pruned, and failed ones that recorded a cost) in completion order,
    with cumulative cost from ``start`` and the best value so far (diverged trials never count as best, nor a
    shorter run on the multi-fidelity ladder: only its longest rung's)."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state.is_finished() and keys.COST in t.user_attrs]
    done.sort(key=lambda t: (t.datetime_complete or t.datetime_start, t.number))
    top = top_fidelity([t for t in trials if t.state == TrialState.COMPLETE])
    cum = start or Cost()
    best: float | None = None
    points = []
    for t in done:
        c = Cost.from_dict(t.user_attrs[keys.COST])
        cum = cum + c
        outcome = outcome_of(t)
        value = t.value if t.state == TrialState.COMPLETE and outcome != keys.OUTCOME_DIVERGED else None
        if value is not None and at_top(t, top) and (best is None or direction_sign(direction) * (value - best) > 0):
            best = value
        fid = t.user_attrs.get(keys.FIDELITY)
        source = (f"promoted from {t.user_attrs[keys.PROMOTED_FROM]}" if keys.PROMOTED_FROM in t.user_attrs
                  else t.user_attrs.get(keys.SOURCE))
        points.append(HistoryPoint(number=t.number, state=t.state.name, outcome=outcome,
                                   value=t.value if t.state == TrialState.COMPLETE else None, cost=c,
                                   cumulative=cum, best_so_far=best, fidelity=None if fid is None else int(fid),
                                   source=source))
    return tuple(points)


def score_of_record(record: dict[str, Any] | None, *, chance: float = 0.0) -> TestScore | None:
    """The :class:`TestScore` of a stored test record (:func:`hybridtune.study.keys.record_test`): each
    seed's test accuracy, a diverged retrain counted at ``chance``. A record written before retrains had
    seeds (one run, no ``runs`` list) gives a one-seed score.

    Example:
        >>> score_of_record({"trial": 3, "runs": [{"seed": 1000, "test_accuracy": 0.9}, {"seed": 1001,
        ...             "test_accuracy": None, "status": "diverged"}]}, chance=0.1).accuracies
        (0.9, 0.1)
    """
    if not record:
        return None
    runs = record.get("runs")
    if runs is None:  # the one-retrain record of studies stored before test seeds
        acc = record.get("test_accuracy")
        return None if acc is None else TestScore.of({int(record.get("seed", 0)): float(acc)})
    return TestScore.of({int(r["seed"]): float(chance if r.get("test_accuracy") is None else r["test_accuracy"])
                         for r in runs})


def outcome_from_trials(role: str, study_name: str, trials: Sequence[optuna.trial.FrozenTrial], *,
                        probe_cost: Cost | None = None, test: dict[str, Any] | None = None,
                        chance: float = 0.0, floor: float | None = None,
                        direction: str = "maximize") -> StudyOutcome:
    """A :class:`StudyOutcome` computed from stored trials alone (``chance``: what a diverged test retrain
    counts as; ``floor``: a best at or below it is no best, see :func:`~hybridtune.task.chance_floor`)."""
    from optuna.trial import TrialState

    history = history_from_trials(trials, start=probe_cost, direction=direction)
    best = best_trial(trials, floor=floor, direction=direction)
    # the probes' momentum runs on the ladder's first rung are observations, not trials the study ran
    trials = [t for t in trials if t.user_attrs.get(keys.SOURCE) != keys.PROBE_SOURCE]
    total = history[-1].cumulative if history else (probe_cost or Cost())
    if test is not None and (best is None or test.get("trial") != best.number):
        test = None  # stale: the best changed since it was tested
    diverged = [outcome_of(t) == keys.OUTCOME_DIVERGED for t in trials]
    return StudyOutcome(
        role=role, study_name=study_name, best_value=None if best is None else best.value,
        best_trial=None if best is None else best.number, best_params=dict(best.params) if best else {},
        best_config=dict(best.user_attrs.get(keys.HYPERPARAMS, {})) if best else None,
        n_trials=sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials),
        n_complete=sum(t.state == TrialState.COMPLETE and not d for t, d in zip(trials, diverged)),
        n_pruned=sum(t.state == TrialState.PRUNED for t in trials),
        n_diverged=sum(diverged),
        n_failed=sum(t.state == TrialState.FAIL for t in trials),
        cost=total, probe_cost=probe_cost, history=history, test=test,
        test_score=score_of_record(test, chance=chance),
        best_se=None if best is None else best.user_attrs.get(keys.VAL_SE))
