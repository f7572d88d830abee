"""The hybrid study's coordinator: probes -> priors -> an Optuna search inside them -> baselines -> the test
split -> a cost-fair comparison -> the dashboard.

:func:`run_study` is the whole pipeline in one call; the ``hybridtune study`` command is a thin layer over
it. What a study stores is described in :mod:`hybridtune.study.keys`; the queue every process takes
trials from in :mod:`hybridtune.study._queue`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, Progress, open_storage, report_file
from ..compare import StudyResult, best_trial, load_result
from ..report import save_to_dashboard, study_figures, write_report
from ..space import (GridSpace, Hyperparams, SearchSpace, batch_sizes, grid_space, search_space, suggested_peak,
                     wide_space)
from ..study import (StudyConfig, await_others, default_name, fail_stale, fill_ladder, fill_search_queue, identity,
                     keys, ladder_epochs, length_cap, open_phases, open_study, plan_ladder, probe_identity, probe_observations,
                     queue_cells, queue_ladder, queue_search, stored_identity, study_budget, task_description, work)
from ..task import Task
from ..train import Tested, train_and_test
from ._export import default_out
from ._priors import study_priors

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..probes import Priors

_log = logging.getLogger(__name__)


def run_study(task: Task, config: StudyConfig | None = None, *, storage: Any = None,
              progress: Progress | None = None, poll_seconds: float = 1.0,
              report: str | Path | None = None, out: str | Path | None = None) -> StudyResult:
    """Run (or resume) the hybrid study and return its result, computed from storage.

    1. **Probes** (:func:`hybridtune.find_priors`), unless the study already holds their result.
    2. **Search**: ``config.sampler`` with ``config.pruner`` inside the priors' space
       (:func:`hybridtune.search_space`); the range test's suggestions are the first trials.
    3. **Baselines**: the ``grid`` (every cell once, full epochs, no pruning) and/or ``random`` (the same
       sampler and pruner over wide bounds, no priors).
    4. **Test**: each study's best configuration retrained once and scored on the test split; the
       search's chosen recipe (``best.json``) and the weights of that same retrain (``best.pt``) are
       written into ``out`` (``config.artefacts``; see :func:`hybridtune.load_checkpoint`).
    5. **Comparison** from the stored trials (:func:`load_result`); its figures, built once
       (:func:`hybridtune.study_figures`), go into the dashboard note and, with ``report``, the HTML report.

    ``config.epochs=None`` (the default) is resolved first (:func:`resolve_config`): a stored study keeps its
    own epochs, a new one gets the budget rule's. A config that names the study and sets its epochs (what
    :func:`resolve_config` returns: the CLI resolves once, to print the study's name and size first) runs as given.

    This process is the study's coordinator: it probes, puts every trial of every phase in Optuna's trial
    queue once, runs trials from the queues, and waits for those that ``hybridtune worker`` processes
    (:func:`run_worker`, on a shared database such as PostgreSQL) took, before testing and comparing.
    Re-running with the same name and storage resumes: finished trials count, failed or interrupted
    ones run again, missing grid cells run, the probes are not repeated.

    Args:
        task: the data, model, loss and optimizer family.
        config: sizes and choices (default :class:`StudyConfig`).
        storage: an Optuna storage URL (default ``sqlite:///runs/hybridtune.db``) or an open Optuna storage.
        progress: optional ``progress(phase, done, total)``; phases ``probes: ...``, ``search``,
            ``grid``, ``random``, ``test``.
        poll_seconds: how often to look at other processes' trials while waiting for them.
        report: also write the HTML report there (a ``.html`` file or a folder); its path is the result's
            ``report``.
        out: the folder of ``best.json`` and ``best.pt`` (default: the report's folder when ``report`` is
            given, else ``runs/<name>/``); their paths are the result's ``artefacts``.

    Raises:
        StorageError: the storage cannot be opened, or another process runs this study's coordinator (or,
            on a SQLite file, any study).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", device="cpu")
        >>> cfg = ht.StudyConfig.quick(trials=3, probe_batch_size=32, grid={"lr": [0.1],
        ...                            "batch_size": [32]})
        >>> result = ht.run_study(task, cfg, storage="sqlite:///:memory:")  # doctest: +SKIP
        >>> sorted(result.outcomes)  # doctest: +SKIP
        ['grid', 'search']
    """
    store = open_storage(storage)
    if out is None and report is not None:  # the recipe and weights go beside the report, as the CLI puts them
        out = report_file(report).parent
    result, _ = _run(task, config, storage=store, progress=progress, poll_seconds=poll_seconds, out=out,
                     report=report)
    return result


def resolve_config(task: Task, config: StudyConfig | None = None, *, storage: Any = None) -> StudyConfig:
    """The config :func:`run_study` runs: the name and, when ``epochs`` is ``None``, the epochs of the stored
    study of that name (a resumed study keeps its budget), else the budget rule's (:meth:`StudyConfig.for_task`).
    :func:`run_study` runs what this returns as given, without resolving it again.

    Args:
        task: the task to study.
        config: the settings (default :class:`StudyConfig`).
        storage: where a study of that name may already be (default ``sqlite:///runs/hybridtune.db``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="digits", device="cpu")
        >>> resolve_config(task, storage="sqlite:///:memory:").epochs
        11
    """
    config = config or StudyConfig()
    _check_task(task)
    if config.epochs is None or config.fidelity is None:
        name = config.name or default_name(task, config)
        stored = stored_identity(open_storage(storage), name) or {}
        if config.epochs is None and stored.get("epochs"):
            config = config.replace(epochs=int(stored["epochs"]))
        if config.fidelity is None and stored:  # a stored study keeps its scheme (before the ladder: pruner)
            config = config.replace(fidelity=str(stored.get("fidelity", "pruner")))
    return config.for_task(task)


def _check_task(task: Any) -> None:
    if not isinstance(task, Task):
        raise ConfigError(f"task must be a hybridtune.Task, but got {type(task).__name__}.")


def _run(task: Task, config: StudyConfig | None, *, storage: Any, progress: Progress | None,
         poll_seconds: float = 1.0, out: str | Path | None = None, report: str | Path | None = None,
         keep_model: bool = False, priors: Priors | None = None) -> tuple[StudyResult, Any]:
    """:func:`run_study`; also returns the search's retrained model when ``keep_model`` (and a chosen
    configuration exists), else ``None``. Given ``priors`` are the search's, instead of its probes (they must
    match any the study already holds)."""
    from .._core import coordinator_lock

    store = open_storage(storage)
    _check_task(task)
    if config is None or config.name is None or config.epochs is None or config.fidelity is None:  # resolved: as given
        config = resolve_config(task, config, storage=store)
    name = str(config.name)
    folder = default_out(name) if out is None else Path(out)
    with coordinator_lock(store, name):
        result, model = _coordinate(task, config, store, name, progress, poll_seconds, folder, keep_model,
                                    priors=priors)
        return _publish(result, store, dashboard=config.dashboard, report=report), model


def rebuild_report(name: str, *, storage: Any = None, tolerance: float | None = None,
                   report: str | Path) -> StudyResult:
    """Rebuild a study's comparison, dashboard note and figures and HTML report from storage alone (no
    training): what ``hybridtune report`` does.

    Args:
        name: the search study's name.
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``); it must exist.
        tolerance: accuracy points for matching the grid (default: the study's own).
        report: where to write the HTML report (a ``.html`` file or a folder).

    Example:
        >>> import hybridtune as ht
        >>> ht.rebuild_report("resnet-mnist5k", report="runs/resnet-mnist5k/")  # doctest: +SKIP
    """
    store = open_storage(storage, must_exist=True)
    return _publish(load_result(name, storage=store, tolerance=tolerance), store, dashboard=True, report=report)


def _publish(result: StudyResult, store: Any, *, dashboard: bool, report: str | Path | None) -> StudyResult:
    """What the report stage makes of a result: the figures, built once, then the dashboard's note and figures
    (when ``dashboard``) and the HTML report (when ``report``, its path in the returned result)."""
    if not dashboard and report is None:
        return result
    figures = study_figures(result, storage=store)
    if dashboard:
        save_to_dashboard(result, storage=store, figures=figures)
    if report is None:
        return result
    return dataclasses.replace(result, report=str(write_report(result, report, storage=store, figures=figures)))


def _coordinate(task: Task, config: StudyConfig, store: Any, name: str, progress: Progress | None,
                poll_seconds: float, out: Path, keep_model: bool, *,
                priors: Priors | None = None) -> tuple[StudyResult, Any]:
    t0 = time.perf_counter()
    task.check_model()  # a model that does not fit the targets fails here, in one line, before any probe
    n_train = len(task.data.train)  # type: ignore[arg-type]
    probe_bs = config.probe_batch_size_for(task)
    # the textbook grid, whether or not it runs: a budget is a fraction of its cost (a bad budget fails here)
    grid = grid_space(task, quick=config.preset == "quick", overrides=config.grid)
    budget = study_budget(config, n_train=n_train, grid=grid)
    # 1. the search study, its priors and its space
    study, priors, space = _prepare_search(task, config, store, name, probe_bs, progress, given=priors)
    # 2. every phase's trials, queued once
    _queue_everything(task, config, store, name, study, priors, space, grid if keys.GRID in config.baselines
                      else None, budget)
    # 3. the work: this process takes trials from the queues like any worker, then waits for the others
    phases = open_phases(store, name, task, config)
    for phase in phases:
        fail_stale(phase.study)  # a trial a killed run left RUNNING: failed and queued again
        if phase.role == keys.GRID:
            phase.refill = lambda s=phase.study: queue_cells(s, grid.cell_list(config.seed), in_run=True)
        elif phase.role == keys.SEARCH and phase.study.user_attrs.get(keys.LADDER):
            phase.refill = phase.after_trial = lambda s=phase.study: fill_ladder(s, None, in_run=True)
        else:
            phase.refill = lambda s=phase.study: fill_search_queue(s, config.trials, None, in_run=True)
    work(phases, budget=None, progress=progress)
    await_others(phases, poll_seconds=poll_seconds, progress=progress)
    # 4. the test split, and the search's artefacts from the same retrain
    model = None
    if config.test:
        model = _test_all(store, name, task, config, progress, out=out if config.artefacts else None,
                          keep_model=keep_model)
    # 5. the comparison, from storage (the dashboard and the report follow, in _publish)
    result = load_result(name, storage=store, tolerance=config.tolerance)
    _log.info("study %s done in %.1fs", name, time.perf_counter() - t0)
    return result, model


def _prepare_search(task: Task, config: StudyConfig, store: Any, name: str, probe_bs: int,
                    progress: Progress | None, *,
                    given: Priors | None = None) -> tuple[optuna.Study, Priors, SearchSpace]:
    """Open (or resume) the search study, its identity checked, store what workers rebuild the task from, and
    return it with its priors (``given`` ones, or the probes': :func:`study_priors`) and its space (both cached
    on the study)."""
    study = open_study(store, name, identity(task, config, keys.SEARCH, probe_identity(config, probe_bs)),
                       metric=task.metric_name, direction=task.direction)
    study.set_user_attr(keys.CONFIG, config.to_dict())
    study.set_user_attr(keys.TASK, task_description(task))
    study.set_user_attr(keys.RECIPE, task.recipe())
    priors = study_priors(study, task, config, probe_bs, progress, given=given)
    space_d = study.user_attrs.get(keys.SPACE)
    if space_d is not None:
        return study, priors, SearchSpace.from_dict(space_d)
    sizes = batch_sizes(task, ref_batch_size=probe_bs, floor=config.batch_size_floor,
                        ceiling=config.batch_size_ceiling, epochs=config.epochs)
    space = search_space(priors, sizes, lr_range=config.lr_range, weight_decay=config.weight_decay)
    if config.space == "prior":  # wide bounds, the priors as the sampler's evidence (stored for every process)
        from ..study import prior_guided

        space, record = prior_guided(priors, space, lr_range=config.lr_range, positions=config.suggestions,
                                     confidence=config.prior_confidence)
        study.set_user_attr(keys.PRIOR_SAMPLER, record)
    study.set_user_attr(keys.SPACE, space.to_dict())
    return study, priors, space


def _queue_everything(task: Task, config: StudyConfig, store: Any, name: str, study: optuna.Study,
                      priors: Priors, space: SearchSpace, grid: GridSpace | None,
                      budget: dict[str, Any] | None) -> None:
    """Queue every phase's missing trials (the search and ``random`` within ``budget``, the search's
    probes counted), then mark the study ready for workers."""
    import optuna

    _set_budget(study, None if budget is None else {**budget, "start": priors.cost.examples})
    # First the range test's suggestions for 1cycle runs (see StudyConfig.suggestions): the priors' momentum
    # and weight decay, the smallest batch size, peak LRs inside the search band. The priors' lr_max is a
    # constant-LR value, the band's floor; a first trial there trains well below what 1cycle's warm-up
    # allows (ResNet-8 / mnist5k: 92-94% at lr_max, 4 epochs).
    firsts = [space.params_for(lr=suggested_peak(priors.lr_max, config.lr_range, pos), momentum=priors.momentum,
                               weight_decay=priors.weight_decay, batch_size=min(space.batch_sizes))
              for pos in config.suggestions]
    if config.space == "prior":  # the prior-guided sampler sets their LR, from the evidence when they start
        firsts = [{k: v for k, v in f.items() if k != space.lr_name} for f in firsts]
    if config.fidelity == "ladder":
        # the length ladder's rise rule is binomial: for a classification study scored by accuracy
        n_val = len(task.data.val) if task.kind == "classification" and task.metric is None else None  # type: ignore[arg-type]
        _plan_ladder(study, config, priors, space, budget, n_val=n_val)
        queue_ladder(study, firsts)
    else:
        queue_search(study, config.trials, firsts)
    if budget is not None and budget["examples"] - priors.cost.examples < budget["per_trial"]:
        _log.warning("study %s: the probes (%d examples) left less than one trial (%d) of the budget (%d)",
                     name, priors.cost.examples, budget["per_trial"], budget["examples"])
    if grid is not None:
        gstudy = open_study(store, keys.study_name(name, keys.GRID),
                            identity(task, config, keys.GRID, {"grid": grid.to_dict()}),
                            pruner=optuna.pruners.NopPruner(), metric=task.metric_name, direction=task.direction)
        gstudy.set_user_attr(keys.GRID_SPACE, grid.to_dict())
        queue_cells(gstudy, grid.cell_list(config.seed))
    if keys.RANDOM in config.baselines:
        wide = wide_space(task.optimizer, space.batch_sizes, weight_decay=config.weight_decay)
        rstudy = open_study(store, keys.study_name(name, keys.RANDOM),
                            identity(task, config, keys.RANDOM, {"space": wide.to_dict()}),
                            metric=task.metric_name, direction=task.direction)
        rstudy.set_user_attr(keys.SPACE, wide.to_dict())
        _set_budget(rstudy, budget)  # the same budget, no probes
        queue_search(rstudy, config.trials, None)
    study.set_user_attr(keys.READY, True)  # workers may join from here on


def _plan_ladder(study: optuna.Study, config: StudyConfig, priors: Priors, space: SearchSpace,
                 budget: dict[str, Any] | None, *, n_val: int | None) -> None:
    """Plan the search's ladder: its rungs' lengths and how many trials each runs, from the budget left after
    the probes or from ``trials`` (the same command resumes the same plan; a resumed study given more trials
    extends it, and what already ran stays), then the probes' momentum runs join its first rung when they have
    its length."""
    epochs = ladder_epochs(int(config.epochs))  # type: ignore[arg-type]
    if budget is not None:
        units = (budget["examples"] - priors.cost.examples) / budget["per_trial"]
        counts = plan_ladder(units, epochs)
    else:
        units = float(config.trials)
        counts = plan_ladder(0, epochs, trials=config.trials)
    # the length ladder spends what a budget leaves; a study sized by trials climbs only when given a cap
    cap = length_cap(int(config.epochs), config.length_cap) \
        if config.budgeted or config.length_cap is not None else None  # type: ignore[arg-type]
    plan = keys.record_ladder(epochs=epochs, counts=counts, units=units, n_val=n_val, cap=cap)
    if study.user_attrs.get(keys.LADDER) != plan:  # a resumed study given more (or fewer) trials: its new plan
        study.set_user_attr(keys.LADDER, plan)
    ladder = study.user_attrs[keys.LADDER]
    if ladder["counts"][0] > 0:
        probe_observations(study, priors, space, int(ladder["epochs"][0]))


def _set_budget(study: optuna.Study, budget: dict[str, Any] | None) -> None:
    """Store the study's budget (``None`` clears one that a resumed study had: ``trials`` sizes it now)."""
    if budget is not None or study.user_attrs.get(keys.BUDGET) is not None:
        study.set_user_attr(keys.BUDGET, budget)



def _test_all(store: Any, name: str, task: Task, config: StudyConfig, progress: Progress | None, *,
              out: Path | None, keep_model: bool) -> Any:
    """Each study's best configuration, retrained on the test seeds (:attr:`StudyConfig.test_seed_list`, the
    same for every study) and scored on the test split; the search's artefacts (the retrain on the first
    test seed) written into ``out`` (unless ``None``). Returns that retrained model when ``keep_model``."""
    import optuna

    from ..train import load_checkpoint
    from ._export import CHECKPOINT_FILE, artefacts_current, recipe_current, recipe_of, write_artefacts

    roles = (keys.SEARCH,) + tuple(config.baselines)
    total = len(roles) * config.test_seeds
    done = [0]

    def tick() -> None:
        if progress is not None:
            progress("test", done[0], total)
        done[0] += 1

    model = None
    for role in roles:
        study = optuna.load_study(study_name=keys.study_name(name, role), storage=store)
        if role != keys.SEARCH:
            _test_best(study, task, config, tick=tick)
            continue
        best = best_trial(study.get_trials(deepcopy=False), floor=task.chance_floor, direction=task.direction)
        stale = out is not None and best is not None and not artefacts_current(study, best.number, out)

        def keep(first: Tested, study: optuna.Study = study) -> None:
            # the first seed's weights are written as soon as they exist: after an interrupt in a later seed
            # they are current, and resuming does not retrain the first seed again
            if out is not None:
                write_artefacts(study, recipe_of(study, store), first.model, out)  # type: ignore[arg-type]

        tested = _test_best(study, task, config, need_model=keep_model or stale, tick=tick, on_first=keep)
        if out is not None and best is not None:
            recipe = recipe_of(study, store)
            if recipe is not None and not recipe_current(recipe, out):
                # the recipe carries the test score over every seed: written again once they are all in, with
                # the same weights (in memory, or, when this run retrained no first seed, from best.pt)
                model = tested.model if tested is not None else load_checkpoint(
                    Path(out) / CHECKPOINT_FILE, task=task)[0]
                write_artefacts(study, recipe, model, out)  # type: ignore[arg-type]
        elif best is None:
            _log.warning("study %s: the search found nothing (no completed trial above chance); no best.json or "
                         "best.pt written", name)
        model = tested.model if tested is not None and keep_model else None
    if progress is not None:
        progress("test", total, total)
    return model



def _test_best(study: optuna.Study, task: Task, config: StudyConfig, *, need_model: bool = False,
               tick: Any = None, on_first: Any = None) -> Tested | None:
    """Retrain the best configuration on each test seed and score it on the test split. Each seed's record
    is stored as soon as it is done (an interrupted study resumes with the seeds that are missing); the
    records are kept while the best trial stays the same. The first seed is retrained again when its model
    is needed (the weights and the recorded scores are then of one run); ``on_first(tested)`` hears that
    retrain as soon as its record is stored. Returns the first seed's retrain, or ``None`` when it was not
    retrained now."""
    best = best_trial(study.get_trials(deepcopy=False), floor=task.chance_floor, direction=task.direction)
    if best is None:
        return None
    seeds = config.test_seed_list
    cached = study.user_attrs.get(keys.TEST) or {}
    runs = {int(r["seed"]): r for r in cached.get("runs") or () if int(r["seed"]) in seeds} \
        if cached.get("trial") == best.number else {}
    hp = Hyperparams(**best.user_attrs[keys.HYPERPARAMS])
    first = None
    for i, seed in enumerate(seeds):
        if tick is not None:
            tick()
        if seed in runs and not (i == 0 and need_model):
            continue
        # the length the choice ran: the study's epochs, or longer from the length ladder
        epochs = max(int(config.epochs), int(best.user_attrs.get(keys.FIDELITY) or 0))  # type: ignore[arg-type]
        tested = train_and_test(task, hp.train_config(optimizer=task.optimizer, epochs=epochs, seed=seed))
        r = tested.result
        runs[seed] = {"seed": seed, "test_accuracy": tested.test_accuracy, "test_loss": tested.test_loss,
                      "val_accuracy": r.val_acc, "status": r.status, "cost": r.cost.to_dict()}
        study.set_user_attr(keys.TEST, keys.record_test(best.number, list(runs.values()), chance=task.chance))
        if i == 0:
            first = tested
            if on_first is not None:
                on_first(tested)
    return first
