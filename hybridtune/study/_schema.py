"""What a study stores, spelled in one place: every Optuna user-attribute key hybridtune writes or reads,
the role names, the study-name rule for the baselines, and the identity that stops a resumed study from
mixing setups (optuna ``pruners/_successive_halving.py``'s ``_completed_rung_key`` pattern: no key is a bare
literal anywhere else).

Everything a comparison needs is kept in the Optuna storage, so :func:`hybridtune.load_result` rebuilds the
same numbers from the stored trials alone (``hybridtune report``):

- the search study ``<name>`` holds the priors (user attribute ``priors``, so a resumed study never probes
  again), its space, and one trial per configuration tried;
- the baselines are separate studies, ``<name>-grid`` (every cell queued once, no pruning) and
  ``<name>-random`` (the same sampler and pruner over wide bounds, no priors);
- every trial stores its cost (``cost``: examples, steps, seconds, epochs), its per-epoch curve
  (``curve``), the values it trained with (``hyperparams``) and its ``outcome``, pruned and diverged
  trials included.

A diverging trial is an outcome, not a crash: it is stored as COMPLETE with the value of chance accuracy
(``1 / classes``), ``outcome="diverged"`` and the trainer's reason. Its cost counts; it is never a study's
best; the pruners see the accuracies it reported before diverging.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._core._errors import ConfigError
from .._core._json import finite_json

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..task._task import Task
    from ._config import StudyConfig

#: Bumped when what a study stores changes incompatibly.
FORMAT_VERSION = 1

# ----------------------------------------------------------------------------------------------
# Roles and study names

SEARCH = "search"
GRID = "grid"
RANDOM = "random"
#: Every role, in the order a process works on them.
ROLES = (SEARCH, GRID, RANDOM)
#: The baseline roles: each is its own study, ``<name>-<role>``.
BASELINE_ROLES = (GRID, RANDOM)


def study_name(name: str, role: str) -> str:
    """The name of study ``name``'s study for ``role``: the search is ``name`` itself, a baseline
    ``<name>-<role>``.

    Example:
        >>> study_name("resnet-mnist5k", "grid"), study_name("resnet-mnist5k", "search")
        ('resnet-mnist5k-grid', 'resnet-mnist5k')
    """
    return name if role == SEARCH else f"{name}-{role}"


def is_baseline_name(name: str) -> bool:
    """Whether ``name`` is a baseline's study (``<name>-grid`` or ``<name>-random``)."""
    return name.endswith(tuple(f"-{role}" for role in BASELINE_ROLES))


def search_names(names: Iterable[str]) -> list[str]:
    """The search studies among ``names`` (the baselines left out), sorted.

    Example:
        >>> search_names(["b", "a", "a-grid", "a-random"])
        ['a', 'b']
    """
    return sorted(n for n in names if not is_baseline_name(n))


def search_studies(storage: Any) -> list[str]:
    """The search studies hybridtune made in an open ``storage``, sorted: those that hold a search
    :data:`IDENTITY` (the baselines, and studies made by plain Optuna, left out).

    Example:
        >>> import optuna
        >>> store = optuna.storages.InMemoryStorage()
        >>> _ = optuna.create_study(study_name="plain", storage=store)
        >>> search_studies(store)
        []
    """
    import optuna

    summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    return sorted(s.study_name for s in summaries if not is_baseline_name(s.study_name)
                  and (s.user_attrs.get(IDENTITY) or {}).get("role") == SEARCH)


# ----------------------------------------------------------------------------------------------
# User attributes of a study

#: The setup a study was created with (:func:`identity`); a resumed study must match it.
IDENTITY = "identity"
#: ``StudyConfig.to_dict()`` (workers rebuild the config from it).
CONFIG = "config"
#: The task's description (``Task.describe()`` without the device).
TASK = "task"
#: The task as registry names (``Task.recipe()``): what a worker rebuilds the task from; empty for a task
#: made from Python objects.
RECIPE = "recipe"
#: ``Priors.to_dict()``: a resumed study never probes again.
PRIORS = "priors"
#: The probes' ``Cost.to_dict()``.
PROBE_COST = "probe_cost"
#: ``SearchSpace.to_dict()`` of the search (or of the random baseline's wide space).
SPACE = "space"
#: ``GridSpace.to_dict()`` of the grid baseline.
GRID_SPACE = "grid_space"
#: How many trials there were when the queue was last filled: the sampler's seed moves on with it.
SAMPLER_OFFSET = "sampler_offset"
#: Set once every queue is filled: workers may join from then on.
READY = "ready"
#: The best trial retrained on the test seeds and scored on the test split (see :func:`record_test`).
TEST = "test"
#: The study's budget in training examples, when it has one (see :func:`record_budget`).
BUDGET = "budget"
#: The prior-guided search's priors as its sampler reads them (``--space prior``): parameter name ->
#: ``ParamPrior`` fields, and the range test's suggestions (see :mod:`hybridtune.study._prior_sampler`).
PRIOR_SAMPLER = "prior_sampler"
#: ``Comparison.to_dict()``, saved for optuna-dashboard.
COMPARISON = "comparison"
#: A study's total ``Cost.to_dict()`` (for optuna-dashboard); on a trial, that trial's cost.
COST = "cost"
#: Where the search's chosen recipe and weights were last written (see :func:`record_artefacts`).
ARTEFACTS = "artefacts"

# ----------------------------------------------------------------------------------------------
# User attributes of a trial

#: The trainer settings the trial ran with (``Hyperparams.to_dict()``).
HYPERPARAMS = "hyperparams"
#: ``host:pid`` of the process that ran it.
WORKER = "worker"
#: Its per-epoch curve: a list of ``{"epoch", "val_acc", "val_loss", "train_loss", "train_acc", "seconds",
#: "examples"}``.
CURVE = "curve"
#: The trainer's stop reason.
STOP_REASON = "stop_reason"
#: With ``space="prior"``: how far its training loss climbed back at its peak LR, as a fraction of its starting
#: loss (:meth:`hybridtune.StepTrace.loss_rise`).
LOSS_RISE = "loss_rise"
#: One of the ``OUTCOME_*`` values below.
OUTCOME = "outcome"
#: Why a failed trial failed (out of memory, interrupted).
FAIL_REASON = "fail_reason"
#: Set on a queued trial that holds one of the range test's suggestions (value :data:`SUGGESTION_SOURCE`).
SOURCE = "source"
#: Which suggestion it holds (its index in ``StudyConfig.suggestions``).
SUGGESTION = "suggestion"

SUGGESTION_SOURCE = "range test suggestion"
#: Which source drew a prior-guided trial's values: ``prior``, ``wide``, ``incumbent`` or ``enqueued``.
SOURCE_DRAW = "source_draw"
#: How a prior-guided study's range-test suggestion moved on the evidence of the trials before it: ``down``,
#: ``up`` or ``between`` (:func:`hybridtune.study._prior_sampler.stepped_suggestion`).
SUGGESTION_MOVE = "suggestion_move"

OUTCOME_COMPLETED = "completed"
OUTCOME_PRUNED = "pruned"
OUTCOME_DIVERGED = "diverged"
#: Failed for a reason of its own (out of memory): running it again would fail again.
OUTCOME_FAILED = "failed"
#: Ctrl-C: a resumed study runs it again.
OUTCOME_INTERRUPTED = "interrupted"
#: Taken from the queue when its study's budget could no longer pay for it (a resumed study given a smaller
#: budget): failed before training, at no cost.
OUTCOME_OVER_BUDGET = "over budget"


def outcome_of(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's stored outcome, or its state in lower case when it stored none."""
    return str(trial.user_attrs.get(OUTCOME, trial.state.name.lower()))


def best_trial(trials: Sequence[optuna.trial.FrozenTrial], *,
               floor: float | None = None) -> optuna.trial.FrozenTrial | None:
    """The completed, non-diverged trial with the highest value (the earliest on a tie); ``None`` when there
    is none, or when the best does not rise above ``floor`` (:func:`chance_floor`: a study that found
    nothing never presents a chance-level configuration as its best)."""
    from optuna.trial import TrialState

    ok = [t for t in trials if t.state == TrialState.COMPLETE and outcome_of(t) != OUTCOME_DIVERGED
          and t.value is not None and math.isfinite(t.value)]
    if not ok:
        return None
    best = max(ok, key=lambda t: (t.value, -t.number))
    return None if floor is not None and best.value <= floor else best  # type: ignore[operator]


#: "Within noise of chance": a validation accuracy at most this many binomial standard errors above chance.
CHANCE_Z = 2.0


def chance_floor(num_classes: int | None, n_val: int | None, metric: str | None = None) -> float | None:
    """The validation accuracy a study's best must beat to have found anything: chance (1 / classes) plus
    :data:`CHANCE_Z` binomial standard errors on the validation split; ``None`` for a metric that is not an
    accuracy (``metric``, the objective's name; ``None`` is the validation accuracy), or an unknown split.

    Example:
        >>> round(chance_floor(10, 749), 4)
        0.1219
    """
    if metric not in (None, VALIDATION_ACCURACY) or not num_classes or not n_val:
        return None
    p = 1.0 / num_classes
    return p + CHANCE_Z * math.sqrt(p * (1 - p) / n_val)


def study_floor(study: optuna.Study) -> float | None:
    """:func:`chance_floor` of a search study, from its stored task description and metric name."""
    data = (study.user_attrs.get(TASK) or {}).get("data") or {}
    return chance_floor(data.get("num_classes"), data.get("val"), (study.metric_names or [VALIDATION_ACCURACY])[0])


def record_artefacts(trial: int, *, recipe: str, checkpoint: str) -> dict[str, Any]:
    """The :data:`ARTEFACTS` attribute: which trial's recipe (``best.json``) and weights (``best.pt``) were
    written, and where."""
    return {"trial": trial, "recipe": recipe, "checkpoint": checkpoint}


def record_test(trial: int, runs: Sequence[Mapping[str, Any]], *, chance: float) -> dict[str, Any]:
    """The :data:`TEST` attribute: which trial was retrained, and one record per seed (``seed``,
    ``test_accuracy`` (``None`` when the retrain diverged), ``test_loss``, ``val_accuracy``, ``status``,
    ``cost``), in seed order; ``chance`` is what a diverged retrain counts as."""
    ordered = sorted((dict(r) for r in runs), key=lambda r: r["seed"])
    return finite_json({"trial": trial, "chance": chance, "runs": ordered})


def record_budget(*, examples: int, per_trial: int, fraction: float | None, grid_examples: int | None,
                  start: int = 0) -> dict[str, Any]:
    """The :data:`BUDGET` attribute: the budget in training examples, what one full trial costs
    (``per_trial``: epochs x training examples), the fraction of the grid's cost it was given as (or
    ``None``), the grid's cost, and what was spent before the first trial (``start``: the search's probes)."""
    return finite_json({"examples": int(examples), "per_trial": int(per_trial), "fraction": fraction,
                        "grid_examples": grid_examples, "start": int(start)})


# ----------------------------------------------------------------------------------------------
# The objective's name, as optuna-dashboard shows it

#: The metric's name when the task keeps the default (accuracy).
VALIDATION_ACCURACY = "validation accuracy"


def metric_name(task: Task) -> str:
    """What the studies' objective is called (``study.set_metric_names``): ``validation accuracy``, or the
    ``__name__`` of the task's own metric function (``metric`` for a lambda).

    Example:
        >>> import hybridtune as ht
        >>> def f1(outputs, targets): ...
        >>> metric_name(ht.Task(model="mlp", data="synthetic:n=200", device="cpu", metric=f1))
        'f1'
    """
    if task.metric is None:
        return VALIDATION_ACCURACY
    fn = getattr(task.metric, "__name__", None) or type(task.metric).__name__
    return "metric" if fn == "<lambda>" else str(fn)


# ----------------------------------------------------------------------------------------------
# Identity: a stored study is never resumed with another setup


def identity(task: Task, config: StudyConfig, role: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a study of ``role`` must keep when it is resumed: the task, the epochs and the seed (and
    ``extra``: the probes' settings for the search, the grid or the wide space for a baseline)."""
    d = task.data
    ident = {"format": FORMAT_VERSION, "role": role, "model": task.model_name,
             "model_kwargs": dict(task.model_kwargs), "data": d.name,
             "splits": [len(d.train), len(d.val), len(d.test)],  # type: ignore[arg-type]
             "optimizer": task.optimizer, "epochs": config.epochs, "seed": config.seed}
    if extra:
        ident.update(extra)
    return finite_json(ident)


def probe_identity(config: StudyConfig, probe_bs: int) -> dict[str, Any]:
    """The probes' part of the search study's identity (their result is cached as :data:`PRIORS`)."""
    ident = {"probe_batch_size": probe_bs, "probe_range_steps": config.probe_range_steps,
             "probe_range_extend": config.probe_range_extend,
             "probe_momentum_epochs": config.probe_momentum_epochs, "probe_momenta": list(config.probe_momenta)}
    if config.space != "narrow":  # (only then: a study stored before spaces had a choice resumes as it was)
        ident.update(space=config.space, prior_confidence=config.prior_confidence)
    return ident


def task_description(task: Task) -> dict[str, Any]:
    """The :data:`TASK` attribute: the task's description without the device (workers use their own)."""
    d = task.describe()
    d.pop("device", None)
    return finite_json(d)


def stored_identity(storage: Any, name: str) -> dict[str, Any] | None:
    """The identity study ``name`` was created with, or ``None`` when there is no such hybridtune study
    (nothing is created)."""
    import optuna

    from .._core._storage import study_names

    if name not in study_names(storage):
        return None
    return optuna.load_study(study_name=name, storage=storage).user_attrs.get(IDENTITY)


def set_metric_name(study: optuna.Study, name: str) -> None:
    """Name the study's objective for optuna-dashboard (instead of "Objective 0"), once."""
    import warnings

    if study.metric_names != [name]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # set_metric_names is experimental in Optuna: it warns on every call
            study.set_metric_names([name])


def open_study(storage: Any, name: str, ident: dict[str, Any], *, sampler: Any = None,
               pruner: Any = None, metric: str | None = None) -> optuna.Study:
    """Create the study or load it; a stored study made for another task/setup is an error, never mixed.
    ``metric`` names its objective (see :func:`metric_name`)."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True,
                                sampler=sampler, pruner=pruner)
    stored = study.user_attrs.get(IDENTITY)
    if stored is None:
        if study.trials:
            raise ConfigError(f"study {name!r} must be a hybridtune study to resume it, but the storage holds an "
                              f"Optuna study of that name with {len(study.trials)} trials; choose another name.")
        study.set_user_attr(IDENTITY, ident)
    else:
        _check_identity(name, stored, ident)
    if metric is not None:
        set_metric_name(study, metric)
    return study


def _check_identity(name: str, stored: Mapping[str, Any], ident: Mapping[str, Any]) -> None:
    for key in sorted(set(stored) | set(ident)):
        if stored.get(key) != ident.get(key):
            raise ConfigError(f"a resumed study must keep its setup: {name!r} was created with {key}="
                              f"{stored.get(key)!r}, but got {key}={ident.get(key)!r}; use another name "
                              f"for a new study.")
