"""Take the result home: a recipe (what to train, and how) and a checkpoint (the trained weights with their
recipe and metrics).

- A **recipe** is JSON (``best.json``): the task by names (model, model options, dataset spec, optimizer
  family), the input shape and class count it was trained for, the trainer settings (a :class:`TrainConfig`),
  the metrics it reached, where it came from, and the hybridtune and torch versions.
- A **checkpoint** is a ``torch.save`` file (``best.pt``): ``{"format", "state_dict", "recipe"}``.
  :func:`load_checkpoint` rebuilds the model from the recipe's names, checks it against the task at hand,
  and loads the weights.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, atomic_write, finite_json, write_text
from ._config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from ..task import Task

#: Bumped when what a recipe or checkpoint holds changes incompatibly.
FORMAT = 1
_KIND = "hybridtune recipe"


def library_versions() -> dict[str, str]:
    import torch

    from .._core import __version__

    return {"hybridtune": str(__version__), "torch": str(torch.__version__)}


@dataclass(frozen=True)
class Recipe:
    """What to train and how: the task by names, the trainer settings and what they reached.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = Recipe.of(task, ht.TrainConfig(optimizer="momentum", lr=0.1, epochs=2),
        ...               metrics={"val_accuracy": 0.9})
        >>> Recipe.from_dict(r.to_dict()) == r, r.task["data"]
        (True, 'synthetic:n=200')
    """

    task: dict[str, Any]
    input_shape: tuple[int, ...]
    num_classes: int
    train: TrainConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, task: Task, config: TrainConfig, *, metrics: Mapping[str, Any] | None = None,
           source: Mapping[str, Any] | None = None) -> Recipe:
        """The recipe of ``config`` on ``task``. A task built from Python objects is described by its names
        where it has them (``task.recipe()`` is ``None``): such a recipe records, but cannot rebuild, it."""
        names = task.recipe() or {"model": task.model_name, "model_kwargs": dict(task.model_kwargs),
                                  "data": task.data.name, "optimizer": task.optimizer, "rebuildable": False}
        return cls(task=dict(names), input_shape=tuple(task.data.input_shape), num_classes=task.data.num_classes,
                   train=config, metrics=dict(metrics or {}), source=dict(source or {}), versions=library_versions())

    @property
    def rebuildable(self) -> bool:
        """Whether the task can be rebuilt from names alone (registry names or ``module:function``)."""
        return self.task.get("rebuildable", True) is not False

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"kind": _KIND, "format": FORMAT, "task": self.task,
                            "input_shape": list(self.input_shape), "num_classes": self.num_classes,
                            "train": self.train.to_dict(), "metrics": self.metrics, "source": self.source,
                            "versions": self.versions})

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "recipe") -> Recipe:
        """A recipe from :meth:`to_dict`; anything else is one :class:`ConfigError` naming what is wrong."""
        if not isinstance(d, Mapping) or d.get("kind") != _KIND:
            raise ConfigError(f"{where} must be a hybridtune recipe (a best.json written by a study, `export` "
                              f"or `train --save`), but it is not one.")
        if d.get("format") != FORMAT:
            raise ConfigError(f"{where} must be recipe format {FORMAT}, but got format {d.get('format')!r}.")
        try:
            known = {f.name for f in fields(TrainConfig)}
            train = dict(d["train"])
            for key, value in list(train.items()):
                if isinstance(value, list):
                    train[key] = tuple(value)
            config = TrainConfig(**{k: v for k, v in train.items() if k in known})
            return cls(task=dict(d["task"]), input_shape=tuple(int(s) for s in d["input_shape"]),
                       num_classes=int(d["num_classes"]), train=config, metrics=dict(d.get("metrics") or {}),
                       source=dict(d.get("source") or {}), versions=dict(d.get("versions") or {}))
        except ConfigError as exc:
            raise ConfigError(f"{where} must hold valid trainer settings: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where} must hold task, input_shape, num_classes and train, but it is malformed "
                              f"({type(exc).__name__}: {exc}).") from None

    def build_task(self, *, model: Any = None, data: Any = None, optimizer: str | None = None,
                   model_kwargs: Mapping[str, Any] | None = None, device: str | None = None,
                   kind: str | None = None, direction: str | None = None) -> Task:
        """The task this recipe trains, rebuilt from its names; each argument given replaces that part
        (``None`` keeps the recipe's). What ``hybridtune train --recipe`` runs, its task flags passed here.

        Args:
            model: a registry name, ``module:function``, ``file.py:function`` or a factory.
            data: a dataset spec, or data of your own (e.g. a :class:`hybridtune.DataSplits`).
            optimizer: the optimizer family.
            model_kwargs: the model's options (default: the recipe's for the recipe's model, none for
                another model: its options would not fit).
            device: where to train (default: :class:`hybridtune.Task`'s, ``auto``).
            kind, direction: what the task learns and which way its metric improves (default: the recipe's
                where it names them, else read from the data and the metric).

        Raises:
            ConfigError: the recipe's task was given as Python objects and ``data`` is not given.

        Example:
            >>> import hybridtune as ht
            >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
            >>> r = Recipe.of(task, ht.TrainConfig(lr=0.1))
            >>> t = r.build_task(optimizer="adam", device="cpu")
            >>> t.model_name, t.optimizer, t.data_spec
            ('mlp', 'adam', 'synthetic:n=200')
        """
        from ..task import Task

        if not self.rebuildable and data is None:
            raise ConfigError(f"a recipe must name its task to rebuild it, but model {self.task.get('model')!r} "
                              f"on {self.task.get('data')!r} was given as Python objects; give the data and the "
                              f"model by name (data= and model=, or --dataset and --model).")
        if model_kwargs is None:
            same = model is None or model == self.task.get("model")
            model_kwargs = dict(self.task.get("model_kwargs") or {}) if same else {}
        kwargs: dict[str, Any] = {"device": device} if device is not None else {}
        for key, value in (("kind", kind), ("direction", direction)):
            if value is not None or self.task.get(key) is not None:
                kwargs[key] = self.task.get(key) if value is None else value
        return Task(model=self.task["model"] if model is None else model,
                    data=self.task["data"] if data is None else data, model_kwargs=dict(model_kwargs),
                    optimizer=self.task.get("optimizer", self.train.optimizer) if optimizer is None else optimizer,
                    **kwargs)

    def check_task(self, task: Task, *, where: str = "recipe") -> None:
        """Refuse a task whose inputs or classes differ from the ones this recipe was trained for."""
        shape, classes = tuple(task.data.input_shape), task.data.num_classes
        if shape != self.input_shape or classes != self.num_classes:
            raise ConfigError(f"{where} must come from a task with the same inputs and classes, but it was "
                              f"trained for input shape {list(self.input_shape)} and {self.num_classes} classes, "
                              f"and this task has {list(shape)} and {classes}.")


def save_recipe(recipe: Recipe, path: str | Path) -> Path:
    """Write ``recipe`` as JSON (atomically: a reader never sees half a file); returns the path."""
    return write_text(path, json.dumps(recipe.to_dict(), indent=2, sort_keys=False) + "\n", what="recipe")


def read_recipe(path: str | Path) -> Recipe:
    """Read a recipe written by :func:`save_recipe`; a missing or malformed file is one :class:`ConfigError`."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"recipe must be an existing file, but got {str(path)!r}, which does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"recipe must be a JSON file, but {str(path)!r} is not ({exc}).") from None
    return Recipe.from_dict(d, where=f"recipe {str(path)!r}")


def save_checkpoint(path: str | Path, model: nn.Module, recipe: Recipe) -> Path:
    """Write the trained ``model``'s weights with its recipe (``torch.save``); returns the path."""
    import torch

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"kind": _KIND, "format": FORMAT, "state_dict": state, "recipe": recipe.to_dict()}
    return atomic_write(Path(path), lambda f: torch.save(payload, f), what="checkpoint")


def _gist(exc: BaseException, limit: int = 120) -> str:
    """The start of an exception's message: its first line, cut at the first sentence and at ``limit``
    characters (torch's weights-only message runs to a paragraph of advice on unpickling).

    Example:
        >>> _gist(RuntimeError("Weights only load failed. This file can still be loaded, to do so..."))
        'Weights only load failed'
    """
    lines = str(exc).strip().splitlines()
    first = re.split(r"(?<=[^\s.])\.(?:\s|$)", lines[0] if lines else "", maxsplit=1)[0].strip()
    first = first or "no message"
    return first if len(first) <= limit else first[:limit - 3].rstrip() + "..."


def load_checkpoint(path: str | Path, *, task: Task | None = None, device: str = "cpu") -> tuple[nn.Module, Recipe]:
    """The trained model and its recipe, from a checkpoint written by a study, ``hybridtune export`` or
    ``hybridtune train --save``.

    Args:
        path: the ``.pt`` file.
        task: the task to use the model on (default: rebuilt from the recipe's names); a task whose inputs or
            classes differ from the checkpoint's is refused.
        device: where to put the model (default ``cpu``).

    Raises:
        ConfigError: a missing or malformed file, or one from an incompatible task (one line each).

    Example:
        >>> import hybridtune as ht
        >>> model, recipe = ht.load_checkpoint("runs/resnet-mnist5k/best.pt")  # doctest: +SKIP
        >>> recipe.train.lr, recipe.metrics["test_accuracy"]  # doctest: +SKIP
    """
    import pickle

    import torch

    from ..task import create_model

    p = Path(path)
    where = f"checkpoint {str(path)!r}"
    if not p.is_file():
        raise ConfigError(f"checkpoint must be an existing file, but got {str(path)!r}, which does not exist.")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise ConfigError(f"checkpoint must be a file written by hybridtune, but {str(path)!r} could not be "
                          f"read as one ({type(exc).__name__}: {_gist(exc)}).") from None
    if not isinstance(payload, Mapping) or payload.get("kind") != _KIND or "state_dict" not in payload:
        raise ConfigError(f"{where} must be a hybridtune checkpoint (state_dict and recipe), but it is not one.")
    recipe = Recipe.from_dict(payload.get("recipe"), where=where)
    if task is not None:
        recipe.check_task(task, where=where)
        model = task.build_model(seed=recipe.train.seed)
    else:
        if not recipe.rebuildable:
            raise ConfigError(f"{where} must name its model to rebuild it, but {recipe.task.get('model')!r} was "
                              f"given as a Python object; pass task= with that model.")
        model = create_model(recipe.task["model"], recipe.input_shape, recipe.num_classes,
                             **dict(recipe.task.get("model_kwargs") or {}))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{where} must fit the model it names, but its weights do not ({first}).") from None
    return model.to(device), recipe
