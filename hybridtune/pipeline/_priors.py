"""The priors, probed once and kept: the one home of every way hybridtune reuses what the probes found.

- A study keeps them on its search study (``keys.PRIORS``): a resumed study, its workers and
  ``tune(priors=...)`` never probe again, and a study opened with other priors is refused
  (:func:`study_priors`). The study is opened by ``open_study`` first, so its identity is checked whichever
  way the priors came.
- :func:`~hybridtune.fit` (the ``train`` command) has no study: it keeps them in a file per task, probe
  settings and versions under the cache folder (:func:`file_priors`).

Both run the probes the same way (:func:`run_probes`: the study's probe settings).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, Progress, write_text
from ..probes import Priors, find_priors
from ..study import StudyConfig, keys
from ..task import cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..task import Task

_log = logging.getLogger(__name__)

#: Bumped when what the priors cache holds, or how its key is made, changes.
_CACHE_FORMAT = 2


def run_probes(task: Task, config: StudyConfig, *, batch_size: int, seed: int, progress: Progress | None = None,
               label: str = "probes") -> Priors:
    """The range test and the momentum runs with ``config``'s probe settings, at ``batch_size``; ``progress``
    hears ``"<label>: <phase>"``."""

    def relay(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"{label}: {phase}", done, total)

    return find_priors(task, batch_size=batch_size, momentum_epochs=config.probe_momentum_epochs,
                       range_steps=config.probe_range_steps, momenta=config.probe_momenta, seed=seed,
                       progress=relay, range_extend=config.probe_range_extend)


def study_priors(study: optuna.Study, task: Task, config: StudyConfig, probe_bs: int,
                 progress: Progress | None = None, *, given: Priors | None = None) -> Priors:
    """The search study's priors: ``given`` ones (stored; they must match any the study holds), else the ones
    stored on the study, else the probes run now and their result stored."""
    cached = study.user_attrs.get(keys.PRIORS)
    if given is not None:
        if cached is not None and Priors.from_dict(cached) != given:
            raise ConfigError(f"priors must match the ones stored with study {study.study_name!r}; use another "
                              f"name for a study with other priors.")
        priors = given
    elif cached is not None:
        if progress is not None:
            progress("probes (cached)", 1, 1)
        _log.info("priors of %s taken from storage; no probes run", study.study_name)
        return Priors.from_dict(cached)
    else:
        priors = run_probes(task, config, batch_size=probe_bs, seed=config.seed, progress=progress)
    # the priors last: once they are stored the probes never run again, so what goes with them is stored first
    study.set_user_attr(keys.PROBE_COST, priors.cost.to_dict())
    study.set_user_attr(keys.PRIORS, priors.to_dict())
    return priors


def file_priors(task: Task, probe: Mapping[str, Any], compute: Callable[[], Priors], *,
                cache: bool = True) -> tuple[Priors, bool]:
    """The priors of ``task`` under ``probe``'s settings from the cache folder, or ``compute()`` and store them
    there; returns them and whether they came from the cache. A task built from Python objects (nothing names
    it across runs), or ``cache=False``, always computes; a cache that cannot be written costs a probe next
    time, never the run."""
    path = _cache_path(task, probe) if cache else None
    priors = _read_cached(path, task, probe) if path is not None else None
    if priors is not None:
        return priors, True
    priors = compute()
    if path is not None:
        _write_cached(path, task, probe, priors)
    return priors, False


def cache_key(task: Task, probe: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the priors depend on: the task by names, its data's sizes, the optimizer and the probe's settings,
    the hybridtune and torch versions, and the bytes of a user's ``file.py:function`` model or dataset (the
    name stays while the code behind it is edited); ``None`` for a task built from Python objects (nothing
    names it)."""
    names = task.recipe()
    if names is None:
        return None
    import torch

    from .._core import __version__, user_file_digest

    files = {key: digest for key in ("model", "data") if (digest := user_file_digest(names.get(key))) is not None}
    return {"format": _CACHE_FORMAT, "hybridtune": str(__version__), "torch": str(torch.__version__),
            "task": names, "files": files, "data": task.data.describe(), "probe": dict(probe)}


def _cache_path(task: Task, probe: Mapping[str, Any]) -> Path | None:
    key = cache_key(task, probe)
    if key is None:
        _log.info("the probe's priors are not cached: task %s was built from Python objects (nothing "
                  "names it across runs)", task.model_name)
        return None
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    # a digest and a sanitised label, never the name itself: a model given as a path ("../nets.py:tiny",
    # "/abs/x.py:f") would put the file outside the cache folder
    return cache_dir() / "priors" / f"{_file_label(task.model_name)}-{task.optimizer}-{digest}.json"


def _file_label(name: str) -> str:
    """A short label safe in a file name (``[A-Za-z0-9_-]`` only): the function of a user reference, else the
    name.

    Example:
        >>> _file_label("../../etc/nets.py:tiny"), _file_label("resnet20")
        ('tiny', 'resnet20')
    """
    label = re.sub(r"[^A-Za-z0-9_-]+", "_", name.rpartition(":")[2]).strip("_")[:32]
    return label or "model"


def _read_cached(path: Path, task: Task, probe: Mapping[str, Any]) -> Priors | None:
    if not path.is_file():
        return None
    key = cache_key(task, probe)
    try:
        d = json.loads(path.read_text())
        if json.loads(json.dumps(key, default=str)) != d.get("key"):
            return None
        priors = Priors.from_dict(d["priors"])
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a torn or foreign file: probe again
        _log.warning("ignoring the cached priors %s (%s: %s)", path, type(exc).__name__, exc)
        return None
    _log.info("priors taken from the cache %s; no probe run", path)
    return priors


def _write_cached(path: Path, task: Task, probe: Mapping[str, Any], priors: Priors) -> None:
    text = json.dumps({"key": cache_key(task, probe), "priors": priors.to_dict()}, default=str, allow_nan=False)
    try:
        write_text(path, text, what="the probe cache")
    except ConfigError as exc:  # a read-only cache costs a probe next time, never the run
        _log.warning("could not cache the priors in %s (%s)", path, exc)
