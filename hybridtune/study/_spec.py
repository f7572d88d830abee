"""Study specs: ready-to-run TOML files (``studies/*.toml``) for ``hybridtune study --spec``.

A spec has up to five tables; every key is optional and anything left out keeps its default::

    [task]    model, dataset, optimizer, device, model_args = {depth = 8}
    [study]   name, trials, epochs, sampler, pruner, baselines = ["grid"], tolerance, seed, quick, test
    [probes]  batch_size, range_steps, range_extend, momentum_epochs, momenta = [0.99, 0.97, 0.95, 0.9]
    [space]   weight_decay = [1e-6, 1e-2], batch_size_floor, batch_size_ceiling, suggestions = [0.5, 0.75]
    [grid]    lr = [...], momentum = [...], weight_decay = [...], batch_size = [...]

An unknown table or key, or a value of the wrong type, is a :class:`ConfigError` naming the key and the
value (and the closest valid key). Flags on the command line override the spec.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core._errors import ConfigError
from .._core._registry import did_you_mean


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
             "device": (*_STR, "device"), "model_args": (*_TABLE, "model_kwargs")},
    "study": {"name": (*_STR, "name"), "trials": (*_INT, "trials"), "epochs": (*_INT, "epochs"),
              "sampler": (*_STR, "sampler"), "pruner": (*_STR, "pruner"), "baselines": (*_STRS, "baselines"),
              "tolerance": (*_NUM, "tolerance"), "seed": (*_INT, "seed"), "quick": (*_BOOL, "quick"),
              "test": (*_BOOL, "test")},
    "probes": {"batch_size": (*_INT, "probe_batch_size"), "range_steps": (*_INT, "probe_range_steps"),
               "range_extend": (*_STR, "probe_range_extend"),
               "momentum_epochs": (*_INT, "probe_momentum_epochs"), "momenta": (*_NUMS, "probe_momenta")},
    "space": {"weight_decay": (*_PAIR, "weight_decay"), "batch_size_floor": (*_INT, "batch_size_floor"),
              "batch_size_ceiling": (*_INT, "batch_size_ceiling"), "suggestions": (*_NUMS, "suggestions")},
    "grid": {"lr": (*_NUMS, "lr"), "momentum": (*_NUMS, "momentum"), "weight_decay": (*_NUMS, "weight_decay"),
             "batch_size": (*_INTS, "batch_size")},
}


@dataclass(frozen=True)
class StudySpec:
    """A parsed spec: ``task``, the keyword arguments of :class:`hybridtune.Task` (``dataset`` becomes
    ``data``, ``model_args`` becomes ``model_kwargs``); ``study``, those of :class:`hybridtune.StudyConfig`;
    and whether it asks for the ``quick`` preset.

    Example:
        >>> import hybridtune as ht
        >>> spec = ht.load_spec("studies/default.toml")  # doctest: +SKIP
        >>> task, config = ht.Task(**spec.task), ht.StudyConfig(**spec.study)  # doctest: +SKIP
    """

    path: str
    task: dict[str, Any] = field(default_factory=dict)
    study: dict[str, Any] = field(default_factory=dict)
    quick: bool = False


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
