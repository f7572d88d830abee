"""Take the result home: a study's chosen recipe (``best.json``) and trained weights (``best.pt``).

:func:`run_study` writes both after its test retrain (the weights of that very retrain);
:func:`export_study` (``hybridtune export``) writes them again from storage, the weights by retraining the
stored best configuration; :func:`study_recipe` reads the chosen recipe from storage alone (what
``hybridtune train --from-study`` trains).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, Progress, finite_json, open_storage, redact, storage_url
from ..compare import best_trial, score_of_record
from ..space import Hyperparams
from ..study import config_from_dict, keys, search_studies, study_floor
from ..task import VALIDATION_ACCURACY
from ..train import Recipe, library_versions, save_checkpoint, save_recipe

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from torch import nn

_log = logging.getLogger(__name__)

#: The files a study writes into its folder.
RECIPE_FILE = "best.json"
CHECKPOINT_FILE = "best.pt"


def default_out(name: str) -> Path:
    """Where a study's artefacts go by default: ``runs/<name>/``."""
    return Path("runs") / name


def storage_label(store: Any) -> str:
    """The storage as a result may show it: its URL with the password hidden, or ``in-memory``."""
    return redact(storage_url(store) or "in-memory")


def recipe_of(study: optuna.Study, store: Any) -> Recipe | None:
    """The search study's chosen recipe, from its stored attributes alone (``None`` without a completed
    trial): the task by names, the best trial's trainer settings at the study's epochs, and, when the
    current best trial was retrained for the test, the seed and metrics of its first test retrain (the one
    whose weights go into ``best.pt``) and the test accuracy over all its seeds."""
    attrs = study.user_attrs
    best = best_trial(study.get_trials(deepcopy=False), floor=study_floor(study),
                      direction=study.direction.name.lower())
    if best is None:
        return None
    config = config_from_dict(attrs.get(keys.CONFIG) or {})
    ident = attrs.get(keys.IDENTITY) or {}
    described = attrs.get(keys.TASK) or {}
    names = attrs.get(keys.RECIPE) or {
        "model": described.get("model"), "model_kwargs": dict(described.get("model_kwargs") or {}),
        "data": (described.get("data") or {}).get("name"), "optimizer": described.get("optimizer"),
        "rebuildable": False}
    epochs = int(ident.get("epochs") or config.epochs)  # the resolved budget (identity), else the config's
    epochs = max(epochs, int(best.user_attrs.get(keys.FIDELITY) or 0))  # longer: the length ladder's evidence
    test = attrs.get(keys.TEST) or {}
    if test.get("trial") != best.number:
        test = {}
    # the weights written beside the recipe are of the retrain on the first test seed (a record stored
    # before test seeds: the one retrain, on the study's seed); without a retrain, the trial's own seed
    runs = test.get("runs")
    first = runs[0] if runs else test
    seed = int(first.get("seed", config.seed))
    train = Hyperparams(**best.user_attrs[keys.HYPERPARAMS]).train_config(
        optimizer=names["optimizer"], epochs=epochs, seed=seed)
    metrics = {"val_accuracy": first.get("val_accuracy", best.value), "test_accuracy": first.get("test_accuracy"),
               "test_loss": first.get("test_loss"), "search_val_accuracy": best.value,
               "metric": (study.metric_names or [VALIDATION_ACCURACY])[0]}
    score = score_of_record(test, chance=float(test.get("chance", 0.0)))
    if score is not None and runs:
        metrics.update(test_accuracy_mean=score.mean, test_accuracy_se=score.se, test_seeds=list(score.seeds))
    data = described.get("data") or {}
    return Recipe(task=dict(names), input_shape=tuple(int(s) for s in data.get("input_shape") or ()),
                  num_classes=int(data.get("num_classes") or 0), train=train, metrics=finite_json(metrics),
                  source={"study": study.study_name, "trial": best.number, "storage": storage_label(store)},
                  versions=library_versions())


def write_artefacts(study: optuna.Study, recipe: Recipe, model: nn.Module, out: str | Path) -> dict[str, Any]:
    """Write ``best.json`` and ``best.pt`` into ``out`` and record where on the study (absolute paths: the
    storage, the report and the dashboard are read from other folders); returns that record."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"the artefacts' folder must be a folder, but got {str(out)!r}, which is a file.")
    recipe_path = save_recipe(recipe, folder / RECIPE_FILE)
    checkpoint_path = save_checkpoint(folder / CHECKPOINT_FILE, model, recipe)
    record = keys.record_artefacts(int(recipe.source["trial"]), recipe=str(recipe_path.resolve()),
                                   checkpoint=str(checkpoint_path.resolve()))
    study.set_user_attr(keys.ARTEFACTS, record)
    _log.info("wrote %s and %s", recipe_path, checkpoint_path)
    return record


def artefacts_current(study: optuna.Study, trial: int, out: str | Path) -> bool:
    """Whether ``out`` already holds the artefacts of ``trial`` (as recorded on the study)."""
    stored = study.user_attrs.get(keys.ARTEFACTS) or {}
    folder = Path(out)
    return (stored.get("trial") == trial and stored.get("recipe") == str((folder / RECIPE_FILE).resolve())
            and (folder / RECIPE_FILE).is_file() and (folder / CHECKPOINT_FILE).is_file())


def recipe_current(recipe: Recipe, out: str | Path) -> bool:
    """Whether ``out``'s ``best.json`` is ``recipe`` as it is now (its test metrics over every seed included)."""
    import json

    try:
        return json.loads((Path(out) / RECIPE_FILE).read_text()) == json.loads(json.dumps(recipe.to_dict()))
    except (OSError, ValueError):
        return False


def _search_study(name: str, store: Any) -> optuna.Study:
    """The search study ``name``: only one hybridtune made (with its identity) holds a chosen recipe."""
    import optuna

    from .._core import did_you_mean, study_names

    searches = search_studies(store)
    if name in searches:
        return optuna.load_study(study_name=name, storage=store)
    listed = ", ".join(searches) or "none"
    if name in study_names(store):
        what = "a baseline's study" if keys.is_baseline_name(name) else "not a study hybridtune made"
        raise ConfigError(f"name must be a hybridtune search study (a -grid or -random baseline, or a study made "
                          f"by plain Optuna, holds no recipe), but got {name!r}, which is {what}; the search "
                          f"studies there: {listed}.")
    raise ConfigError(f"name must be a study in the storage ({listed}), but got {name!r}."
                      f"{did_you_mean(name, searches)}")


def study_recipe(name: str, *, storage: Any = None) -> Recipe:
    """The recipe a study chose, from storage alone (no training): what ``best.json`` holds.

    Args:
        name: the search study's name.
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``); it must exist.

    Raises:
        ConfigError: no study of that name, or a search with no completed trial.

    Example:
        >>> import hybridtune as ht
        >>> recipe = ht.study_recipe("resnet-mnist5k")  # doctest: +SKIP
        >>> recipe.train.lr, recipe.train.epochs, recipe.metrics["test_accuracy"]  # doctest: +SKIP
    """
    store = open_storage(storage, must_exist=True)
    recipe = recipe_of(_search_study(name, store), store)
    if recipe is None:
        raise ConfigError(f"a study must have a completed trial to give a recipe, but {name!r} has none.")
    return recipe


@dataclass(frozen=True)
class Exported:
    """What :func:`export_study` wrote: the recipe and weights of a study's best configuration, retrained.

    Example:
        >>> Exported(name="s", trial=3, recipe_path="runs/s/best.json", checkpoint_path="runs/s/best.pt",
        ...          val_accuracy=0.9, test_accuracy=0.91, seconds=1.0).to_dict()["trial"]
        3
    """

    name: str
    trial: int
    recipe_path: str
    checkpoint_path: str
    val_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    #: the weights were rebuilt by retraining the stored best configuration (export never stores weights)
    retrained: bool = True

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"name": self.name, "trial": self.trial, "recipe": self.recipe_path,
                            "checkpoint": self.checkpoint_path, "val_accuracy": self.val_accuracy,
                            "test_accuracy": self.test_accuracy, "seconds": self.seconds,
                            "retrained": self.retrained})


def export_study(name: str, *, storage: Any = None, out: str | Path | None = None, device: str = "auto",
                 progress: Progress | None = None) -> Exported:
    """Write a study's ``best.json`` and ``best.pt`` again, from storage: the recipe as stored, the weights by
    retraining the best configuration once (same seed) and scoring it on the test split.

    Args:
        name: the search study's name.
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``); it must exist.
        out: the folder (default ``runs/<name>/``).
        device: where to retrain (``auto``, ``cpu``, ``cuda:N``, ``mps``).
        progress: optional ``progress(phase, done, total)``; phase ``export: retrain``.

    Raises:
        ConfigError: no such study, no completed trial, or a study whose task was given as Python objects
            (it cannot be rebuilt from names).

    Example:
        >>> import hybridtune as ht
        >>> ht.export_study("resnet-mnist5k", out="final/")  # doctest: +SKIP
    """
    from ..train import train_and_test

    store = open_storage(storage, must_exist=True)
    study = _search_study(name, store)
    recipe = recipe_of(study, store)
    if recipe is None:
        raise ConfigError(f"a study must have a completed trial to export, but {name!r} has none.")
    if not recipe.rebuildable:
        raise ConfigError(f"export must rebuild the study's task from names, but {name!r} was made from Python "
                          f"objects (model {recipe.task.get('model')!r}); take tune(...).save(dir) in that process.")
    t0 = time.perf_counter()
    task = recipe.build_task(device=device)
    recipe.check_task(task, where=f"study {name!r}")
    if progress is not None:
        progress("export: retrain", 0, 1)
    tested = train_and_test(task, recipe.train)
    if progress is not None:
        progress("export: retrain", 1, 1)
    r = tested.result
    metrics = {**recipe.metrics, "val_accuracy": r.val_acc, "test_accuracy": tested.test_accuracy,
               "test_loss": tested.test_loss}
    recipe = Recipe(task=recipe.task, input_shape=recipe.input_shape, num_classes=recipe.num_classes,
                    train=recipe.train, metrics=finite_json(metrics), source=recipe.source, versions=recipe.versions)
    record = write_artefacts(study, recipe, tested.model, default_out(name) if out is None else out)
    return Exported(name=name, trial=record["trial"], recipe_path=record["recipe"],
                    checkpoint_path=record["checkpoint"], val_accuracy=r.val_acc,
                    test_accuracy=tested.test_accuracy, seconds=time.perf_counter() - t0)
