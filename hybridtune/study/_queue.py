"""The work queue: how one process or many share a study.

Every trial a study will run is put in Optuna's trial queue (WAITING trials) once, by the coordinator
(the ``study`` command): one ticket per search trial (the first two carry the range test's suggestions, the
others let the sampler choose), one per grid cell with its values fixed. Every process, the coordinator
and any ``hybridtune worker``, takes trials only from that queue. Taking one is a single
``WAITING -> RUNNING`` update (a row lock on PostgreSQL), so two processes never get the same trial, the
global count is exact, and no grid cell runs twice. A killed process's trial stops beating; it is
failed after the grace period and queued again by Optuna's ``RetryHeartbeatStaleTrialCallback``.

The sweep's optimizer x LR grid runs through the same queue (:func:`run_grid`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core import Progress, TrialFailed, fail_silent_trials, heartbeat_ages
from ..space import GridSpace, SearchSpace
from . import keys
from ._budget import affordable, failed_on_its_own
from ._objective import train_trial
from ._samplers import make_pruner, make_sampler, pruner_info

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..task import Task
    from ._config import StudyConfig

#: The coordinator's wait for other processes' trials says whom it waits for here.
_wait_log = logging.getLogger("hybridtune.wait")

#: A trial in one of these states holds its place in the queue (failed ones are queued again).
_LIVE_STATES = ("COMPLETE", "PRUNED", "WAITING", "RUNNING")
#: A grid cell is done, or about to be, when a trial of it is in one of these states.
_CELL_STATES = ("COMPLETE", "WAITING", "RUNNING")


class _QueueEmpty(Exception):
    """Raised from ``study.ask()`` when the study's queue is empty: this process is done with the study."""


def cell_key(params: Mapping[str, Any]) -> str:
    """A grid cell as a hashable key."""
    return json.dumps(dict(params), sort_keys=True)


def trial_params(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The values a trial was queued with (or, for a trial that was not queued, the ones it drew).

    A WAITING trial has no params yet: its values are in the system attribute ``fixed_params`` that Optuna's
    ``enqueue_trial`` writes (an Optuna convention with no public accessor; tests/study/test_study.py checks it).
    """
    return dict(t.system_attrs.get("fixed_params") or t.params)


# ----------------------------------------------------------------------------------------------
# Filling the queues


def fill_search_queue(study: optuna.Study, n_trials: int, firsts: Sequence[Mapping[str, Any]] | None, *,
                      in_run: bool = False) -> int:
    """Queue what is missing for ``n_trials`` search trials: finished, running and queued ones count;
    failed ones (interrupted, killed beyond the retries) are run again. ``firsts`` (the range test's
    suggestions) go first, each again if the trial that held it failed. ``in_run``: the coordinator topping
    the queue up during its run, where a trial that failed on its own (out of memory) also counts, so it
    is not drawn again and again; a resumed study gives such trials another go. A study with a stored
    budget (:data:`~hybridtune.study.keys.BUDGET`) holds no more trials than it affords
    (:func:`~hybridtune.study._budget.affordable`), whatever ``n_trials``. Returns the number queued."""
    trials = study.get_trials(deepcopy=False)
    used = [t for t in trials if t.state.name in _LIVE_STATES or (in_run and failed_on_its_own(t))]
    budget = study.user_attrs.get(keys.BUDGET)
    if budget is not None:
        n_trials = len(used) + affordable(trials, budget)
    held = {int(t.user_attrs.get(keys.SUGGESTION, 0)) for t in used if t.user_attrs.get(keys.SOURCE)}
    queued = 0
    for i, params in enumerate(firsts or ()):
        if i not in held and len(used) + queued < n_trials:
            study.enqueue_trial(dict(params), user_attrs={keys.SOURCE: keys.SUGGESTION_SOURCE,
                                                          keys.SUGGESTION: i})
            queued += 1
    for _ in range(n_trials - len(used) - queued):
        study.enqueue_trial({})  # a ticket: the sampler picks its values when a process takes it
        queued += 1
    return queued


def queue_search(study: optuna.Study, n_trials: int, firsts: Sequence[Mapping[str, Any]] | None) -> None:
    """Queue the search's missing trials; the sampler's seed moves on with the trials there were, so a
    resumed study does not replay the first run's draws."""
    from optuna.trial import TrialState

    n_before = len([t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING])
    if fill_search_queue(study, n_trials, firsts):
        waiting_firsts = sum(bool(t.user_attrs.get(keys.SOURCE)) for t in study.get_trials(
            deepcopy=False, states=(TrialState.WAITING,)))
        study.set_user_attr(keys.SAMPLER_OFFSET, n_before + waiting_firsts)


def queue_ladder(study: optuna.Study, firsts: Sequence[Mapping[str, Any]] | None) -> int:
    """Queue what the search's ladder is missing (:func:`~hybridtune.study._ladder.fill_ladder`); as in
    :func:`queue_search`, the sampler's seed moves on with the trials there were. Returns the number queued."""
    from optuna.trial import TrialState

    from ._ladder import fill_ladder

    n_before = len([t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING])
    queued = fill_ladder(study, firsts)
    if queued:
        waiting_firsts = sum(bool(t.user_attrs.get(keys.SOURCE)) for t in study.get_trials(
            deepcopy=False, states=(TrialState.WAITING,)))
        study.set_user_attr(keys.SAMPLER_OFFSET, n_before + waiting_firsts)
    return queued


def queue_cells(study: optuna.Study, cells: Sequence[Mapping[str, Any]], *, in_run: bool = False) -> int:
    """Queue each grid cell (a dict of values, e.g. from :meth:`GridSpace.cell_list` or
    :func:`hybridtune.space._space.shuffled_cells`) that has no completed, running or queued trial (nor,
    ``in_run``, one that failed on its own); returns how many were queued."""
    have = {cell_key(trial_params(t)) for t in study.get_trials(deepcopy=False)
            if t.state.name in _CELL_STATES or (in_run and failed_on_its_own(t))}
    queued = 0
    for cell in cells:
        key = cell_key(cell)
        if key not in have:
            study.enqueue_trial(dict(cell))
            have.add(key)
            queued += 1
    return queued


# ----------------------------------------------------------------------------------------------
# Running what is queued


@dataclass
class Phase:
    """One study's share of the work, as any process runs it."""

    role: str
    study: optuna.Study
    objective: Callable[[Any], float]
    total: int
    cap: int | None = None  # the global cap for MaxTrialsCallback (finished trials)
    refill: Callable[[], int] | None = None  # the coordinator's: queue again what failed without finishing
    cells: bool = False  # a grid: done counts distinct completed cells
    after_trial: Callable[[], int] | None = None  # the coordinator's: after any trial, promote on the ladder

    def done(self) -> int:
        from optuna.trial import TrialState

        if self.cells:
            return len({cell_key(trial_params(t)) for t in self.study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,))})
        return finished_count(self.study)

    def count(self, *states: str) -> int:
        from optuna.trial import TrialState

        return len(self.study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in states)))

    def report(self, progress: Progress | None) -> None:
        if progress is None:
            return
        total = self.total
        budget = None if self.cells else self.study.user_attrs.get(keys.BUDGET)
        ladder = None if self.cells else self.study.user_attrs.get(keys.LADDER)
        if ladder:  # the ladder's plan sizes it, the probes' observations on its first rung included
            total = sum(ladder["counts"]) + sum(t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE
                                                for t in self.study.get_trials(deepcopy=False))
        elif budget is not None:  # a budget's size is known as it is spent: what ran, runs, and is affordable
            trials = self.study.get_trials(deepcopy=False)
            total = sum(t.state.name in _LIVE_STATES for t in trials) + affordable(trials, budget)
        progress(self.role, min(self.done(), total), total)


def finished_count(study: optuna.Study) -> int:
    """Completed and pruned trials: what counts towards a study's size."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def fail_stale(study: optuna.Study) -> None:
    """Fail the RUNNING trials whose process is gone, and let the storage's ``RetryHeartbeatStaleTrialCallback``
    queue each again (at most ``MAX_RETRY`` times; see :func:`hybridtune.open_storage`): those whose heartbeat
    stopped (Optuna's check) and those that never beat within the grace period (a process killed between
    taking a trial and its first beat, which Optuna's check never finds)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
        fail_silent_trials(study)


@dataclass(frozen=True)
class Running:
    """A trial another process runs, as the coordinator sees it while it waits."""

    study: str
    number: int
    worker: str | None
    heartbeat_age: float | None  # seconds since its last heartbeat; None: it never recorded one
    running_for: float | None  # seconds since it started (the clock of the process that took it)

    def describe(self) -> str:
        beat = "no heartbeat yet" if self.heartbeat_age is None else f"last heartbeat {self.heartbeat_age:.0f}s ago"
        since = "" if self.running_for is None else f", running {self.running_for:.0f}s"
        return f"trial {self.number} of {self.study} (worker {self.worker or 'unknown'}, {beat}{since})"


def running_trials(study: optuna.Study) -> list[Running]:
    """The RUNNING trials of ``study``: who runs them and when each last recorded a heartbeat."""
    from datetime import datetime

    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not trials:
        return []
    ages, _ = heartbeat_ages(study)
    now = datetime.now()
    return [Running(study.study_name, t.number, t.user_attrs.get(keys.WORKER), ages.get(t.number),
                    None if t.datetime_start is None else (now - t.datetime_start).total_seconds())
            for t in trials]


@contextlib.contextmanager
def only_queued_trials(study: optuna.Study) -> Iterator[None]:
    """Within the block, ``study.ask()`` (and so ``study.optimize``) only takes trials from the queue:
    when no WAITING trial is left it raises :class:`_QueueEmpty` instead of creating a new trial.

    This is the one place that touches a private Optuna attribute, ``Study._pop_waiting_trial_id``
    (tests/study/test_study.py fails loudly if Optuna drops or renames it). Optuna 5.0 has no public way: ``ask``
    always creates a trial when the queue is empty, and stopping from a callback (``study.stop()``) when
    the queue looks empty races with other processes, which may take the last queued trial between that
    look and the next ``ask``: a fresh trial would then run a grid cell twice or a search trial beyond
    the study's size.
    """
    pop = study._pop_waiting_trial_id

    def pop_or_stop() -> int:
        trial_id = pop()
        if trial_id is None:
            raise _QueueEmpty
        return trial_id

    study._pop_waiting_trial_id = pop_or_stop  # type: ignore[method-assign]
    try:
        yield
    finally:
        del study._pop_waiting_trial_id


def drain(phase: Phase, *, budget: int | None, progress: Progress | None,
          on_trial: Callable[[], object] | None = None) -> int:
    """Run ``phase``'s queued trials in this process until the queue is empty (or ``budget`` trials ran).

    It is ``study.optimize`` (heartbeats, stale-trial retry, pruning, callbacks), except that a trial only
    ever starts from the queue (:func:`only_queued_trials`). A trial that raises :class:`TrialFailed` is
    stored as failed and the queue goes on; any other exception stops it.
    """
    import optuna
    from optuna.trial import TrialState

    ran = 0

    def after(s: Any, t: Any) -> None:
        nonlocal ran
        ran += 1
        if on_trial is not None:
            on_trial()
        phase.report(progress)

    callbacks: list[Callable[[Any, Any], None]] = [after]
    if phase.cap is not None:
        callbacks.append(optuna.study.MaxTrialsCallback(phase.cap, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    while True:
        with only_queued_trials(phase.study), contextlib.suppress(_QueueEmpty):
            try:
                phase.study.optimize(phase.objective, n_trials=None if budget is None else budget - ran,
                                     callbacks=callbacks, catch=(TrialFailed,))
            except Exception as exc:
                if not _ended_elsewhere(exc):
                    raise
                # its heartbeats had stopped for longer than the grace period (a long outage, a stalled
                # machine): another process failed it and queued it again; this process goes on
                _wait_log.warning("a trial of %s running here was failed meanwhile by another process (its "
                                  "heartbeat looked stale) and queued again; going on", phase.study.study_name)
                continue
        return ran


def _ended_elsewhere(exc: BaseException) -> bool:
    """Whether ``exc`` says that the trial this process was running had been finished by another process:
    a write to it raised Optuna's ``UpdateFinishedTrialError``, or Optuna's final ``tell`` refused it
    (``ValueError: Cannot tell a FAIL trial.``)."""
    import optuna

    e: BaseException | None = exc
    while e is not None:
        if isinstance(e, optuna.exceptions.UpdateFinishedTrialError) or (
                type(e) is ValueError and str(e).startswith("Cannot tell a ")):
            return True
        e = e.__cause__ or e.__context__
    return False


def work(phases: Sequence[Phase], *, budget: int | None, progress: Progress | None) -> dict[str, int]:
    """Take trials from each phase's queue in turn (search, grid, random), again while a phase's
    ``after_trial`` (the ladder's promotions) queued more; returns trials run per role."""
    ran: dict[str, int] = {}
    hooks = [p.after_trial for p in phases if p.after_trial is not None]

    def on_trial() -> None:
        for hook in hooks:
            hook()

    while True:
        for phase in phases:
            phase.report(progress)
            left = None if budget is None else budget - sum(ran.values())
            if left is not None and left <= 0:
                return ran
            ran[phase.role] = ran.get(phase.role, 0) + drain(phase, budget=left, progress=progress,
                                                             on_trial=on_trial if hooks else None)
        if not any(hook() for hook in hooks):
            return ran


def await_others(phases: Sequence[Phase], *, poll_seconds: float, progress: Progress | None,
                 say_every: float = 60.0) -> None:
    """Wait until no trial of any phase runs anywhere: other processes' trials finish, a killed process's
    trial (its heartbeat stopped, or it never beat) is failed after the grace period and queued again, and
    whatever is queued runs here. Who it waits for (trial, worker, last heartbeat) is logged (logger
    ``hybridtune.wait``, WARNING) when that changes and every ``say_every`` seconds."""
    said: tuple[Any, ...] = ()
    said_at = 0.0
    while True:
        busy = False
        waiting: list[Running] = []
        for phase in phases:
            fail_stale(phase.study)
            if phase.refill is not None:
                phase.refill()  # a worker's trial that was interrupted (Ctrl-C) runs again
            if phase.after_trial is not None:
                phase.after_trial()  # a rung that finished in a worker: its best go up
            if phase.count("WAITING") and drain(phase, budget=None, progress=progress, on_trial=phase.after_trial):
                busy = True  # look again: what ran may have freed budget for more (a pruned trial)
            if phase.count("RUNNING", "WAITING"):
                busy = True
                waiting += running_trials(phase.study)
            phase.report(progress)
        if not busy:
            return
        who = tuple((r.study, r.number) for r in waiting)
        if waiting and (who != said or time.monotonic() - said_at >= say_every):
            _wait_log.warning("waiting for %s", "; ".join(r.describe() for r in waiting))
            said, said_at = who, time.monotonic()
        time.sleep(poll_seconds)


def run_grid(study: optuna.Study, cells: Sequence[Mapping[str, Any]], objective: Callable[[Any], float], *,
             progress: Progress | None = None, phase: str = keys.GRID) -> int:
    """Run every cell of a grid once in ``study``: queue each cell that has no completed, running or queued
    trial (so a re-run runs only the missing cells), then run the queue in this process. The study's
    grid baseline and the sweep's optimizer x LR grid both run this way.

    Args:
        study: the Optuna study (any direction; its sampler is never asked: every value is queued).
        cells: one dict of values per cell (e.g. from :func:`hybridtune.space._space.shuffled_cells`);
            ``objective`` reads them with ``trial.suggest_categorical``.
        objective: runs one cell; raising :class:`TrialFailed` fails that cell only.
        progress: optional ``progress(phase, done, total)``.
        phase: the name ``progress`` gets.

    Returns:
        How many trials ran in this call.

    Example:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> cells = [{"x": 1.0}, {"x": 2.0}]
        >>> run_grid(study, cells, lambda t: t.suggest_categorical("x", [1.0, 2.0]) ** 2)
        2
        >>> run_grid(study, cells, lambda t: t.suggest_categorical("x", [1.0, 2.0]) ** 2)
        0
    """
    queue_cells(study, cells)
    total = len({cell_key(c) for c in cells})
    grid = Phase(phase, study, objective, total=total, cells=True)
    grid.report(progress)
    return drain(grid, budget=None, progress=progress)


# ----------------------------------------------------------------------------------------------
# The phases of a stored study


def open_phases(store: Any, name: str, task: Task, config: StudyConfig, *, salt: int = 0) -> list[Phase]:
    """The studies of ``name`` that exist, each with the objective that runs its trials.

    The search and ``random`` samplers are seeded from ``config.seed``, the study's size and ``salt``
    (0 for the coordinator, so a one-process study is reproducible; a worker's own, so that two
    workers never draw the same values).
    """
    import optuna

    from .._core import study_names

    names = set(study_names(store))
    prune = pruner_info(config.pruner).prunes

    def objective(space: SearchSpace | GridSpace, pruning: bool) -> Callable[[Any], float]:
        return lambda t: train_trial(t, task, space.suggest(t), config, prune=pruning, chance=task.chance)

    def sampled(role: str) -> Phase:
        study = optuna.load_study(study_name=keys.study_name(name, role), storage=store)
        space = SearchSpace.from_dict(study.user_attrs[keys.SPACE])
        record = study.user_attrs.get(keys.PRIOR_SAMPLER) if role == keys.SEARCH else None
        if record is not None and config.space == "prior":
            # its draws depend on the stored history and (seed, trial number) only: no offset, no salt
            from ._prior_sampler import sampler_from_record

            study.sampler = sampler_from_record(record, seed=config.seed, study=study)
        else:
            study.sampler = make_sampler(config.sampler, config.seed,
                                         int(study.user_attrs.get(keys.SAMPLER_OFFSET, 0)), salt)
        study.pruner = make_pruner(config.pruner, config.epochs)
        # a budget sizes the queue itself (fill_search_queue), and so does the ladder's plan (fill_ladder)
        ladder = bool(study.user_attrs.get(keys.LADDER))
        cap = None if config.budgeted or ladder else config.trials
        return Phase(role, study, objective(space, prune), total=config.trials, cap=cap)

    phases = [sampled(keys.SEARCH)]
    gname = keys.study_name(name, keys.GRID)
    if keys.GRID in config.baselines and gname in names:
        gstudy = optuna.load_study(study_name=gname, storage=store,
                                   sampler=optuna.samplers.RandomSampler(seed=config.seed),
                                   pruner=optuna.pruners.NopPruner())
        grid = GridSpace.from_dict(gstudy.user_attrs[keys.GRID_SPACE])
        phases.append(Phase(keys.GRID, gstudy, objective(grid, False), total=grid.cells, cells=True))
    if keys.RANDOM in config.baselines and keys.study_name(name, keys.RANDOM) in names:
        phases.append(sampled(keys.RANDOM))
    return phases
