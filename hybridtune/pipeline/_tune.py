"""The one-call API for AutoML pipelines: :func:`objective` and :func:`tune`.

:func:`tune` runs the same pipeline as ``hybridtune study`` (:func:`run_study`) and returns its result as
data: the best configuration, the studies, every trial with its cost in a DataFrame, and the comparison
when a baseline ran. It never prints and never exits; it logs, reports through an optional
``progress(phase, done, total)`` callback, and raises :class:`HybridTuneError` subclasses.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core import ConfigError, Progress, finite_json, open_storage
from ..compare import Comparison, StudyResult, TestScore, outcome_of
from ..probes import Priors
from ..space import SearchSpace
from ..study import StudyConfig, budget_epochs, keys, train_trial
from ..task import Task
from ..train import Recipe
from ._export import CHECKPOINT_FILE, RECIPE_FILE, recipe_of
from ._run import _run

_log = logging.getLogger(__name__)


def objective(task: Task, space: SearchSpace, *, epochs: int | None = None, seed: int = 0,
              prune: bool = True) -> Callable[[Any], float]:
    """An Optuna objective for your own ``study.optimize(...)``.

    Each trial samples a configuration from ``space``, trains ``task`` with 1cycle for up to ``epochs``
    epochs with the one trainer, reports the validation metric every epoch (``trial.report``) and
    raises ``optuna.TrialPruned`` when the study's pruner says so. The trial's cost (examples, steps,
    seconds, epochs) and per-epoch curve are stored as user attributes; a diverging trial returns chance
    accuracy and is marked ``outcome="diverged"``, never an exception.

    Args:
        task: what to train.
        space: a :class:`SearchSpace` (from :func:`search_space` or :func:`wide_space`).
        epochs: each trial's 1cycle length (default: the budget rule of :class:`StudyConfig`, at the space's
            smallest batch size).
        seed: initialisation and data order of every trial (common random numbers).
        prune: ask the study's pruner after every epoch.

    Example:
        >>> import optuna, hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> space = ht.wide_space(task.optimizer, [32, 64])
        >>> study = optuna.create_study(direction="maximize")
        >>> study.optimize(ht.objective(task, space, epochs=2), n_trials=2)
        >>> len(study.trials)
        2
    """
    if not isinstance(task, Task):
        raise ConfigError(f"task must be a hybridtune.Task, but got {type(task).__name__}.")
    if not isinstance(space, SearchSpace):
        raise ConfigError(f"space must be a hybridtune.SearchSpace, but got {type(space).__name__}.")
    if space.optimizer != task.optimizer:
        raise ConfigError(f"space and task must share an optimizer family, but got space={space.optimizer!r}, "
                          f"task={task.optimizer!r}.")
    if epochs is None:
        epochs = budget_epochs(len(task.data.train), min(space.batch_sizes))  # type: ignore[arg-type]
    config = StudyConfig(epochs=epochs, seed=seed)

    def run_trial(trial: Any) -> float:
        return train_trial(trial, task, space.suggest(trial), config, prune=prune, chance=task.chance)

    return run_trial


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found, as data.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32)
        >>> sorted(r.studies), len(r.to_frame()), "best_config" in r.to_dict()
        (['search'], 2, True)
        >>> r.model is None, r.recipe.train.epochs  # no model kept unless asked (keep_model=True)
        (True, 1)

    Attributes:
        best_value: the search's best validation metric.
        best_params: the best trial's Optuna parameters.
        best_config: the best configuration as trainer settings (``lr``, ``momentum``, ``weight_decay``,
            ``batch_size``).
        priors: the range-test priors the search was built from.
        studies: the Optuna studies by role (``search``, ``grid``, ``random``).
        trials: every finished trial of every study, with its cost, as a pandas DataFrame.
        comparison: the cost-fair comparison, when a baseline ran.
        result: the full :class:`StudyResult` (what ``hybridtune study --json`` writes).
        test_accuracy: the chosen configuration's test metric (accuracy, or the task's own: RMSE for regression),
            the mean over its retrain seeds; :attr:`test_metric` is the name that says so.
        test_score: that test accuracy with its standard error and seeds (:class:`TestScore`).
        verdict: one sentence: did the search match the grid within noise, at what cost (``None`` without a
            grid, or for ``quick``).
        name: the study's name.
        recipe: the chosen recipe (what ``best.json`` holds), or ``None`` when no trial completed.
        model: the chosen configuration's trained model from its retrain on the first test seed (the recipe's
            seed), with ``tune(..., keep_model=True)``; ``None`` otherwise (no model is kept that nobody asked
            for).
        warnings: what the user should know (e.g. "the budget may be too short: ...").
    """

    best_value: float | None
    best_params: dict[str, Any]
    best_config: dict[str, Any] | None
    priors: Priors | None
    studies: dict[str, Any]
    trials: Any
    comparison: Comparison | None
    result: StudyResult
    test_accuracy: float | None = None
    name: str = ""
    recipe: Recipe | None = None
    model: Any = field(default=None, repr=False, compare=False)
    warnings: tuple[str, ...] = ()
    test_score: TestScore | None = None

    @property
    def verdict(self) -> str | None:
        return self.result.verdict

    @property
    def test_metric(self) -> float | None:
        """The chosen configuration's mean test metric over its retrain seeds, whatever the metric
        (:attr:`test_accuracy` is the same number under its older name)."""
        return self.test_accuracy

    @property
    def metric_name(self) -> str:
        """What :attr:`best_value` and :attr:`test_metric` measure (``validation accuracy``, ``rmse``...)."""
        return self.result.metric_name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the best configuration, the priors, each study's numbers, the comparison, the recipe
        and the warnings."""
        return finite_json({"name": self.name, "best_value": self.best_value, "best_params": dict(self.best_params),
                            "best_config": self.best_config,
                            "test_accuracy": self.test_score.to_dict() if self.test_score else None,
                            "metric": self.metric_name, "direction": self.result.direction,
                            **({} if self.result.is_accuracy else
                               {"test_metric": self.test_score.to_dict() if self.test_score else None}),
                            "verdict": self.verdict,
                            "recipe": self.recipe.to_dict() if self.recipe else None,
                            "warnings": list(self.warnings), "study": self.result.to_dict()})

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write the chosen recipe (``best.json``) and the kept model's weights (``best.pt``) into
        ``folder``, as ``hybridtune study`` does; returns their paths.

        Raises:
            ConfigError: no trial completed, or no model was kept (``tune(..., keep_model=True)``).

        Example:
            >>> import hybridtune as ht
            >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
            >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, keep_model=True)
            >>> model, recipe = ht.load_checkpoint(r.save("runs/mlp")["checkpoint"])  # doctest: +SKIP
        """
        from ..train import save_checkpoint, save_recipe

        if self.recipe is None:
            raise ConfigError(f"save needs a chosen configuration, but study {self.name!r} completed no trial.")
        if self.model is None:
            raise ConfigError("save needs the trained model, but none was kept; call tune(..., keep_model=True).")
        target = Path(folder)
        return {"recipe": save_recipe(self.recipe, target / RECIPE_FILE),
                "checkpoint": save_checkpoint(target / CHECKPOINT_FILE, self.model, self.recipe)}

    def to_frame(self) -> Any:
        """Every finished trial with its cost (one row each), as a pandas DataFrame."""
        return self.trials


@contextlib.contextmanager
def _optuna_quiet() -> Iterator[None]:
    """Optuna logs every trial at INFO on stderr; the API reports through ``progress`` instead. The
    caller's verbosity is restored afterwards."""
    import optuna

    before = optuna.logging.get_verbosity()
    if before < optuna.logging.WARNING:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def trials_frame(studies: dict[str, Any]) -> Any:
    """One row per trial of each study that trained: role, number, state, outcome, value, params and cost;
    ``fidelity`` (its schedule's epochs) and ``source`` for the search's trials on the multi-fidelity
    ladder. The probes' momentum runs stored on the ladder's first rung are the probes', not trials: not here."""
    import pandas as pd

    rows = []
    for role, study in studies.items():
        for t in study.get_trials(deepcopy=False):
            if t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE:
                continue
            cost = t.user_attrs.get(keys.COST) or {}
            rows.append({"role": role, "number": t.number, "state": t.state.name.lower(),
                         "outcome": outcome_of(t), "value": t.value,
                         **{f"param_{k}": v for k, v in t.params.items()},
                         "examples": cost.get("examples"), "steps": cost.get("steps"),
                         "seconds": cost.get("seconds"), "epochs": cost.get("epochs"),
                         "fidelity": t.user_attrs.get(keys.FIDELITY), "source": t.user_attrs.get(keys.SOURCE),
                         "completed_at": t.datetime_complete})
    return pd.DataFrame(rows)


def tune(task: Task, *, priors: Priors | None = None, trials: int = StudyConfig.trials, epochs: int | None = None,
         storage: Any = None, name: str | None = None, baseline: str | Sequence[str] | None = None,
         sampler: str = "random", pruner: str = "asha", seed: int = 0, quick: bool = False,
         keep_model: bool = False, progress: Progress | None = None, n_trials: int | None = None,
         **options: Any) -> TuneResult:
    """Tune ``task``: probes (unless ``priors`` are given), the search inside them, optional baselines.

    This is the pipeline of ``hybridtune study``, as one call.

    Args:
        task: what to tune: any model factory and data (registry names, tensors or Datasets).
        priors: the result of :func:`find_priors`; given, the probes are not run again.
        trials: trials of the search (completed and pruned ones count), unless a budget is given.
        epochs: each trial's 1cycle length (default: chosen from the task, see :class:`StudyConfig`).
        storage: an Optuna storage URL or object; ``None`` keeps everything in memory (nothing is written:
            :meth:`TuneResult.save` writes the artefacts where you want them).
        name: the study name (default ``<model>-<dataset>``).
        baseline: ``"grid"``, ``"random"``, both, or ``None`` (default: no baseline).
        sampler / pruner: ``random`` or ``tpe``; ``asha``, ``median``, ``hyperband`` or ``none``.
        seed: initialisation and data order of every probe and trial, and the samplers' seed.
        quick: the small preset of ``--quick``.
        keep_model: keep the chosen configuration's trained model from the test retrain
            (:attr:`TuneResult.model`, :meth:`TuneResult.save`).
        progress: optional ``progress(phase, done, total)`` callback.
        n_trials: deprecated name of ``trials``.
        options: any other :class:`StudyConfig` field: ``budget=0.1`` (the search gets 0.1 of the grid's cost
            in training examples, its probes included, and ``random`` the same), ``test_seeds``, ``match_z``,
            ``tolerance``, ``grid``, ``probe_batch_size``, ...

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=3, epochs=2, probe_batch_size=32)
        >>> r.best_config["batch_size"] > 0 and len(r.trials) == 3
        True
    """
    import optuna

    if not isinstance(task, Task):
        raise ConfigError(f"task must be a hybridtune.Task, but got {type(task).__name__}.")
    if n_trials is not None:
        if trials not in (StudyConfig.trials, n_trials):
            raise ConfigError(f"trials and its deprecated name n_trials must not disagree, but got "
                              f"trials={trials!r}, n_trials={n_trials!r}.")
        warnings.warn("tune(n_trials=...) is deprecated; use tune(trials=...), as StudyConfig and the CLI "
                      "call it.", DeprecationWarning, stacklevel=2)
        trials = n_trials
    baselines: tuple[str, ...] = () if baseline is None else ((baseline,) if isinstance(baseline, str)
                                                              else tuple(baseline))
    # tune writes no files of its own: TuneResult.save does, where the caller wants them
    kw: dict[str, Any] = {"trials": trials, "epochs": epochs, "sampler": sampler, "pruner": pruner,
                          "seed": seed, "baselines": baselines, "name": name, "artefacts": False, **options}
    if priors is not None:
        if not isinstance(priors, Priors):
            raise ConfigError(f"priors must be a hybridtune.Priors, but got {type(priors).__name__}.")
        if priors.optimizer != task.optimizer:
            raise ConfigError(f"priors must come from the task's optimizer family, but got priors for "
                              f"{priors.optimizer!r} and a task with {task.optimizer!r}.")
        kw["probe_batch_size"] = priors.batch_size
    if quick and epochs is None:
        del kw["epochs"]  # the preset's
    config = StudyConfig.quick(**kw) if quick else StudyConfig(**kw)
    store = optuna.storages.InMemoryStorage() if storage is None else open_storage(storage)
    with _optuna_quiet():
        result, model = _run(task, config, storage=store, progress=progress, keep_model=keep_model, priors=priors)
    studies = {role: optuna.load_study(study_name=o.study_name, storage=store)
               for role, o in result.outcomes.items()}
    search = result.search
    return TuneResult(best_value=search.best_value, best_params=dict(search.best_params),
                      best_config=search.best_config, priors=result.priors, studies=studies,
                      trials=trials_frame(studies), comparison=result.comparison if baselines else None,
                      result=result, test_accuracy=search.test_accuracy, test_score=search.test_score,
                      name=result.name,
                      recipe=recipe_of(studies[keys.SEARCH], store), model=model, warnings=result.warnings)
