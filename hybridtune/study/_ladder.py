"""The multi-fidelity ladder (``StudyConfig.fidelity="ladder"``): successive halving over schedule lengths.

A cheap trial is a *complete* shorter 1cycle (warm-up, peak and annealing all rescaled to its length, as
Hyperband's retrain-per-rung does), never a long 1cycle cut off at its peak, where validation accuracy mostly
says how high the LR is (short-horizon bias). The rungs are ``E/4``, ``E/2`` and ``E`` epochs
(:func:`ladder_epochs`). The first rung holds the range test's suggestions, the sampler's draws and the probes'
momentum runs (already complete short 1cycle runs at ``lr_max``: free observations, :func:`probe_observations`).
When a rung has finished, its best configurations are trained again from scratch at the next length
(:func:`fill_ladder`); the study's choice is the best trial of the longest rung
(:func:`hybridtune.compare.best_trial`).

**The length ladder.** When the best of the longest rung was still improving clearly at its last epoch (the
report's "the budget may be too short"), its configuration is trained again twice as long (2E, 4E, ... up to
``StudyConfig.length_cap``, 4E by default) while the budget pays for it, and the choice is the best trial of
``E`` epochs or more: the recipe's epochs come from evidence, not from the 400-step rule alone.

How many trials each rung runs is planned once, from the budget left after the probes or from ``trials``
(:func:`plan_ladder`), and stored (:data:`~hybridtune.study.keys.LADDER`). Everything else is read from the
stored trials, so a resumed study replays the same ladder, and only the process that queued the study
promotes (the coordinator: a rung is promoted once, however many workers run its trials).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import keys
from ._budget import affords, failed_on_its_own

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..probes import Priors
    from ..space import SearchSpace

#: Each rung is this many times longer than the one below, and keeps about 1/ETA of its trials.
ETA = 2
#: The ladder's rungs at most: E/4, E/2, E.
RUNGS = 3
#: The length ladder climbs to at most this many times the study's epochs by default (``StudyConfig.length_cap``).
LENGTH_CAP_FACTOR = 4
#: A trial in one of these states holds its place on its rung (failed ones are queued again).
_HELD = ("COMPLETE", "PRUNED", "WAITING", "RUNNING")


#: "Still improving clearly": the best trial's validation accuracy rose over its last epoch by more than this
#: many standard errors of the difference of two accuracies on the validation split (binomial, taken as
#: independent). 1cycle's annealing lifts the last epoch anyway: of the 29 ResNet-8 runs of 4 epochs on mnist5k
#: that reached 95.5% (benchmarks/results/first_trials.json), 24 rose by 0.4-2.9 such errors, so the bar sits
#: above that; the CNN on digits at 2 epochs rose by 9.6 (55% -> 89%; 96% at the budget rule's 11 epochs).
IMPROVING_Z = 3.0


def last_epoch_rise(curve: Sequence[Mapping[str, Any]], n_val: int | None) -> tuple[float, float, float] | None:
    """``(before, after, z)`` when the curve's validation accuracy rose over its last epoch by more than
    :data:`IMPROVING_Z` standard errors of the difference (binomial on ``n_val`` examples); else ``None``.
    Only for a metric in [0, 1].

    Example:
        >>> last_epoch_rise([{"val_acc": 0.60}, {"val_acc": 0.72}, {"val_acc": 0.81}], 600)[2] > 3
        True
        >>> last_epoch_rise([{"val_acc": 0.93}, {"val_acc": 0.945}, {"val_acc": 0.96}], 749) is None
        True
    """
    accs = [e.get("val_acc") for e in curve]
    if len(accs) < 2 or not n_val or any(a is None or not 0 <= a <= 1 for a in accs[-2:]):
        return None
    before, after = float(accs[-2]), float(accs[-1])
    se = math.sqrt((before * (1 - before) + after * (1 - after)) / n_val)
    if se <= 0 or after - before <= IMPROVING_Z * se:
        return None
    return before, after, (after - before) / se


def ladder_epochs(epochs: int, *, eta: int = ETA, rungs: int = RUNGS) -> tuple[int, ...]:
    """The rungs' schedule lengths: ``E / eta**k`` for ``k = rungs-1 .. 0``, rounded, at least 1 epoch, each
    distinct; the last is always ``E``.

    Example:
        >>> ladder_epochs(4), ladder_epochs(11), ladder_epochs(2), ladder_epochs(1)
        ((1, 2, 4), (3, 6, 11), (1, 2), (1,))
    """
    out: list[int] = []
    for k in range(rungs - 1, -1, -1):
        e = max(1, int(round(epochs / eta ** k)))
        if not out or e > out[-1]:
            out.append(e)
    if out[-1] != epochs:
        out[-1] = epochs
    return tuple(out)


def length_cap(epochs: int, cap: int | None) -> int:
    """The length ladder's cap in epochs: ``cap``, or :data:`LENGTH_CAP_FACTOR` x ``epochs`` by default.

    Example:
        >>> length_cap(4, None), length_cap(4, 10), length_cap(4, 4)
        (16, 10, 4)
    """
    return LENGTH_CAP_FACTOR * int(epochs) if cap is None else int(cap)


def plan_ladder(units: float, epochs: Sequence[int], *, eta: int = ETA, trials: int | None = None) -> tuple[int, ...]:
    """How many trials each rung runs.

    ``units`` is the budget in full trials (``E`` epochs each; a trial of ``e`` epochs costs ``e/E``);
    with ``trials`` instead, the count of trials of all rungs together is the limit. The plan keeps the most
    configurations at the longest rung that still leaves the first rung ``eta`` times more than the second
    (each rung ``eta`` times the one above); what is left goes to the first rung: exploration is the cheap
    part. When even one trial per rung does not fit with that, the middle rungs are dropped (the first rung
    straight to ``E``, a count of 0 on the skipped rung), and when the first rung does not fit either,
    the plan is full-length trials only. A budget that leaves less than one full trial after the probes
    runs the first rung only (all zeros when not even one of its trials fits): its best is the choice, and
    the test retrains it at full length.

    Example:
        >>> plan_ladder(9.1, (1, 2, 4)), plan_ladder(5.9, (1, 2, 4)), plan_ladder(2.72, (1, 2, 4))
        ((12, 6, 3), (15, 2, 1), (6, 0, 1))
        >>> plan_ladder(1.12, (1, 2, 4)), plan_ladder(0, (1, 2, 4), trials=20), plan_ladder(0.61, (1, 2, 4))
        ((0, 0, 1), (14, 4, 2), (2, 0, 0))
    """
    full = epochs[-1]
    frac = [e / full for e in epochs]
    k = len(epochs)

    def cost(counts: Sequence[int]) -> float:
        if trials is not None:
            return float(sum(counts))
        return sum(c * f for c, f in zip(counts, frac))

    limit = float(trials) if trials is not None else float(units)
    if k == 1:
        return (max(1, int(math.floor(limit + 1e-9))),)
    # every rung: the most at the top whose first rung still holds eta x the second
    for top in range(max(1, int(limit)), 0, -1):
        counts = [0] * k
        for i in range(k - 1, 0, -1):
            counts[i] = top * eta ** (k - 1 - i)
        rest = limit - cost(counts)
        per = 1.0 if trials is not None else frac[0]
        n0 = int(math.floor(rest / per + 1e-9))
        if n0 >= eta * counts[1]:
            counts[0] = n0
            return tuple(counts)
    # the first rung straight to the top: the first rung at least eta**(k-1) times the top
    ratio = eta ** (k - 1)
    for top in range(max(1, int(limit)), 0, -1):
        counts = [0] * k
        counts[-1] = top
        rest = limit - cost(counts)
        per = 1.0 if trials is not None else frac[0]
        n0 = int(math.floor(rest / per + 1e-9))
        if n0 >= ratio * top:
            counts[0] = n0
            return tuple(counts)
    if trials is None and limit < 1:
        # not even one full trial left after the probes: the first rung's complete short runs (the suggestions
        # first), the best of them retrained at full length for the test: a choice on evidence at 1/4 of the
        # cost, rather than none
        counts = [0] * k
        counts[0] = int(math.floor(limit / frac[0] + 1e-9))
        return tuple(counts)
    counts = [0] * k
    counts[-1] = max(1, int(math.floor(limit + 1e-9)))
    return tuple(counts)


def probe_observations(study: optuna.Study, priors: Priors, space: SearchSpace, rung_epochs: int) -> int:
    """Store the probes' momentum runs as finished first-rung trials (``source="momentum probe"``), once: each
    is a complete 1cycle of ``momentum_epochs`` at the range test's ``lr_max`` and the probes' batch size,
    so when that is the first rung's length it is an observation the ladder ranks and may promote, for no
    training at all (its cost is already the probes'). A run whose values the space cannot hold exactly (a
    batch size or momentum outside it), a diverged run or one of another length is left out. Returns how many
    were added."""
    import optuna

    if any(t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE for t in study.get_trials(deepcopy=False)):
        return 0
    added = 0
    dists = space.distributions()
    for run in priors.momentum_runs:
        epochs = len(run.val_accs)
        if run.val_acc is None or not math.isfinite(run.val_acc) or epochs != rung_epochs:
            continue
        params = space.params_for(lr=priors.lr_max, momentum=run.momentum, weight_decay=priors.weight_decay,
                                  batch_size=priors.batch_size)
        hp = space.hyperparams(params)
        if hp.batch_size != priors.batch_size or not math.isclose(hp.momentum or 0.0, run.momentum) or \
                not math.isclose(float(params[space.lr_name]), priors.lr_max):
            continue
        value = float(run.val_acc)
        if study.direction.name == "MINIMIZE":  # a minimised metric: the run's accuracy is not its value
            continue
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: dists[k] for k in params}, value=value,
            user_attrs={keys.SOURCE: keys.PROBE_SOURCE, keys.FIDELITY: epochs, keys.RUNG: 0,
                        keys.OUTCOME: keys.OUTCOME_COMPLETED, keys.HYPERPARAMS: hp.to_dict()}))
        added += 1
    return added


def _rung_of(t: optuna.trial.FrozenTrial) -> int | None:
    r = t.user_attrs.get(keys.RUNG)
    return None if r is None else int(r)


def _finished(t: optuna.trial.FrozenTrial) -> bool:
    """Done for good: completed, pruned, or failed in a way running it again would repeat (the queue's rule)."""
    return t.state.name in ("COMPLETE", "PRUNED") or failed_on_its_own(t)


def _ranked(trials: Sequence[optuna.trial.FrozenTrial], sign: float) -> list[optuna.trial.FrozenTrial]:
    ok = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None and math.isfinite(t.value)
          and t.user_attrs.get(keys.OUTCOME) != keys.OUTCOME_DIVERGED]
    return sorted(ok, key=lambda t: (-sign * float(t.value), t.number))  # type: ignore[arg-type]


def fill_ladder(study: optuna.Study, firsts: Sequence[Mapping[str, Any]] | None = None, *,
                in_run: bool = False) -> int:
    """Queue what the stored ladder (:data:`~hybridtune.study.keys.LADDER`) is missing: the first rung's
    tickets (``firsts``, the range test's suggestions, first; then tickets the sampler fills) and, once every
    trial of a rung has finished, its best ones again at the next rung's length (a rung with a count of 0 is
    skipped). Idempotent: what is held on a rung (finished, running or queued; failed ones are queued again,
    unless ``in_run`` and they failed on their own) is never queued twice, and a trial is promoted once. A
    study with a budget never queues beyond what is left of it. Returns how many trials were queued."""
    ladder = study.user_attrs.get(keys.LADDER)
    if not ladder:
        return 0
    epochs, counts = list(ladder["epochs"]), list(ladder["counts"])
    budget = study.user_attrs.get(keys.BUDGET)
    trials = study.get_trials(deepcopy=False)
    sign = -1.0 if study.direction.name == "MINIMIZE" else 1.0
    queued = 0

    def tickets(rung: int) -> list[optuna.trial.FrozenTrial]:
        return [t for t in trials if _rung_of(t) == rung and t.user_attrs.get(keys.SOURCE) != keys.PROBE_SOURCE]

    def held_on(rung: int) -> list[optuna.trial.FrozenTrial]:
        return [t for t in tickets(rung) if t.state.name in _HELD or (in_run and _finished(t))]

    def enqueue(rung: int, params: Mapping[str, Any], attrs: Mapping[str, Any]) -> None:
        nonlocal queued
        study.enqueue_trial(dict(params), user_attrs={keys.FIDELITY: epochs[rung], keys.RUNG: rung, **attrs})
        queued += 1

    # the first rung (the lowest one planned): the suggestions first, then tickets the sampler fills
    first = next((i for i, c in enumerate(counts) if c > 0), None)
    if first is None:
        return 0  # the budget pays for no trial at all
    held = held_on(first)
    held_suggestions = {int(t.user_attrs.get(keys.SUGGESTION, 0)) for t in held
                        if t.user_attrs.get(keys.SOURCE) == keys.SUGGESTION_SOURCE}
    n = len(held)
    for i, params in enumerate(firsts or ()):
        if n < counts[first] and i not in held_suggestions and affords(study, budget, epochs[first]):
            enqueue(first, params, {keys.SOURCE: keys.SUGGESTION_SOURCE, keys.SUGGESTION: i})
            n += 1
    while n < counts[first] and affords(study, budget, epochs[first]):
        enqueue(first, {}, {})
        n += 1
    if queued:
        return queued  # promotions wait for the rung below to finish: not before these ran
    # the promotions: from the highest rung that has finished, once
    below = first
    for rung in range(first + 1, len(epochs)):
        if counts[rung] == 0:
            continue
        if any(t.state.name in ("WAITING", "RUNNING") for t in tickets(below)):
            return 0  # the rung below still runs
        here = held_on(rung)
        promoted = {int(t.user_attrs[keys.PROMOTED_FROM]) for t in here if keys.PROMOTED_FROM in t.user_attrs}
        candidates = [t for t in _ranked([t for t in trials if _rung_of(t) == below], sign)
                      if t.number not in promoted]
        for t in candidates[:max(0, counts[rung] - len(here))]:
            if not affords(study, budget, epochs[rung]):
                break
            enqueue(rung, t.params, {keys.PROMOTED_FROM: t.number})
        if queued:
            return queued
        below = rung
    return _extend(study, trials, ladder, sign, budget)


def _extend(study: optuna.Study, trials: Sequence[optuna.trial.FrozenTrial], ladder: Mapping[str, Any], sign: float,
            budget: Mapping[str, Any] | None) -> int:
    """The length ladder: once the planned rungs have finished, when the best of the longest rung run so far
    was still improving clearly at its last epoch (:func:`last_epoch_rise`), train it again twice as long
    (up to the ladder's ``cap`` epochs, and only while the budget pays for it). Each step is a rung of one
    trial above the plan (user attribute :data:`~hybridtune.study.keys.EXTENDED`)."""
    cap, n_val = ladder.get("cap"), ladder.get("n_val")
    if not cap or not n_val or sign < 0:
        return 0  # the rise rule is binomial, for an accuracy
    planned_top = len(ladder["epochs"]) - 1
    rungs = [r for t in trials if (r := _rung_of(t)) is not None]
    top = max(rungs, default=-1)
    if top < planned_top:
        return 0
    on_top = [t for t in trials if _rung_of(t) == top and t.user_attrs.get(keys.SOURCE) != keys.PROBE_SOURCE]
    if not on_top or any(t.state.name in ("WAITING", "RUNNING") for t in on_top):
        return 0
    if top == planned_top and len([t for t in on_top if _finished(t)]) < ladder["counts"][-1]:
        return 0
    ranked = _ranked(on_top, sign)
    if not ranked:
        return 0
    best = ranked[0]
    epochs = int(best.user_attrs.get(keys.FIDELITY) or ladder["epochs"][-1])
    longer = min(2 * epochs, int(cap))
    if longer <= epochs or last_epoch_rise(best.user_attrs.get(keys.CURVE) or [], int(n_val)) is None:
        return 0
    if not affords(study, budget, longer):
        return 0
    study.enqueue_trial(dict(best.params), user_attrs={keys.FIDELITY: longer, keys.RUNG: top + 1,
                                                       keys.PROMOTED_FROM: best.number, keys.EXTENDED: True})
    return 1


def ladder_rows(trials: Sequence[optuna.trial.FrozenTrial], ladder: Mapping[str, Any] | None, *,
                direction: str = "maximize") -> list[dict[str, Any]]:
    """The ladder as the report shows it: one row per rung with its length, its planned and finished trials,
    its best value and which trials went up from it."""
    if not ladder:
        return []
    rows = []
    extended = sorted({(int(r), int(t.user_attrs[keys.FIDELITY])) for t in trials
                       if t.user_attrs.get(keys.EXTENDED) and (r := _rung_of(t)) is not None})
    plan = list(zip(ladder["epochs"], ladder["counts"])) + [(e, 1) for _, e in extended]
    for rung, (e, c) in enumerate(plan):
        on = [t for t in trials if _rung_of(t) == rung]
        done = [t for t in on if _finished(t)]
        promoted = sorted(int(t.user_attrs[keys.PROMOTED_FROM]) for t in trials
                          if keys.PROMOTED_FROM in t.user_attrs and _rung_of(t) == rung + 1)
        values = [float(t.value) for t in done if t.value is not None and t.state.name == "COMPLETE"]
        rows.append({"rung": rung, "epochs": int(e), "planned": int(c),
                     "probes": sum(t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE for t in on),
                     "finished": len(done), "promoted": promoted,
                     "best": (min(values) if direction == "minimize" else max(values)) if values else None})
    return rows
