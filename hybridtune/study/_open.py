"""The stage's one storage door: create or load a study (its identity checked), find the search studies a storage
holds, name a study's objective, and read back what a study's best must rise above."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core import ConfigError, study_names
from ..task import chance_floor
from ._identity import check_identity
from .keys import IDENTITY, SEARCH, TASK, is_baseline_name

if TYPE_CHECKING:  # pragma: no cover
    import optuna


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



def stored_identity(storage: Any, name: str) -> dict[str, Any] | None:
    """The identity study ``name`` was created with, or ``None`` when there is no such hybridtune study
    (nothing is created)."""
    import optuna


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
               pruner: Any = None, metric: str | None = None, direction: str = "maximize") -> optuna.Study:
    """Create the study or load it; a stored study made for another task/setup is an error, never mixed.
    ``metric`` names its objective (see :func:`metric_name`); ``direction`` is the task's
    (:attr:`Task.direction`)."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction=direction, load_if_exists=True,
                                sampler=sampler, pruner=pruner)
    stored = study.user_attrs.get(IDENTITY)
    if stored is None:
        if study.trials:
            raise ConfigError(f"study {name!r} must be a hybridtune study to resume it, but the storage holds an "
                              f"Optuna study of that name with {len(study.trials)} trials; choose another name.")
        study.set_user_attr(IDENTITY, ident)
    else:
        check_identity(name, stored, ident)
    if metric is not None:
        set_metric_name(study, metric)
    return study




def study_floor(study: optuna.Study) -> float | None:
    """:func:`~hybridtune.task.chance_floor` of a search study, from its stored task description (with its
    chance where the labels are unbalanced) and metric name."""
    data = (study.user_attrs.get(TASK) or {}).get("data") or {}
    if data.get("kind", "classification") != "classification":
        return None
    return chance_floor(data.get("num_classes"), data.get("val"), (study.metric_names or [None])[0],
                        chance=data.get("chance"))
