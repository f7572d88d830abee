"""Study specs: ready-to-run TOML files (``studies/*.toml``) for ``hybridtune study --spec``.

A spec has up to five tables; every key is optional and anything left out keeps its default::

    [task]    model, dataset, optimizer, device, kind, direction, model_args = {depth = 8}
    [study]   name, trials, epochs, sampler, space, pruner, fidelity, length_cap, baselines = ["grid"], budget,
              budget_examples, test_seeds, match_z, tolerance, seed, quick, test
    [probes]  batch_size, range_steps, range_extend, momentum_epochs, momenta = [0.99, 0.97, 0.95, 0.9]
    [space]   prior_confidence, weight_decay = [1e-6, 1e-2], batch_size_floor, batch_size_ceiling,
              suggestions = [0.5, 0.75]
    [grid]    lr = [...], momentum = [...], weight_decay = [...], batch_size = [...]

An unknown table or key, or a value of the wrong type, is a :class:`ConfigError` naming the key and the
value (and the closest valid key). :meth:`StudySpec.build` lays overrides over the spec, as the command
line's flags do: built-in defaults <- the spec <- the overrides given.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .._core import ConfigError, did_you_mean
from ..task import DIRECTIONS, KINDS, Task
from ._config import StudyConfig

#: The :class:`hybridtune.Task` parameters a spec may set (their defaults are the Task's own).
TASK_KEYS = ("model", "data", "model_kwargs", "optimizer", "device", "kind", "direction")
#: The spec's task keys that take one of a few words, checked when the spec is read.
_TASK_CHOICES = {"kind": KINDS, "direction": DIRECTIONS}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


# (type check, what the rule says, target key in the StudyConfig / task dict)
_INT = (_is_int, "an integer")
_NUM = (_is_num, "a number")
_STR = (lambda v: isinstance(v, str), "a string")
_BOOL = (lambda v: isinstance(v, bool), "true or false")
_NUMS = (lambda v: isinstance(v, list) and bool(v) and all(_is_num(x) for x in v), "a non-empty list of numbers")
_INTS = (lambda v: isinstance(v, list) and bool(v) and all(_is_int(x) for x in v), "a non-empty list of integers")
_STRS = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings")
_PAIR = (lambda v: isinstance(v, list) and len(v) == 2 and all(_is_num(x) for x in v), "a [low, high] pair of numbers")
_TABLE = (lambda v: isinstance(v, dict), "a table such as {depth = 8}")

SCHEMA: dict[str, dict[str, tuple[Any, str, str]]] = {
    "task": {"model": (*_STR, "model"), "dataset": (*_STR, "data"), "optimizer": (*_STR, "optimizer"),
             "device": (*_STR, "device"), "kind": (*_STR, "kind"), "direction": (*_STR, "direction"),
             "model_args": (*_TABLE, "model_kwargs")},
    "study": {"name": (*_STR, "name"), "trials": (*_INT, "trials"), "epochs": (*_INT, "epochs"),
              "sampler": (*_STR, "sampler"), "space": (*_STR, "space"), "pruner": (*_STR, "pruner"),
              "fidelity": (*_STR, "fidelity"), "length_cap": (*_INT, "length_cap"), "baselines": (*_STRS, "baselines"),
              "budget": (*_NUM, "budget"), "budget_examples": (*_INT, "budget_examples"),
              "test_seeds": (*_INT, "test_seeds"), "match_z": (*_NUM, "match_z"),
              "tolerance": (*_NUM, "tolerance"), "seed": (*_INT, "seed"), "quick": (*_BOOL, "quick"),
              "test": (*_BOOL, "test")},
    "probes": {"batch_size": (*_INT, "probe_batch_size"), "range_steps": (*_INT, "probe_range_steps"),
               "range_extend": (*_STR, "probe_range_extend"),
               "momentum_epochs": (*_INT, "probe_momentum_epochs"), "momenta": (*_NUMS, "probe_momenta")},
    "space": {"prior_confidence": (*_NUM, "prior_confidence"), "weight_decay": (*_PAIR, "weight_decay"), "batch_size_floor": (*_INT, "batch_size_floor"),
              "batch_size_ceiling": (*_INT, "batch_size_ceiling"), "suggestions": (*_NUMS, "suggestions")},
    "grid": {"lr": (*_NUMS, "lr"), "momentum": (*_NUMS, "momentum"), "weight_decay": (*_NUMS, "weight_decay"),
             "batch_size": (*_INTS, "batch_size")},
}


@dataclass(frozen=True)
class StudySpec:
    """A parsed spec: ``task``, the keyword arguments of :class:`hybridtune.Task` (``dataset`` becomes
    ``data``, ``model_args`` becomes ``model_kwargs``); ``study``, those of :class:`hybridtune.StudyConfig`;
    and whether it asks for the ``quick`` preset. ``StudySpec()`` is no spec at all: the built-in defaults.

    Example:
        >>> import hybridtune as ht
        >>> spec = ht.load_spec("studies/default.toml")  # doctest: +SKIP
        >>> task_kwargs, config = spec.build(trials=3)  # doctest: +SKIP
        >>> task = ht.Task(**task_kwargs)  # doctest: +SKIP
    """

    path: str | None = None
    task: dict[str, Any] = field(default_factory=dict)
    study: dict[str, Any] = field(default_factory=dict)
    quick: bool = False

    @classmethod
    def default(cls) -> StudySpec:
        """No spec file: :meth:`build` then lays its overrides over the built-in defaults alone."""
        return cls()

    def build(self, **overrides: Any) -> tuple[dict[str, Any], StudyConfig]:
        """The task's keyword arguments and the :class:`StudyConfig`: built-in defaults <- this spec <- the
        overrides that are not ``None`` (what ``hybridtune study --spec`` does with its flags).

        Args:
            overrides: :class:`hybridtune.Task` parameters (``model``, ``data``, ``optimizer``, ``device``,
                ``kind``, ``direction``, ``model_kwargs``, merged into the spec's), :class:`StudyConfig` fields, and ``quick`` (the
                smoke-size preset, :meth:`StudyConfig.quick`). ``None`` means "not given".

        Raises:
            ConfigError: an override that is neither a Task parameter, a StudyConfig field nor ``quick``;
                or a value the config rejects.

        Example:
            >>> task_kwargs, config = StudySpec().build(model="cnn", trials=3, quick=True)
            >>> task_kwargs["model"], task_kwargs["data"], config.trials, config.epochs
            ('cnn', 'mnist5k', 3, 2)
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        config_fields = [f.name for f in fields(StudyConfig)]
        valid = [*TASK_KEYS, *config_fields, "quick"]
        for key in given:
            if key not in valid:
                raise ConfigError(f"overrides must be Task parameters, StudyConfig fields or quick, but got "
                                  f"{key!r}.{did_you_mean(key, valid)}")
        # (kind and direction default to None, "read from the data": left out unless given)
        task_kw: dict[str, Any] = {f.name: f.default for f in fields(Task) if f.name in TASK_KEYS
                                   and f.name != "model_kwargs" and f.default is not None}
        task_kw.update(self.task)
        task_kw.update({k: v for k, v in given.items() if k in TASK_KEYS and k != "model_kwargs"})
        if given.get("model_kwargs"):
            task_kw["model_kwargs"] = {**task_kw.get("model_kwargs", {}), **given["model_kwargs"]}
        flags = {k: v for k, v in given.items() if k in config_fields}
        study_kw = _one_size(self.study, flags)
        quick = given.get("quick", self.quick)
        return task_kw, (StudyConfig.quick(**study_kw) if quick else StudyConfig(**study_kw))


_BUDGETS = ("budget", "budget_examples")


def _one_size(spec: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """The spec's study settings with the flags laid over them, where ``trials`` and a budget are two ways to
    size the search: given together in one layer they are refused; a flag's one replaces the spec's other
    (``--budget 0.1`` over a spec's ``trials = 20``)."""
    for layer, where in ((spec, "in the spec"), (flags, "as overrides (flags)")):
        given = [k for k in ("trials", *_BUDGETS) if layer.get(k) is not None]
        if "trials" in given and len(given) > 1:
            raise ConfigError(f"trials and {given[1]} must not both be given (a budget decides how many trials "
                              f"run), but got trials={layer['trials']!r} and {given[1]}={layer[given[1]]!r} "
                              f"{where}.")
    merged = {**spec, **flags}
    if any(flags.get(k) is not None for k in _BUDGETS):
        merged.pop("trials", None)
    elif flags.get("trials") is not None:
        for k in _BUDGETS:
            merged.pop(k, None)
    return merged


def _unknown(kind: str, got: str, valid: list[str], where: str) -> ConfigError:
    return ConfigError(f"spec {kind} must be among {', '.join(valid)}, but got {got!r}{where}."
                       f"{did_you_mean(got, valid)}")


def _show(v: Any) -> str:
    kind = {bool: "a boolean", str: "a string", int: "an integer", float: "a number", list: "a list",
            dict: "a table"}.get(type(v), type(v).__name__)
    return f"{v!r} ({kind})"


def load_spec(path: str | Path) -> StudySpec:
    """Read and check a TOML study spec.

    Raises:
        ConfigError: a missing or malformed file, an unknown table or key, a value of the wrong type; the
            message names the key and the value.

    Example:
        >>> import hybridtune as ht
        >>> spec = ht.load_spec("studies/cnn-mnist5k.toml")  # doctest: +SKIP
        >>> spec.task["model"], spec.study["epochs"]  # doctest: +SKIP
        ('cnn', 4)
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"spec must be an existing TOML file, but got {str(path)!r}.")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"spec must be valid TOML, but {str(path)!r} has an error: {exc}.") from None
    spec_task: dict[str, Any] = {}
    spec_study: dict[str, Any] = {}
    grid: dict[str, Any] = {}
    quick = False
    for section, body in data.items():
        if section not in SCHEMA:
            raise _unknown("tables", section, list(SCHEMA), f" in {p}")
        if not isinstance(body, dict):
            raise ConfigError(f"spec [{section}] must be a table, but got {section} = {_show(body)} in {p}.")
        for key, value in body.items():
            if key not in SCHEMA[section]:
                raise _unknown(f"[{section}] keys", key, list(SCHEMA[section]), f" in {p}")
            check, rule, target = SCHEMA[section][key]
            if not check(value):
                raise ConfigError(f"spec [{section}] {key} must be {rule}, but got {key} = {_show(value)} in {p}.")
            if section == "task" and key in _TASK_CHOICES and value not in _TASK_CHOICES[key]:
                valid = _TASK_CHOICES[key]
                raise ConfigError(f"spec [task] {key} must be one of {', '.join(valid)}, but got {key} = "
                                  f"{value!r} in {p}.{did_you_mean(value, valid)}")
            if section == "task":
                spec_task[target] = dict(value) if key == "model_args" else value
            elif section == "grid":
                grid[target] = tuple(value)
            elif key == "quick":
                quick = bool(value)
            else:
                spec_study[target] = tuple(value) if isinstance(value, list) else value
    if grid:
        spec_study["grid"] = grid
    return StudySpec(path=str(p), task=spec_task, study=spec_study, quick=quick)
