"""What a study stores, spelled in one place: every Optuna user-attribute key hybridtune writes or reads,
the role names, the study-name rule for the baselines and the builders of the stored records (optuna
``pruners/_successive_halving.py``'s ``_completed_rung_key`` pattern: no key is a bare literal anywhere else).
The stage's other modules open a study (``_open``) and check its identity (``_identity``); which trial is
best is :mod:`hybridtune.compare`'s to say.

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
(:func:`hybridtune.task.chance_level`), ``outcome="diverged"`` and the trainer's reason. Its cost counts; it is
never a study's best; the pruners see the accuracies it reported before diverging.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._core import CREATED_BY_KEY, finite_json
from ..samplers import SOURCE_ATTR

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


# ----------------------------------------------------------------------------------------------
# User attributes of a study

#: The setup a study was created with (``hybridtune.study.identity``); a resumed study must match it.
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
#: ``ParamPrior`` fields, and the range test's suggestions (see ``sampler_from_record`` in the prior sampler module).
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
#: For a metric that is not an accuracy: the standard error of its final validation value, from the per-example
#: scores (:meth:`hybridtune.Task.metric_se`); what matching the grid uses in place of the binomial SE.
VAL_SE = "val_se"
#: One of the ``OUTCOME_*`` values below.
OUTCOME = "outcome"
#: Why a failed trial failed (out of memory, interrupted).
FAIL_REASON = "fail_reason"
#: Set on a queued trial that holds one of the range test's suggestions (value :data:`SUGGESTION_SOURCE`).
SOURCE = "source"
#: Which suggestion it holds (its index in ``StudyConfig.suggestions``).
SUGGESTION = "suggestion"

SUGGESTION_SOURCE = "range test suggestion"
#: Which source drew a prior-guided trial's values: ``prior``, ``wide``, ``incumbent`` or ``enqueued`` (the public
#: sampler's own attribute, :data:`hybridtune.samplers.SOURCE_ATTR`).
SOURCE_DRAW = SOURCE_ATTR
#: System attribute on every trial a hybridtune process creates: the token of the call that made it, so that
#: a creation retried after a lost connection finds its trial instead of making a second (the storage guard's,
#: :data:`hybridtune._core.CREATED_BY_KEY`).
CREATED_BY = CREATED_BY_KEY
#: How a prior-guided study's range-test suggestion moved on the evidence of the trials before it: ``down``,
#: ``up`` or ``between`` (``stepped_suggestion`` in the prior sampler).
SUGGESTION_MOVE = "suggestion_move"

#: A search trial's schedule length in epochs, set on its ticket by the multi-fidelity ladder
#: (``StudyConfig.fidelity="ladder"``): the trial is a *complete* 1cycle of that many epochs. A trial without it
#: ran the study's full ``epochs``.
FIDELITY = "epochs"
#: Its rung on the ladder (0: the shortest).
RUNG = "rung"
#: A promoted trial's: the number of the trial one rung below whose values it trains again, longer.
PROMOTED_FROM = "promoted_from"
#: Set on a trial of the length ladder: the best of the longest rung, still improving, trained again longer
#: than the study's ``epochs``.
EXTENDED = "extended"
#: :data:`SOURCE` of a trial that stores one of the probes' momentum runs (a complete short 1cycle at the range
#: test's ``lr_max``) as an observation on the ladder's first rung: no training, its cost is the probes'.
PROBE_SOURCE = "momentum probe"
#: The search study's ladder (:func:`record_ladder`).
LADDER = "ladder"

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

# ----------------------------------------------------------------------------------------------
# Stored records


def record_artefacts(trial: int, *, recipe: str, checkpoint: str) -> dict[str, Any]:
    """The :data:`ARTEFACTS` attribute: which trial's recipe (``best.json``) and weights (``best.pt``) were
    written, and where."""
    return {"trial": trial, "recipe": recipe, "checkpoint": checkpoint}


def record_ladder(*, epochs: Sequence[int], counts: Sequence[int], units: float, cap: int | None = None,
                  n_val: int | None = None) -> dict[str, Any]:
    """The :data:`LADDER` attribute: each rung's schedule length (``epochs``, rising, the last the study's
    full ``epochs``), how many trials it runs (``counts``; the first rung's sampled trials, the probes'
    observations not included), the budget the plan was made for, in full trials (``units``), and the
    length ladder's cap in epochs with the validation split's size its rise rule reads (``cap``, ``n_val``;
    ``None``: no length ladder)."""
    return finite_json({"epochs": [int(e) for e in epochs], "counts": [int(c) for c in counts],
                        "units": float(units), "cap": None if cap is None else int(cap),
                        "n_val": None if n_val is None else int(n_val)})


def record_test(trial: int, runs: Sequence[Mapping[str, Any]], *, chance: float) -> dict[str, Any]:
    """The :data:`TEST` attribute: which trial was retrained, and one record per seed (``seed``,
    ``test_accuracy`` (``None`` when the retrain diverged), ``test_loss``, ``val_accuracy``, ``status``,
    ``cost``), in seed order; ``chance`` is what a diverged retrain counts as."""
    ordered = sorted((dict(r) for r in runs), key=lambda r: r["seed"])
    return finite_json({"trial": trial, "chance": chance, "runs": ordered})


def record_budget(*, examples: int, per_trial: int, fraction: float | None, grid_examples: int | None,
                  start: int = 0, epochs: int | None = None) -> dict[str, Any]:
    """The :data:`BUDGET` attribute: the budget in training examples, what one full trial costs
    (``per_trial``: epochs x training examples), the fraction of the grid's cost it was given as (or
    ``None``), the grid's cost, what was spent before the first trial (``start``: the search's probes) and
    the full trial's epochs (a shorter trial on the ladder reserves its share of ``per_trial``)."""
    d = {"examples": int(examples), "per_trial": int(per_trial), "fraction": fraction,
         "grid_examples": grid_examples, "start": int(start)}
    if epochs is not None:
        d["epochs"] = int(epochs)
    return finite_json(d)
