"""A worker: another process (or machine) that joins a running study and runs trials from its queues."""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, Progress, StorageError, check_positive_int, open_storage, redact
from ..task import Task
from . import keys
from ._config import StudyConfig, config_from_dict
from ._identity import identity
from ._objective import worker_id
from ._queue import open_phases, work

if TYPE_CHECKING:  # pragma: no cover
    import optuna

_log = logging.getLogger(__name__)


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


def run_worker(name: str, *, storage: Any, device: str = "auto", trials: int | None = None,
               wait_seconds: float = 600.0, poll_seconds: float = 1.0,
               progress: Progress | None = None) -> WorkerResult:
    """Join a running study from another process or machine and run trials from its queues.

    The study's coordinator (``hybridtune study``, :func:`run_study`) probes, stores the priors and queues
    every trial; a worker never probes. It rebuilds the task from the names the study stored (model,
    dataset, optimizer), takes trials from the search, grid and random queues in turn until they are
    empty (or it ran ``trials``), and returns; on the multi-fidelity ladder it stays while the search's
    trials run elsewhere, for the rungs the coordinator queues when they finish. The coordinator waits for the workers' trials, then tests
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
    from .._core import SHARED_HINT, is_shared, storage_url
    from ..task import resolve_device

    check_positive_int("trials", trials, optional=True)
    resolve_device(device)  # a bad device fails now, not after waiting for the study
    store = open_storage(storage)
    if not is_shared(store):
        shown = redact(storage_url(store) or type(store).__name__)
        raise StorageError(f"a worker must share the study's storage with other processes, but got {shown!r}, "
                           f"which serves one process; {SHARED_HINT}.")
    study = _wait_until_ready(store, name, wait_seconds=wait_seconds, poll_seconds=poll_seconds,
                              progress=progress)
    config = config_from_dict(study.user_attrs[keys.CONFIG])
    task = _rebuild_task(study, config, device)
    if progress is not None:
        progress("waiting for the study", 1, 1)
    me = worker_id()
    phases = open_phases(store, name, task, config, salt=zlib.crc32(me.encode()) or 1)
    ran = work(phases, budget=trials, progress=progress)
    # the ladder's next rung is queued by the coordinator once the rung below finished: while its trials run
    # elsewhere, stay for the promotions
    while trials is None and any(p.study.user_attrs.get(keys.LADDER) and p.count("RUNNING") for p in phases):
        time.sleep(poll_seconds)
        for role, n in work(phases, budget=None, progress=progress).items():
            ran[role] = ran.get(role, 0) + n
    _log.info("worker %s ran %s on %s", me, ran, name)
    return WorkerResult(name=name, worker=me, device=str(task.device), trials=ran)


def _wait_until_ready(store: Any, name: str, *, wait_seconds: float, poll_seconds: float,
                      progress: Progress | None) -> optuna.Study:
    """The search study, once its coordinator marked it ready (every queue filled)."""
    import optuna

    from .._core import study_names

    deadline = time.monotonic() + wait_seconds
    while True:
        names = study_names(store)
        if name in names:
            study = optuna.load_study(study_name=name, storage=store)
            if study.user_attrs.get(keys.READY):
                return study
        if time.monotonic() >= deadline:
            listed = ", ".join(keys.search_names(names)) or "none"
            raise ConfigError(f"name must be a study that `hybridtune study` has prepared in this storage, but "
                              f"{name!r} was not ready after {wait_seconds:g}s (studies there: {listed}).")
        if progress is not None:
            progress("waiting for the study", 0, 1)
        time.sleep(poll_seconds)


def _rebuild_task(study: optuna.Study, config: StudyConfig, device: str) -> Task:
    """The study's task, rebuilt from the registry names it stored, on this worker's ``device``; it must
    come out as the one the study was made with."""
    attrs = study.user_attrs
    name = study.study_name
    recipe = attrs.get(keys.RECIPE)
    if not recipe:
        raise ConfigError(f"a worker rebuilds the study's task from names, but study {name!r} was made from "
                          f"Python objects (a model, data, loss or metric that is not a registry name or a "
                          f"module:function reference); run such studies in one process.")
    task = Task(model=recipe["model"], data=recipe["data"], model_kwargs=recipe.get("model_kwargs", {}),
                optimizer=recipe["optimizer"], device=device, kind=recipe.get("kind"),
                direction=recipe.get("direction"))
    stored = attrs.get(keys.IDENTITY, {})
    mine = identity(task, config, keys.SEARCH)
    for key in ("model", "model_kwargs", "data", "splits", "optimizer"):
        if stored.get(key) != mine.get(key):
            raise ConfigError(f"a worker must rebuild the study's task exactly, but {key} came out as "
                              f"{mine.get(key)!r} here against {stored.get(key)!r} in study {name!r}.")
    return task
