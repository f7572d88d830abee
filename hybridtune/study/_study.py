"""The hybrid study: probes -> priors -> an Optuna search inside them -> baselines -> a cost-fair comparison.

:func:`run_study` is the whole pipeline in one call; the ``hybridtune study`` command is a thin layer over
it. Everything a comparison needs is kept in the Optuna storage, so :func:`load_result` rebuilds the same
numbers from the stored trials alone (``hybridtune report``):

- the search study ``<name>`` holds the priors (user attribute ``priors``, so a resumed study never probes
  again), its space, and one trial per configuration tried;
- the baselines are separate studies, ``<name>-grid`` (``GridSampler``, no pruning) and ``<name>-random``
  (the same sampler and pruner over wide bounds, no priors);
- every trial stores its cost (``cost``: examples, steps, seconds, epochs), its per-epoch curve
  (``curve``), the values it trained with (``hyperparams``) and its ``outcome``, pruned and diverged
  trials included.

A diverging trial is an outcome, not a crash: it is stored as COMPLETE with the value of chance accuracy
(``1 / classes``), ``outcome="diverged"`` and the trainer's reason. Its cost counts; it is never a study's
best; the pruners see the accuracies it reported before diverging.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from .._core._json import finite_json
from .._core._errors import ConfigError, TrialFailed
from ..probes._rangetest import EXTEND_MODES
from .._core._registry import check_choice, did_you_mean
from ..space._space import (LR_RANGE, WEIGHT_DECAY_BOUNDS, GridSpace, Hyperparams, SearchSpace, batch_sizes,
                     dataset_batch_ceiling, grid_space, search_space, wide_space)
from .._core._storage import open_storage, redact
from ..task._task import Task
from ..train._trainer import Cost, train
from .._core._types import Progress

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..probes._priors import Priors

_log = logging.getLogger(__name__)


SAMPLERS = ("random", "tpe")
PRUNERS = ("asha", "median", "hyperband", "none")
BASELINES = ("grid", "random")
PRESETS = ("default", "quick")
#: Bumped when what a study stores changes incompatibly.
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class StudyConfig:
    """How to run a study. The defaults fit the default ``resnet`` on ``mnist5k`` study in about 15
    minutes on two CPU cores, grid included; :meth:`quick` is the 3-minute smoke-size preset.

    Args:
        name: the search study's name (default ``<model>-<dataset>``, ``-quick`` appended for the quick
            preset); the baselines are ``<name>-grid`` and ``<name>-random``.
        trials: trials of the search (completed and pruned ones count; a resumed study runs the rest).
        epochs: ``E``, each trial's 1cycle length; the grid trains every cell for all ``E``.
        sampler: ``random`` (default) or ``tpe``.
        pruner: ``asha`` (``SuccessiveHalvingPruner``, default), ``median``, ``hyperband`` or ``none``.
        baselines: any of ``grid`` (default) and ``random``; ``()`` for none.
        tolerance: accuracy points: a study "matches" the grid once it is within this of the grid's best.
        seed: model initialisation and data order of every probe and trial (common random numbers: the
            configurations differ, the seed does not), and the samplers' seed.
        probe_batch_size: the probes' batch size ``B0`` (the LR rule's reference); capped so an epoch keeps
            8 steps.
        probe_range_steps / probe_momentum_epochs / probe_momenta: the probes' length.
            ``probe_range_extend``: when the default-length range test is re-run four times longer:
            ``no_band`` (default: only when it gives no band at all), ``weak`` (also when its loss fell
            less than 15%: the library's default for ``lr-find``) or ``never``. The study's probes re-run
            only when they must: the search covers a decade above the priors' ``lr_max`` anyway, so a
            weak but readable sweep is enough for it, and the probes' cost counts against the search
            (a re-run is 4x the sweep: 0.06 of the default grid on the CNN). Two of Smith's four
            momenta by default (0.95 and 0.9): it halves the probes' cost, and the one-epoch runs favour 0.99
            and 0.97 for their fast start, which multi-epoch 1cycle training does not need.
        suggestions: the range test's suggestions, queued as the search's first trials: where their 1cycle
            peak LRs sit in the search band, on its log scale (0 its floor ``lr_range[0] x lr_max``, 1 its
            top; at the probes' batch size, scaled by the batch-size rule), each trained at the space's
            smallest batch size with the priors' momentum and weight decay. Default ``(0.5, 0.75)``: the
            log-middle and the upper quarter, ``10**0.5`` and ``10**0.75 x lr_max`` in the default band. The
            band is a decade wide and where 1cycle peaks inside it depends on the model (on mnist5k the
            CNN's best first trial was at the middle, ResNet-8's in the upper quarter), so one point is a
            coin toss and two cover it. The smallest batch size because cost is counted in examples: for
            the same examples it takes the most steps (batch 32 beat 64 in 9 of 12 such runs, 1 tie;
            see BENCHMARKS.md). They run all ``E`` epochs (never pruned): they are the priors' own answer and
            the bar the pruner holds the sampled trials to.
        lr_range: the search's band for the 1cycle peak, in multiples of the priors' ``lr_max``: default
            ``(1, 10)``, up to about where the range test's loss bottomed out; ``(0.1, 1)`` searches the
            priors' band itself (see :func:`hybridtune.search_space`).
        weight_decay: the search's log-uniform weight-decay bounds (0 is always an option).
        batch_size_floor / batch_size_ceiling: bounds of the searched batch sizes (see
            :func:`hybridtune.batch_sizes`).
        grid: overrides of the grid's axes: ``{"lr": [...], "momentum": [...], "weight_decay": [...],
            "batch_size": [...]}``.
        preset: ``default`` or ``quick`` (names the study and sizes the grid).
        test: retrain each study's best configuration once and score it on the test split.
        dashboard: save a markdown note and plotly figures into the studies for optuna-dashboard.

    Example:
        >>> StudyConfig.quick().epochs < StudyConfig().epochs
        True
    """

    name: str | None = None
    trials: int = 20
    epochs: int = 4
    sampler: str = "random"
    pruner: str = "asha"
    baselines: tuple[str, ...] = ("grid",)
    tolerance: float = 0.5
    seed: int = 0
    probe_batch_size: int = 64
    probe_range_steps: int | None = None
    probe_range_extend: str = "no_band"
    probe_momentum_epochs: int = 1
    probe_momenta: tuple[float, ...] = (0.95, 0.9)
    suggestions: tuple[float, ...] = (0.5, 0.75)
    lr_range: tuple[float, float] = LR_RANGE
    weight_decay: tuple[float, float] = WEIGHT_DECAY_BOUNDS
    batch_size_floor: int | None = None
    batch_size_ceiling: int | None = None
    grid: Mapping[str, tuple[float, ...]] | None = None
    preset: str = "default"
    test: bool = True
    dashboard: bool = True

    def __post_init__(self) -> None:
        def pos_int(name: str, v: Any, *, optional: bool = False) -> None:
            if optional and v is None:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, but got {name}={v!r}.")

        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()
                                      or len(self.name) > 200):
            raise ConfigError(f"name must be a non-empty string of at most 200 characters, but got "
                              f"name={self.name!r}.")
        pos_int("trials", self.trials)
        pos_int("epochs", self.epochs)
        pos_int("probe_batch_size", self.probe_batch_size)
        pos_int("probe_range_steps", self.probe_range_steps, optional=True)
        pos_int("probe_momentum_epochs", self.probe_momentum_epochs)
        pos_int("batch_size_floor", self.batch_size_floor, optional=True)
        pos_int("batch_size_ceiling", self.batch_size_ceiling, optional=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, but got seed={self.seed!r}.")
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("pruner", self.pruner, PRUNERS)
        check_choice("preset", self.preset, PRESETS)
        check_choice("probe_range_extend", self.probe_range_extend, EXTEND_MODES)
        baselines = (self.baselines,) if isinstance(self.baselines, str) else tuple(self.baselines)
        baselines = tuple(b for b in baselines if b != "none")
        for b in baselines:
            check_choice("baseline", b, BASELINES + ("none",))
        object.__setattr__(self, "baselines", tuple(dict.fromkeys(baselines)))
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, (int, float)) \
                or not 0 <= self.tolerance < 100:
            raise ConfigError(f"tolerance must be accuracy points in [0, 100), but got tolerance={self.tolerance!r}.")
        lo, hi = self.weight_decay
        if not 0 < lo <= hi:
            raise ConfigError(f"weight_decay must be (low, high) with 0 < low <= high, but got "
                              f"weight_decay={tuple(self.weight_decay)}.")
        object.__setattr__(self, "weight_decay", (float(lo), float(hi)))
        object.__setattr__(self, "probe_momenta", tuple(float(m) for m in self.probe_momenta))
        object.__setattr__(self, "lr_range", tuple(float(v) for v in self.lr_range))
        sug = (self.suggestions,) if isinstance(self.suggestions, (int, float)) else tuple(self.suggestions)
        if not sug or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in sug):
            raise ConfigError(f"suggestions must be one or more positions in the search band, from 0 (its floor) "
                              f"to 1 (its top), but got suggestions={self.suggestions!r}.")
        object.__setattr__(self, "suggestions", tuple(float(v) for v in sug))
        if self.grid is not None:
            object.__setattr__(self, "grid", {k: tuple(v) if isinstance(v, (list, tuple)) else (v,)
                                              for k, v in dict(self.grid).items()})

    @classmethod
    def quick(cls, **changes: Any) -> StudyConfig:
        """The smoke-size preset of ``--quick``: every phase, in about three minutes on two CPU cores.

        Example:
            >>> StudyConfig.quick(trials=4).trials
            4
        """
        kw: dict[str, Any] = {"trials": 6, "epochs": 2, "preset": "quick"}
        kw.update(changes)
        return cls(**kw)

    def replace(self, **changes: Any) -> StudyConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"StudyConfig fields must be among its fields, but got {sorted(unknown)}.")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = {k: list(v) for k, v in self.grid.items()} if self.grid else None
        return finite_json(d)


def default_name(task: Task, config: StudyConfig) -> str:
    """``<model>-<dataset>`` (``-quick`` for the quick preset), made safe for a study name."""
    import re

    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", task.model_name.rsplit(":", 1)[-1]).strip("_") or "model"
    data = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(task.data.name).split(":", 1)[0]).strip("_") or "data"
    return f"{model}-{data}" + ("-quick" if config.preset == "quick" else "")


# ----------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class HistoryPoint:
    """One finished trial, in completion order, with the running totals the comparison reads.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, n_trials=2, epochs=1, probe_batch_size=32, baseline="grid",
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

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "outcome": self.outcome, "value": self.value,
                "cost": self.cost.to_dict(), "cumulative": self.cumulative.to_dict(),
                "best_so_far": self.best_so_far}


@dataclass(frozen=True)
class StudyOutcome:
    """One study's numbers, computed from its stored trials (see :func:`outcome_from_trials`).

    ``cost`` is the total of every finished trial (completed, pruned, diverged) plus, for the search,
    the probes (``probe_cost``); ``history`` lists the finished trials in completion order.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, n_trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> r.result.grid.n_trials, r.result.search.n_trials
        (1, 2)
    """

    role: str
    study_name: str
    best_value: float | None
    best_trial: int | None
    best_params: dict[str, Any]
    best_hyperparams: dict[str, Any] | None
    n_trials: int
    n_complete: int
    n_pruned: int
    n_diverged: int
    n_failed: int
    cost: Cost
    probe_cost: Cost | None
    history: tuple[HistoryPoint, ...]
    test: dict[str, Any] | None = None

    @property
    def test_accuracy(self) -> float | None:
        return None if self.test is None else self.test.get("test_accuracy")

    def to_dict(self) -> dict[str, Any]:
        return finite_json({
            "study": self.study_name, "best_value": self.best_value, "best_trial": self.best_trial,
            "best_params": dict(self.best_params), "best_config": self.best_hyperparams,
            "n_trials": self.n_trials, "n_complete": self.n_complete, "n_pruned": self.n_pruned,
            "n_diverged": self.n_diverged, "n_failed": self.n_failed, "cost": self.cost.to_dict(),
            "probe_cost": self.probe_cost.to_dict() if self.probe_cost is not None else None,
            "test_accuracy": self.test_accuracy, "test": self.test,
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


@dataclass(frozen=True)
class Match:
    """When a study first came within the tolerance of the grid's best accuracy, and what that cost.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, n_trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> m = r.comparison.rows["search"]
        >>> m.role, isinstance(m.matched, bool)
        ('search', True)
    """

    role: str
    best_value: float | None
    matched: bool
    trials_to_match: int | None
    cost_to_match: Cost | None
    cost_ratio: float | None
    seconds_ratio: float | None
    total_cost: Cost
    test_accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.cost_to_match
        return finite_json({
            "best_value": self.best_value, "matched": self.matched,
            "cost_to_match_grid": None if c is None else {**c.to_dict(), "trials": self.trials_to_match},
            "cost_ratio_to_match_grid": self.cost_ratio, "seconds_ratio_to_match_grid": self.seconds_ratio,
            "cost": self.total_cost.to_dict(), "test_accuracy": self.test_accuracy})


@dataclass(frozen=True)
class Comparison:
    """The cost-fair comparison: each study against the grid's best validation accuracy.

    ``target = grid_best - tolerance / 100``. A study's ``cost_to_match`` is its cumulative cost (the
    probes included for the search) after the first trial, in completion order, whose value reached the
    target; ``cost_ratio`` divides its examples by the grid's total examples (the price of running the grid
    to learn its best), ``seconds_ratio`` does the same with wall seconds.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, n_trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> sorted(r.comparison.rows), len(r.comparison.to_frame())
        (['grid', 'search'], 2)
    """

    tolerance: float
    grid_best_value: float | None
    target: float | None
    rows: dict[str, Match]

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"tolerance_points": self.tolerance, "grid_best_value": self.grid_best_value,
                        "target": self.target, **{role: m.to_dict() for role, m in self.rows.items()}})

    def to_frame(self) -> Any:
        """One row per study, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([{"study": role, "best_value": m.best_value, "matched": m.matched,
                              "trials_to_match": m.trials_to_match,
                              "examples_to_match": m.cost_to_match.examples if m.cost_to_match else None,
                              "cost_ratio": m.cost_ratio, "seconds_ratio": m.seconds_ratio,
                              "examples": m.total_cost.examples, "seconds": m.total_cost.seconds,
                              "epochs": m.total_cost.epochs, "test_accuracy": m.test_accuracy}
                             for role, m in self.rows.items()])


@dataclass(frozen=True)
class StudyResult:
    """Everything a study produced, rebuilt from storage: the priors, each study's outcome, the comparison.

    ``to_dict()`` is the ``--json`` payload: ``priors``; ``search``, ``grid`` (and ``random``), each with
    ``best_value``, ``best_params``, ``n_trials`` and ``cost``; ``comparison`` with
    ``cost_to_match_grid``, ``cost_ratio_to_match_grid`` and ``test_accuracy`` per study.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, n_trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> sorted(r.result.outcomes), "comparison" in r.result.to_dict()
        (['grid', 'search'], True)
    """

    name: str
    storage: str
    task: dict[str, Any]
    config: dict[str, Any]
    priors: Priors | None
    space: dict[str, Any] | None
    grid_space: dict[str, Any] | None
    search: StudyOutcome
    grid: StudyOutcome | None
    random: StudyOutcome | None
    comparison: Comparison

    @property
    def outcomes(self) -> dict[str, StudyOutcome]:
        """The studies that exist, by role (``search``, ``grid``, ``random``)."""
        return {o.role: o for o in (self.search, self.grid, self.random) if o is not None}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "storage": self.storage, "task": self.task,
                             "config": self.config, "priors": self.priors.to_dict() if self.priors else None,
                             "space": self.space, "grid_space": self.grid_space}
        for role, o in self.outcomes.items():
            d[role] = o.to_dict()
        d["comparison"] = self.comparison.to_dict()
        return finite_json(d)

    def to_frame(self) -> Any:
        """The comparison table, one row per study (pandas)."""
        return self.comparison.to_frame()


# ----------------------------------------------------------------------------------------------
# Computation from stored trials (pure functions of FrozenTrials)


def _outcome_of(t: optuna.trial.FrozenTrial) -> str:
    return str(t.user_attrs.get("outcome", t.state.name.lower()))


def history_from_trials(trials: Sequence[optuna.trial.FrozenTrial], *, start: Cost | None = None) -> \
        tuple[HistoryPoint, ...]:
    """Finished trials (completed, pruned, and failed ones that recorded a cost) in completion order,
    with cumulative cost from ``start`` and the best value so far (diverged trials never count as best)."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state.is_finished() and "cost" in t.user_attrs]
    done.sort(key=lambda t: (t.datetime_complete or t.datetime_start, t.number))
    cum = start or Cost()
    best: float | None = None
    points = []
    for t in done:
        c = Cost.from_dict(t.user_attrs["cost"])
        cum = cum + c
        outcome = _outcome_of(t)
        value = t.value if t.state == TrialState.COMPLETE and outcome != "diverged" else None
        if value is not None and (best is None or value > best):
            best = value
        points.append(HistoryPoint(number=t.number, state=t.state.name, outcome=outcome,
                                   value=t.value if t.state == TrialState.COMPLETE else None, cost=c,
                                   cumulative=cum, best_so_far=best))
    return tuple(points)


def best_trial(trials: Sequence[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial | None:
    """The completed, non-diverged trial with the highest value (the earliest on a tie)."""
    from optuna.trial import TrialState

    ok = [t for t in trials if t.state == TrialState.COMPLETE and _outcome_of(t) != "diverged"
          and t.value is not None and math.isfinite(t.value)]
    if not ok:
        return None
    return max(ok, key=lambda t: (t.value, -t.number))


def outcome_from_trials(role: str, study_name: str, trials: Sequence[optuna.trial.FrozenTrial], *,
                        probe_cost: Cost | None = None, test: dict[str, Any] | None = None) -> StudyOutcome:
    """A :class:`StudyOutcome` computed from stored trials alone."""
    from optuna.trial import TrialState

    history = history_from_trials(trials, start=probe_cost)
    best = best_trial(trials)
    total = history[-1].cumulative if history else (probe_cost or Cost())
    if test is not None and (best is None or test.get("trial") != best.number):
        test = None  # stale: the best changed since it was tested
    return StudyOutcome(
        role=role, study_name=study_name, best_value=None if best is None else best.value,
        best_trial=None if best is None else best.number, best_params=dict(best.params) if best else {},
        best_hyperparams=dict(best.user_attrs.get("hyperparams", {})) if best else None,
        n_trials=sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials),
        n_complete=sum(t.state == TrialState.COMPLETE and _outcome_of(t) != "diverged" for t in trials),
        n_pruned=sum(t.state == TrialState.PRUNED for t in trials),
        n_diverged=sum(_outcome_of(t) == "diverged" for t in trials),
        n_failed=sum(t.state == TrialState.FAIL for t in trials),
        cost=total, probe_cost=probe_cost, history=history, test=test)


def compare(outcomes: Mapping[str, StudyOutcome], *, tolerance: float = 0.5) -> Comparison:
    """The cost-fair comparison of studies against the grid (see :class:`Comparison`).

    Without a grid (or a grid with no completed trial) there is no target: every ``cost_to_match`` is
    ``None``, the rest is still filled in.
    """
    grid = outcomes.get("grid")
    grid_best = grid.best_value if grid is not None else None
    target = None if grid_best is None else grid_best - tolerance / 100.0
    rows: dict[str, Match] = {}
    for role, o in outcomes.items():
        hit = None
        if target is not None:
            hit = next(((i, p) for i, p in enumerate(o.history)
                        if p.best_so_far is not None and p.best_so_far >= target - 1e-12), None)
        cost = hit[1].cumulative if hit else None
        ratio = sratio = None
        if cost is not None and grid is not None:
            ratio = cost.examples / grid.cost.examples if grid.cost.examples else None
            sratio = cost.seconds / grid.cost.seconds if grid.cost.seconds else None
        rows[role] = Match(role=role, best_value=o.best_value, matched=hit is not None,
                           trials_to_match=None if hit is None else hit[0] + 1, cost_to_match=cost,
                           cost_ratio=ratio, seconds_ratio=sratio, total_cost=o.cost,
                           test_accuracy=o.test_accuracy)
    return Comparison(tolerance=float(tolerance), grid_best_value=grid_best, target=target, rows=rows)


# ----------------------------------------------------------------------------------------------
# Optuna plumbing


def _sampler(kind: str, seed: int, n_existing: int, salt: int = 0) -> optuna.samplers.BaseSampler:
    import numpy as np
    import optuna

    # A resumed study must not replay the first run's draws: the seed moves on with the trial count;
    # each worker adds its own salt, so that two workers never draw the same values.
    s = int(np.random.SeedSequence([seed, n_existing] + ([salt] if salt else [])).generate_state(1)[0])
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=s)
    return optuna.samplers.RandomSampler(seed=s)


def _pruner(kind: str, epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    # The first rung sits a third of the way in: in 1cycle's warm-up (the first 30% of the steps) the
    # validation accuracy mostly says how high the LR is, not how good the run will be.
    first = max(1, math.ceil(epochs / 3))
    if kind == "asha":
        # rungs at first, 3*first, ... epochs: a third of the trials go on at each rung
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=3)
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=first - 1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=epochs, reduction_factor=3)
    return optuna.pruners.NopPruner()


def _identity(task: Task, config: StudyConfig, role: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    d = task.data
    ident = {"format": FORMAT_VERSION, "role": role, "model": task.model_name,
             "model_kwargs": dict(task.model_kwargs), "data": d.name,
             "splits": [len(d.train), len(d.val), len(d.test)],  # type: ignore[arg-type]
             "optimizer": task.optimizer, "epochs": config.epochs, "seed": config.seed}
    if extra:
        ident.update(extra)
    return finite_json(ident)


def _open_study(storage: Any, name: str, identity: dict[str, Any], *, sampler: Any = None,
                pruner: Any = None) -> optuna.Study:
    """Create the study or load it; a stored study made for another task/setup is an error, never mixed."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True,
                                sampler=sampler, pruner=pruner)
    stored = study.user_attrs.get("identity")
    if stored is None:
        if study.trials:
            raise ConfigError(f"study {name!r} must be a hybridtune study to resume it, but the storage holds an "
                              f"Optuna study of that name with {len(study.trials)} trials; choose another --name.")
        study.set_user_attr("identity", identity)
        return study
    for key in sorted(set(stored) | set(identity)):
        if stored.get(key) != identity.get(key):
            raise ConfigError(f"a resumed study must keep its setup: {name!r} was created with {key}="
                              f"{stored.get(key)!r}, but got {key}={identity.get(key)!r}; use another --name "
                              f"for a new study.")
    return study


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def worker_id() -> str:
    """``host:pid``: which process ran a trial (user attribute ``worker`` of every trial)."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _train_trial(trial: optuna.Trial, task: Task, hp: Hyperparams, config: StudyConfig, *, prune: bool,
                 chance: float) -> float:
    """One trial: 1cycle training with the one trainer, reporting validation accuracy every epoch.

    Out of memory is this trial's failure (:class:`TrialFailed`, the reason stored as ``fail_reason``);
    Ctrl-C marks the trial failed (``outcome="interrupted"``) and stops the process.
    """
    import optuna

    tc = hp.train_config(optimizer=task.optimizer, epochs=config.epochs, seed=config.seed)
    trial.set_user_attr("hyperparams", finite_json(hp.to_dict()))
    trial.set_user_attr("worker", worker_id())
    pruned_at: list[int] = []
    # the range test's suggestions run to the end: the pruner still records them (the bar for the others)
    suggestion = bool(trial.user_attrs.get("source"))

    def on_epoch(e: Any) -> bool | None:
        if e.val_acc is None:
            return None
        trial.report(float(e.val_acc), e.epoch)
        # the last epoch is the trial's result: nothing is saved by pruning it
        if prune and e.epoch < config.epochs and trial.should_prune() and not suggestion:
            pruned_at.append(e.epoch)
            return True
        return None

    try:
        r = train(task, tc, on_epoch=on_epoch)
    except KeyboardInterrupt:
        trial.set_user_attr("outcome", "interrupted")
        trial.set_user_attr("fail_reason", "interrupted (Ctrl-C); re-running the study runs it again")
        raise
    except Exception as exc:
        if not _is_oom(exc):
            raise
        import torch

        if task.torch_device.type == "cuda":
            torch.cuda.empty_cache()
        reason = f"out of memory at batch size {hp.batch_size} on {task.torch_device}: {str(exc).splitlines()[0]}"
        trial.set_user_attr("outcome", "failed")
        trial.set_user_attr("fail_reason", reason)
        _log.warning("trial %d failed: %s", trial.number, reason)
        raise TrialFailed(reason) from None
    trial.set_user_attr("cost", finite_json(r.cost.to_dict()))
    trial.set_user_attr("curve", finite_json([{"epoch": e.epoch, "val_acc": e.val_acc, "val_loss": e.val_loss,
                                           "train_loss": e.train_loss, "train_acc": e.train_acc,
                                           "seconds": e.seconds, "examples": e.examples} for e in r.epochs]))
    trial.set_user_attr("stop_reason", r.stop_reason)
    if pruned_at:
        trial.set_user_attr("outcome", "pruned")
        raise optuna.TrialPruned(f"pruned after epoch {pruned_at[0]}")
    if r.diverged or r.val_acc is None or not math.isfinite(r.val_acc):
        trial.set_user_attr("outcome", "diverged")
        _log.info("trial %d diverged (%s); recorded at chance accuracy %.3g", trial.number, r.stop_reason, chance)
        return chance
    trial.set_user_attr("outcome", "completed")
    return float(r.val_acc)


def _fail_stale(study: optuna.Study) -> None:
    """Fail the RUNNING trials whose process stopped beating (a killed worker); the storage's
    ``RetryHeartbeatStaleTrialCallback`` queues each again (see :func:`hybridtune.open_storage`)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _finished_count(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


# ----------------------------------------------------------------------------------------------
# The work queue: how one process or many share a study
#
# Every trial a study will run is put in Optuna's trial queue (WAITING trials) once, by the coordinator
# (the ``study`` command): one ticket per search trial (the first two carry the range test's suggestions, the
# others let the sampler choose), one per grid cell with its values fixed. Every process, the coordinator
# and any ``hybridtune worker``, takes trials only from that queue. Taking one is a single
# ``WAITING -> RUNNING`` update (a row lock on PostgreSQL), so two processes never get the same trial, the
# global count is exact, and no grid cell runs twice. A killed process's trial stops beating; it is
# failed after the grace period and queued again by Optuna's ``RetryHeartbeatStaleTrialCallback``.

_LIVE_STATES = ("COMPLETE", "PRUNED", "WAITING", "RUNNING")


class _QueueEmpty(Exception):
    """Raised from ``study.ask()`` when the study's queue is empty: this process is done with the study."""


def _cell_key(params: Mapping[str, Any]) -> str:
    import json

    return json.dumps({k: v for k, v in params.items()}, sort_keys=True)


def _trial_params(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return dict(t.system_attrs.get("fixed_params") or t.params)


def _failed_on_its_own(t: optuna.trial.FrozenTrial) -> bool:
    """A trial that failed for a reason of its own (out of memory): running it again would fail again."""
    return t.state.name == "FAIL" and t.user_attrs.get("outcome") == "failed"


def _fill_search_queue(study: optuna.Study, n_trials: int, firsts: Sequence[Mapping[str, Any]] | None, *,
                       in_run: bool = False) -> int:
    """Queue what is missing for ``n_trials`` search trials: finished, running and queued ones count;
    failed ones (interrupted, killed beyond the retries) are run again. ``firsts`` (the range test's
    suggestions) go first, each again if the trial that held it failed. ``in_run``: the coordinator topping
    the queue up during its run, where a trial that failed on its own (out of memory) also counts, so it
    is not drawn again and again; a resumed study gives such trials another go. Returns the number queued."""
    trials = study.get_trials(deepcopy=False)
    used = [t for t in trials if t.state.name in _LIVE_STATES or (in_run and _failed_on_its_own(t))]
    held = {int(t.user_attrs.get("suggestion", 0)) for t in used if t.user_attrs.get("source")}
    queued = 0
    for i, params in enumerate(firsts or ()):
        if i not in held and len(used) + queued < n_trials:
            study.enqueue_trial(dict(params), user_attrs={"source": "range test suggestion", "suggestion": i})
            queued += 1
    for _ in range(n_trials - len(used) - queued):
        study.enqueue_trial({})  # a ticket: the sampler picks its values when a process takes it
        queued += 1
    return queued


def _fill_grid_queue(study: optuna.Study, grid: GridSpace, seed: int, *, in_run: bool = False) -> int:
    """Queue each grid cell that has no completed, running or queued trial (nor, ``in_run``, one that
    failed on its own); returns how many were queued."""
    have = {_cell_key(_trial_params(t)) for t in study.get_trials(deepcopy=False)
            if t.state.name in ("COMPLETE", "WAITING", "RUNNING") or (in_run and _failed_on_its_own(t))}
    queued = 0
    for cell in grid.cell_list(seed):
        if _cell_key(cell) not in have:
            study.enqueue_trial(cell)
            queued += 1
    return queued


@dataclass
class _Phase:
    """One study's share of the work, as any process runs it."""

    role: str
    study: optuna.Study
    objective: Callable[[Any], float]
    total: int
    cap: int | None = None  # the global cap for MaxTrialsCallback (finished trials)
    refill: Callable[[], int] | None = None  # the coordinator's: queue again what failed without finishing

    def done(self) -> int:
        from optuna.trial import TrialState

        if self.role == "grid":
            return len({_cell_key(_trial_params(t)) for t in self.study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,))})
        return _finished_count(self.study)

    def count(self, *states: str) -> int:
        from optuna.trial import TrialState

        return len(self.study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in states)))


def _drain(phase: _Phase, *, budget: int | None, progress: Progress | None) -> int:
    """Run ``phase``'s queued trials in this process until the queue is empty (or ``budget`` trials ran).

    It is ``study.optimize`` (heartbeats, stale-trial retry, pruning, callbacks), except that a trial only
    ever starts from the queue: when the queue is empty ``ask`` raises instead of creating a new trial.
    """
    import optuna
    from optuna.trial import TrialState

    study = phase.study
    pop = study._pop_waiting_trial_id

    def pop_or_stop() -> int:
        trial_id = pop()
        if trial_id is None:
            raise _QueueEmpty
        return trial_id

    ran = 0

    def after(s: Any, t: Any) -> None:
        nonlocal ran
        ran += 1
        if progress is not None:
            progress(phase.role, min(phase.done(), phase.total), phase.total)

    callbacks: list[Callable[[Any, Any], None]] = [after]
    if phase.cap is not None:
        callbacks.append(optuna.study.MaxTrialsCallback(phase.cap, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    study._pop_waiting_trial_id = pop_or_stop  # type: ignore[method-assign]
    try:
        study.optimize(phase.objective, n_trials=budget, callbacks=callbacks, catch=(TrialFailed,))
    except _QueueEmpty:
        pass
    finally:
        del study._pop_waiting_trial_id
    return ran


def _work(phases: Sequence[_Phase], *, budget: int | None, progress: Progress | None) -> dict[str, int]:
    """Take trials from each phase's queue in turn (search, grid, random); returns trials run per role."""
    ran: dict[str, int] = {}
    for phase in phases:
        if progress is not None:
            progress(phase.role, min(phase.done(), phase.total), phase.total)
        left = None if budget is None else budget - sum(ran.values())
        if left is not None and left <= 0:
            break
        ran[phase.role] = _drain(phase, budget=left, progress=progress)
    return ran


def _await_others(phases: Sequence[_Phase], *, poll_seconds: float, progress: Progress | None) -> None:
    """Wait until no trial of any phase runs anywhere: other processes' trials finish, a killed process's
    trial is failed after the grace period and queued again, and whatever is queued runs here."""
    while True:
        busy = False
        for phase in phases:
            _fail_stale(phase.study)
            if phase.refill is not None:
                phase.refill()  # a worker's trial that was interrupted (Ctrl-C) runs again
            if phase.count("WAITING"):
                _drain(phase, budget=None, progress=progress)
            if phase.count("RUNNING", "WAITING"):
                busy = True
            if progress is not None:
                progress(phase.role, min(phase.done(), phase.total), phase.total)
        if not busy:
            return
        time.sleep(poll_seconds)


def _phases(store: Any, name: str, task: Task, config: StudyConfig, *, salt: int = 0) -> list[_Phase]:
    """The studies of ``name`` that exist, each with the objective that runs its trials.

    The search and ``random`` samplers are seeded from ``config.seed``, the study's size and ``salt``
    (0 for the coordinator, so a one-process study is reproducible; a worker's own, so that two
    workers never draw the same values).
    """
    import optuna

    from .._core._storage import study_names

    names = set(study_names(store))
    chance = 1.0 / task.data.num_classes
    prune = config.pruner != "none"
    phases: list[_Phase] = []
    study = optuna.load_study(study_name=name, storage=store)
    space = SearchSpace.from_dict(study.user_attrs["space"])
    study.sampler = _sampler(config.sampler, config.seed, int(study.user_attrs.get("sampler_offset", 0)), salt)
    study.pruner = _pruner(config.pruner, config.epochs)
    phases.append(_Phase("search", study, lambda t, s=space: _train_trial(t, task, s.suggest(t), config, prune=prune,
                                                                          chance=chance),
                         total=config.trials, cap=config.trials))
    if "grid" in config.baselines and f"{name}-grid" in names:
        gstudy = optuna.load_study(study_name=f"{name}-grid", storage=store,
                                   sampler=optuna.samplers.RandomSampler(seed=config.seed),
                                   pruner=optuna.pruners.NopPruner())
        grid = GridSpace.from_dict(gstudy.user_attrs["grid_space"])
        phases.append(_Phase("grid", gstudy, lambda t, g=grid: _train_trial(t, task, g.suggest(t), config,
                                                                            prune=False, chance=chance),
                             total=grid.cells))
    if "random" in config.baselines and f"{name}-random" in names:
        rstudy = optuna.load_study(study_name=f"{name}-random", storage=store)
        wide = SearchSpace.from_dict(rstudy.user_attrs["space"])
        rstudy.sampler = _sampler(config.sampler, config.seed, int(rstudy.user_attrs.get("sampler_offset", 0)),
                                  salt)
        rstudy.pruner = _pruner(config.pruner, config.epochs)
        phases.append(_Phase("random", rstudy, lambda t, s=wide: _train_trial(t, task, s.suggest(t), config,
                                                                              prune=prune, chance=chance),
                             total=config.trials, cap=config.trials))
    return phases


def _test_best(study: optuna.Study, task: Task, config: StudyConfig) -> None:
    """Retrain the best configuration once (same seed: the very model that was selected) and score it on
    the test split; cached on the study, redone only when the best trial changes."""
    best = best_trial(study.get_trials(deepcopy=False))
    cached = study.user_attrs.get("test")
    if best is None or (cached and cached.get("trial") == best.number):
        return
    hp = Hyperparams(**best.user_attrs["hyperparams"])
    tc = hp.train_config(optimizer=task.optimizer, epochs=config.epochs, seed=config.seed)
    model = task.build_model(seed=tc.seed)
    r = train(task, tc, model=model)
    test_loss = test_acc = None
    if not r.diverged:
        test_loss, test_acc, _ = task.evaluate(model, task.data.test)
    study.set_user_attr("test", finite_json({"trial": best.number, "test_accuracy": test_acc, "test_loss": test_loss,
                                         "val_accuracy": r.val_acc, "status": r.status,
                                         "cost": r.cost.to_dict()}))


# ----------------------------------------------------------------------------------------------
# The pipeline


def run_study(task: Task, config: StudyConfig | None = None, *, storage: Any = None,
              progress: Progress | None = None, poll_seconds: float = 1.0) -> StudyResult:
    """Run (or resume) the hybrid study and return its result, computed from storage.

    1. **Probes** (:func:`hybridtune.find_priors`), unless the study already holds their result.
    2. **Search**: ``config.sampler`` with ``config.pruner`` inside the priors' space
       (:func:`hybridtune.search_space`); the range test's suggestions are the first trials.
    3. **Baselines**: the ``grid`` (every cell once, full epochs, no pruning) and/or ``random`` (the same
       sampler and pruner over wide bounds, no priors).
    4. **Test**: each study's best configuration retrained once and scored on the test split.
    5. **Comparison** from the stored trials (:func:`load_result`), and the dashboard note and figures.

    This process is the study's coordinator: it probes, puts every trial of every phase in Optuna's trial
    queue once, runs trials from the queues, and waits for those that ``hybridtune worker`` processes
    (:func:`run_worker`, on a shared database such as PostgreSQL) took, before testing and comparing.
    Re-running with the same name and storage resumes: finished trials count, failed or interrupted
    ones run again, missing grid cells run, the probes are not repeated.

    Args:
        task: the data, model, loss and optimizer family.
        config: sizes and choices (default :class:`StudyConfig`).
        storage: an Optuna storage URL (default ``sqlite:///runs/hybridtune.db``) or an open Optuna storage.
        progress: optional ``progress(phase, done, total)``; phases ``probes: ...``, ``search``,
            ``grid``, ``random``, ``test``.
        poll_seconds: how often to look at other processes' trials while waiting for them.

    Raises:
        StorageError: the storage cannot be opened, or another process runs this study's coordinator (or,
            on a SQLite file, any study).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", device="cpu")
        >>> cfg = ht.StudyConfig.quick(trials=3, probe_batch_size=32, grid={"lr": [0.1],
        ...                            "batch_size": [32]})
        >>> result = ht.run_study(task, cfg, storage="sqlite:///:memory:")  # doctest: +SKIP
        >>> sorted(result.outcomes)  # doctest: +SKIP
        ['grid', 'search']
    """
    from .._core._storage import coordinator_lock

    config = config or StudyConfig()
    if not isinstance(task, Task):
        raise ConfigError(f"task must be a hybridtune.Task, but got {type(task).__name__}.")
    store = open_storage(storage)
    name = config.name or default_name(task, config)
    with coordinator_lock(store, name):
        return _coordinate(task, config, store, name, progress, poll_seconds)


def _coordinate(task: Task, config: StudyConfig, store: Any, name: str, progress: Progress | None,
                poll_seconds: float) -> StudyResult:
    import optuna

    t0 = time.perf_counter()
    n_train = len(task.data.train)  # type: ignore[arg-type]
    probe_bs = min(config.probe_batch_size, dataset_batch_ceiling(n_train))

    # 1. the search study and its priors
    study = _open_study(store, name, _identity(task, config, "search", _probe_identity(config, probe_bs)))
    study.set_user_attr("config", config.to_dict())
    study.set_user_attr("task", finite_json(_task_description(task)))
    study.set_user_attr("recipe", task.recipe())
    priors = _priors(study, task, config, probe_bs, progress)
    space_d = study.user_attrs.get("space")
    if space_d is None:
        sizes = batch_sizes(task, ref_batch_size=probe_bs, floor=config.batch_size_floor,
                            ceiling=config.batch_size_ceiling, epochs=config.epochs)
        space = search_space(priors, sizes, lr_range=config.lr_range, weight_decay=config.weight_decay)
        study.set_user_attr("space", space.to_dict())
    else:
        space = SearchSpace.from_dict(space_d)

    # 2. every phase's trials, queued once. First the range test's suggestions for 1cycle runs (see
    # StudyConfig.suggestions): the priors' momentum and weight decay, the smallest batch size, peak LRs
    # inside the search band. The priors' lr_max is a constant-LR value, the band's floor; a first trial
    # there trains well below what 1cycle's warm-up allows (ResNet-8 / mnist5k: 92-94% at lr_max, 4 epochs).
    lo, hi = config.lr_range
    firsts = [space.params_for(lr=priors.lr_max * lo * (hi / lo) ** pos, momentum=priors.momentum,
                               weight_decay=priors.weight_decay, batch_size=min(space.batch_sizes))
              for pos in config.suggestions]
    _queue_search(study, config.trials, firsts)
    if "grid" in config.baselines:
        grid = grid_space(task, quick=config.preset == "quick", overrides=config.grid)
        gstudy = _open_study(store, f"{name}-grid", _identity(task, config, "grid", {"grid": grid.to_dict()}),
                             pruner=optuna.pruners.NopPruner())
        gstudy.set_user_attr("grid_space", grid.to_dict())
        _fill_grid_queue(gstudy, grid, config.seed)
    if "random" in config.baselines:
        wide = wide_space(task.optimizer, space.batch_sizes, weight_decay=config.weight_decay)
        rstudy = _open_study(store, f"{name}-random", _identity(task, config, "random", {"space": wide.to_dict()}))
        rstudy.set_user_attr("space", wide.to_dict())
        _queue_search(rstudy, config.trials, None)
    study.set_user_attr("ready", True)  # workers may join from here on

    # 3. the work: this process takes trials from the queues like any worker, then waits for the others
    phases = _phases(store, name, task, config)
    for phase in phases:
        _fail_stale(phase.study)  # a trial a killed run left RUNNING: failed and queued again
        if phase.role == "grid":
            phase.refill = lambda s=phase.study, g=grid: _fill_grid_queue(s, g, config.seed, in_run=True)
        else:
            phase.refill = lambda s=phase.study: _fill_search_queue(s, config.trials, None, in_run=True)
    _work(phases, budget=None, progress=progress)
    _await_others(phases, poll_seconds=poll_seconds, progress=progress)

    # 4. the test split
    if config.test:
        roles = [name] + [f"{name}-{b}" for b in config.baselines]
        for i, sname in enumerate(roles):
            if progress is not None:
                progress("test", i, len(roles))
            _test_best(optuna.load_study(study_name=sname, storage=store), task, config)
        if progress is not None:
            progress("test", len(roles), len(roles))

    # 5. the comparison, from storage
    result = load_result(name, storage=store, tolerance=config.tolerance)
    study.set_user_attr("comparison", result.comparison.to_dict())
    if config.dashboard:
        from ..report._report import save_to_dashboard

        save_to_dashboard(result, storage=store)
    _log.info("study %s done in %.1fs", name, time.perf_counter() - t0)
    return result


def _probe_identity(config: StudyConfig, probe_bs: int) -> dict[str, Any]:
    return {"probe_batch_size": probe_bs, "probe_range_steps": config.probe_range_steps,
            "probe_range_extend": config.probe_range_extend,
            "probe_momentum_epochs": config.probe_momentum_epochs, "probe_momenta": list(config.probe_momenta)}


def _queue_search(study: optuna.Study, n_trials: int, firsts: Sequence[Mapping[str, Any]] | None) -> None:
    """Queue the search's missing trials; the sampler's seed moves on with the trials there were, so a
    resumed study does not replay the first run's draws."""
    from optuna.trial import TrialState

    n_before = len([t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING])
    if _fill_search_queue(study, n_trials, firsts):
        waiting_firsts = sum(bool(t.user_attrs.get("source")) for t in study.get_trials(
            deepcopy=False, states=(TrialState.WAITING,)))
        study.set_user_attr("sampler_offset", n_before + waiting_firsts)


# ----------------------------------------------------------------------------------------------
# Workers


@dataclass(frozen=True)
class WorkerResult:
    """What one :func:`run_worker` call did.

    Example:
        >>> WorkerResult(name="s", worker="host:1", device="cpu", trials={"search": 3, "grid": 2}).total
        5
    """

    name: str
    worker: str
    device: str
    trials: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.trials.values())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "worker": self.worker, "device": self.device, "trials": dict(self.trials),
                "total": self.total}


def config_from_dict(d: Mapping[str, Any]) -> StudyConfig:
    """A :class:`StudyConfig` from its ``to_dict()`` (as a study stores it)."""
    known = {f.name for f in fields(StudyConfig)}
    kw = {k: v for k, v in d.items() if k in known}
    for key in ("baselines", "probe_momenta", "lr_range", "weight_decay"):
        if key in kw and kw[key] is not None:
            kw[key] = tuple(kw[key])
    return StudyConfig(**kw)


def run_worker(name: str, *, storage: Any, device: str = "auto", trials: int | None = None,
               wait_seconds: float = 600.0, poll_seconds: float = 1.0,
               progress: Progress | None = None) -> WorkerResult:
    """Join a running study from another process or machine and run trials from its queues.

    The study's coordinator (``hybridtune study``, :func:`run_study`) probes, stores the priors and queues
    every trial; a worker never probes. It rebuilds the task from the names the study stored (model,
    dataset, optimizer), takes trials from the search, grid and random queues in turn until they are
    empty (or it ran ``trials``), and returns. The coordinator waits for the workers' trials, then tests
    and reports. Run one worker per GPU (``device="cuda:1"``) or per machine.

    Args:
        name: the search study's name.
        storage: a database that several processes share (PostgreSQL: ``postgresql+psycopg://...``).
        device: this worker's one device (``cuda:N``, ``cpu``, ``auto``).
        trials: run at most this many trials, then stop (default: until the queues are empty).
        wait_seconds: how long to wait for the coordinator to prepare the study (probes and queues).
        poll_seconds: how often to look while waiting.
        progress: optional ``progress(phase, done, total)``.

    Raises:
        StorageError: a SQLite or in-memory storage (one process only), or one that cannot be opened.
        ConfigError: no such study after ``wait_seconds``, a study built from Python objects (a worker
            rebuilds the task from names), or a task that does not rebuild to the same data.

    Example:
        >>> import hybridtune as ht
        >>> ht.run_worker("resnet-mnist5k", storage="postgresql+psycopg://me@db/studies",
        ...               device="cuda:1")  # doctest: +SKIP
    """
    import zlib

    import optuna

    from ..task._device import resolve_device
    from .._core._storage import SHARED_HINT, is_shared, storage_url, study_names

    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise ConfigError(f"trials must be a positive integer, but got trials={trials!r}.")
    resolve_device(device)  # a bad device fails now, not after waiting for the study
    store = open_storage(storage)
    if not is_shared(store):
        from .._core._errors import StorageError

        shown = redact(storage_url(store) or type(store).__name__)
        raise StorageError(f"a worker must share the study's storage with other processes, but got {shown!r}, "
                           f"which serves one process; {SHARED_HINT}.")
    deadline = time.monotonic() + wait_seconds
    while True:
        names = study_names(store)
        if name in names:
            study = optuna.load_study(study_name=name, storage=store)
            if study.user_attrs.get("ready"):
                break
        if time.monotonic() >= deadline:
            listed = ", ".join(sorted(n for n in names if not n.endswith(("-grid", "-random")))) or "none"
            raise ConfigError(f"name must be a study that `hybridtune study` has prepared in this storage, but "
                              f"{name!r} was not ready after {wait_seconds:g}s (studies there: {listed}).")
        if progress is not None:
            progress("waiting for the study", 0, 1)
        time.sleep(poll_seconds)
    attrs = study.user_attrs
    recipe = attrs.get("recipe")
    if not recipe:
        raise ConfigError(f"a worker rebuilds the study's task from names, but study {name!r} was made from "
                          f"Python objects (a model, data, loss or metric that is not a registry name or a "
                          f"module:function reference); run such studies in one process.")
    config = config_from_dict(attrs["config"])
    task = Task(model=recipe["model"], data=recipe["data"], model_kwargs=recipe.get("model_kwargs", {}),
                optimizer=recipe["optimizer"], device=device)
    stored = attrs.get("identity", {})
    mine = _identity(task, config, "search")
    for key in ("model", "model_kwargs", "data", "splits", "optimizer"):
        if stored.get(key) != mine.get(key):
            raise ConfigError(f"a worker must rebuild the study's task exactly, but {key} came out as "
                              f"{mine.get(key)!r} here against {stored.get(key)!r} in study {name!r}.")
    if progress is not None:
        progress("waiting for the study", 1, 1)
    me = worker_id()
    phases = _phases(store, name, task, config, salt=zlib.crc32(me.encode()) or 1)
    ran = _work(phases, budget=trials, progress=progress)
    _log.info("worker %s ran %s on %s", me, ran, name)
    return WorkerResult(name=name, worker=me, device=str(task.device), trials=ran)


def _task_description(task: Task) -> dict[str, Any]:
    d = task.describe()
    d.pop("device", None)
    return d


def _priors(study: optuna.Study, task: Task, config: StudyConfig, probe_bs: int,
            progress: Progress | None) -> Priors:
    """The priors cached on the study, or the probes run now and their result stored."""
    from ..probes._priors import Priors, find_priors

    cached = study.user_attrs.get("priors")
    if cached is not None:
        if progress is not None:
            progress("probes (cached)", 1, 1)
        _log.info("priors of %s taken from storage; no probes run", study.study_name)
        return Priors.from_dict(cached)

    def relay(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"probes: {phase}", done, total)

    priors = find_priors(task, batch_size=probe_bs, momentum_epochs=config.probe_momentum_epochs,
                         range_steps=config.probe_range_steps, momenta=config.probe_momenta, seed=config.seed,
                         progress=relay, range_extend=config.probe_range_extend)
    study.set_user_attr("priors", priors.to_dict())
    study.set_user_attr("probe_cost", priors.cost.to_dict())
    return priors


def load_result(name: str, *, storage: Any = None, tolerance: float | None = None) -> StudyResult:
    """Rebuild a study's result from storage alone: the priors, each study's outcome from its stored
    trials, the comparison. No training happens here.

    Args:
        name: the search study's name (the baselines are found as ``<name>-grid`` / ``<name>-random``).
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``).
        tolerance: accuracy points (default: the one the study was run with).

    Raises:
        ConfigError: no study of that name (the message lists the names there are).
        StorageError: the storage cannot be opened.

    Example:
        >>> import hybridtune as ht
        >>> ht.load_result("resnet-mnist5k")  # doctest: +SKIP
    """
    import optuna

    from ..probes._priors import Priors
    from .._core._storage import study_names

    store = open_storage(storage, must_exist=True)
    names = study_names(store)
    if name not in names:
        hint = did_you_mean(name, names)
        listed = ", ".join(sorted(n for n in names if not n.endswith(("-grid", "-random")))) or "none"
        raise ConfigError(f"name must be a study in the storage ({listed}), but got {name!r}.{hint}")
    study = optuna.load_study(study_name=name, storage=store)
    attrs = study.user_attrs
    config = dict(attrs.get("config", {}))
    tol = float(config.get("tolerance", 0.5)) if tolerance is None else float(tolerance)
    priors = Priors.from_dict(attrs["priors"]) if attrs.get("priors") else None
    outcomes: dict[str, StudyOutcome] = {
        "search": outcome_from_trials("search", name, study.get_trials(deepcopy=False),
                                      probe_cost=priors.cost if priors else None, test=attrs.get("test"))}
    grid_space_d = None
    for role in BASELINES:
        sname = f"{name}-{role}"
        if sname not in names:
            continue
        s = optuna.load_study(study_name=sname, storage=store)
        outcomes[role] = outcome_from_trials(role, sname, s.get_trials(deepcopy=False), test=s.user_attrs.get("test"))
        if role == "grid":
            grid_space_d = s.user_attrs.get("grid_space")
    comparison = compare(outcomes, tolerance=tol)
    storage_url = redact(storage) if isinstance(storage, str) else redact(getattr(store, "url", "") or "")
    return StudyResult(name=name, storage=storage_url, task=dict(attrs.get("task", {})), config=config,
                       priors=priors, space=attrs.get("space"), grid_space=grid_space_d,
                       search=outcomes["search"], grid=outcomes.get("grid"), random=outcomes.get("random"),
                       comparison=comparison)

