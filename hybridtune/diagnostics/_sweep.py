"""The optimizer x learning-rate sweep: the "valley" of good learning rates.

Every run starts from the same initial weights and trains with a constant LR until a target train
accuracy, or until its epoch or time budget runs out; the seconds and examples it took are recorded.
The sweep is an Optuna study whose cells are queued once and taken from the queue by the study's own grid
runner (``run_grid``, as for the grid baseline), so it resumes and can be spread over workers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._core import ConfigError, Progress, check_choice, finite_json
from ..probes import lr_range_test
from ..task import OPTIMIZER_REGISTRY, OPTIMIZERS, Task
from ..train import Cost, TrainConfig, train

_log = logging.getLogger(__name__)

#: The sweep's default families, in the order of their records' ``sweep_rank``: the article's six.
SWEEP_OPTIMIZERS = tuple(info.name for info in sorted((i for i in OPTIMIZER_REGISTRY.values()
                                                       if i.sweep_rank is not None), key=lambda i: i.sweep_rank))


def log_lrs(low: float = 1e-6, high: float = 100.0, n: int = 48) -> tuple[float, ...]:
    """``n`` log-spaced learning rates from ``low`` to ``high`` (the sweep's default: 48 from 1e-6 to 100)."""
    if not (0 < low < high) or not math.isfinite(high):
        raise ConfigError(f"LR range must satisfy 0 < low < high, but got low={low}, high={high}.")
    if n < 2:
        raise ConfigError(f"the number of LRs must be >= 2, but got {n}.")
    return tuple(float(f"{v:.6g}") for v in np.logspace(math.log10(low), math.log10(high), n))


@dataclass(frozen=True)
class SweepRun:
    """One cell of the sweep.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.sweep(task, optimizers=["adam"], lrs=[1e-3, 1e-2], target=0.6, max_epochs=3, range_test=False)
        >>> len(r.runs), r.band("adam").n_runs
        (2, 2)
    """

    optimizer: str
    lr: float
    width: float
    status: str
    success: bool
    seconds_to_target: float | None
    examples_to_target: int | None
    epochs_to_target: int | None
    seconds: float
    examples: int
    final_train_acc: float | None


@dataclass(frozen=True)
class OptimizerBand:
    """The successful band of one optimizer, its fastest LR and where the range test fell.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.sweep(task, optimizers=["adam"], lrs=[1e-3, 1e-2], target=0.6, max_epochs=3, range_test=False)
        >>> len(r.runs), r.band("adam").n_runs
        (2, 2)
    """

    optimizer: str
    lr_low: float | None
    lr_high: float | None
    n_success: int
    n_runs: int
    fastest_lr: float | None
    fastest_seconds: float | None
    fastest_examples: int | None
    range_test_lr: float | None = None
    range_test_inside: bool | None = None

    def contains(self, lr: float) -> bool:
        return self.lr_low is not None and self.lr_high is not None and self.lr_low <= lr <= self.lr_high


@dataclass(frozen=True)
class SweepResult:
    """Runs, per-optimizer bands, the fastest configuration and the width runs (the size plot).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.sweep(task, optimizers=["adam"], lrs=[1e-3, 1e-2], target=0.6, max_epochs=3, range_test=False)
        >>> len(r.runs), r.band("adam").n_runs
        (2, 2)
    """

    runs: tuple[SweepRun, ...]
    bands: tuple[OptimizerBand, ...]
    target: float
    ceiling_seconds: float
    cost: Cost
    width_runs: tuple[SweepRun, ...] = ()
    study_name: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def fastest(self) -> SweepRun | None:
        ok = [r for r in self.runs if r.success]
        return min(ok, key=lambda r: (r.examples_to_target, r.seconds_to_target)) if ok else None

    def band(self, optimizer: str) -> OptimizerBand:
        for b in self.bands:
            if b.optimizer == optimizer:
                return b
        raise ConfigError(f"optimizer must be one of the sweep's {[b.optimizer for b in self.bands]}, "
                          f"but got {optimizer!r}.")

    def to_dict(self) -> dict[str, Any]:
        fastest = self.fastest
        return finite_json({"target": self.target, "ceiling_seconds": self.ceiling_seconds,
                        "study_name": self.study_name, "settings": dict(self.settings),
                        "bands": [asdict(b) for b in self.bands],
                        "fastest": asdict(fastest) if fastest else None,
                        "runs": [asdict(r) for r in self.runs],
                        "width_runs": [asdict(r) for r in self.width_runs],
                        "cost": self.cost.to_dict()})

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.runs + self.width_runs])


def successful_band(lrs: Sequence[float], success: Sequence[bool]) -> tuple[float, float] | None:
    """The valley: the longest run of consecutive successful LRs (in LR order), as ``(low, high)``.

    Isolated lucky successes outside the main run do not widen the band. Ties go to the lower run.

    Example:
        >>> successful_band([1e-3, 1e-2, 1e-1, 1, 10], [False, True, True, False, True])
        (0.01, 0.1)
    """
    if len(lrs) != len(success):
        raise ConfigError(f"lrs and success must have the same length, but got {len(lrs)} and {len(success)}.")
    order = np.argsort(np.asarray(lrs, dtype=float))
    xs = [float(lrs[i]) for i in order]
    ok = [bool(success[i]) for i in order]
    best: tuple[int, int] | None = None
    start = None
    for i, s in enumerate(ok + [False]):
        if s and start is None:
            start = i
        elif not s and start is not None:
            if best is None or (i - start) > (best[1] - best[0] + 1):
                best = (start, i - 1)
            start = None
    if best is None:
        return None
    return xs[best[0]], xs[best[1]]


def _bands(runs: Sequence[SweepRun], optimizers: Sequence[str]) -> list[OptimizerBand]:
    bands = []
    for opt in optimizers:
        mine = [r for r in runs if r.optimizer == opt]
        band = successful_band([r.lr for r in mine], [r.success for r in mine])
        ok = [r for r in mine if r.success]
        fast = min(ok, key=lambda r: (r.examples_to_target, r.seconds_to_target)) if ok else None
        bands.append(OptimizerBand(
            optimizer=opt, lr_low=band[0] if band else None, lr_high=band[1] if band else None,
            n_success=len(ok), n_runs=len(mine), fastest_lr=fast.lr if fast else None,
            fastest_seconds=fast.seconds_to_target if fast else None,
            fastest_examples=fast.examples_to_target if fast else None))
    return bands


def _run_cell(task: Task, base: TrainConfig, optimizer: str, lr: float, width: float, seed: int) -> SweepRun:
    cfg = base.replace(optimizer=optimizer, lr=lr, seed=seed)
    t = task.replace(optimizer=optimizer)
    # the same initial weights for every run, as the sweep's article has it: one seed for every cell
    model = t.build_model(seed=seed, width=width if width != 1 else None)
    r = train(t, cfg, model=model)
    hit = r.target
    return SweepRun(optimizer=optimizer, lr=lr, width=width, status=r.status, success=hit is not None,
                    seconds_to_target=hit.seconds if hit else None,
                    examples_to_target=hit.examples if hit else None, epochs_to_target=hit.epoch if hit else None,
                    seconds=r.cost.seconds, examples=r.cost.examples,
                    final_train_acc=r.epochs[-1].train_acc if r.epochs else None)


def _with_range_tests(task: Task, bands: Sequence[OptimizerBand], *, batch_size: int, momentum: float, seed: int,
                      progress: Progress | None) -> tuple[list[OptimizerBand], Cost]:
    """Each band with its optimizer's range test: its ``lr_max`` and whether that falls inside the band."""
    checked = []
    cost = Cost()
    for i, b in enumerate(bands):
        if progress:
            progress("range tests", i, len(bands))
        rt = lr_range_test(task.replace(optimizer=b.optimizer), optimizer=b.optimizer,
                           batch_size=batch_size, momentum=momentum, seed=seed)
        cost = cost + rt.cost
        # no band: the curve could not support a suggestion (rt.suggestion_error says why)
        lr_max = rt.lr_max
        checked.append(OptimizerBand(**{**asdict(b), "range_test_lr": lr_max,
                                        "range_test_inside": None if lr_max is None else b.contains(lr_max)}))
    if progress:
        progress("range tests", len(bands), len(bands))
    return checked, cost


def _width_runs(task: Task, base: TrainConfig, bands: Sequence[OptimizerBand], widths: Sequence[float], *,
                name: str, storage: Any, seed: int, progress: Progress | None) -> tuple[SweepRun, ...]:
    """Each optimizer's fastest LR re-run at each model width (the size plot); ``()`` without widths
    or without a successful optimizer."""
    fast = {b.optimizer: b.fastest_lr for b in bands if b.fastest_lr is not None}
    if not widths or not fast:
        return ()
    opts = list(fast)

    def width_objective(trial: Any) -> float:
        opt = trial.suggest_categorical("optimizer", opts)
        width = trial.suggest_categorical("width", [float(w) for w in widths])
        run = _run_cell(task, base, opt, fast[opt], width, seed)
        for k, v in _run_to_attrs(run).items():
            trial.set_user_attr(k, v)
        return run.seconds_to_target if run.success else float(base.max_seconds or 1e9)

    wtrials = _grid_study(name, storage, {"optimizer": opts, "width": [float(w) for w in widths]},
                          width_objective, progress, "widths")
    return tuple(sorted((SweepRun(**{k: t.user_attrs[k] for k in SweepRun.__dataclass_fields__})
                         for t in wtrials), key=lambda r: (opts.index(r.optimizer), r.width)))


def _run_to_attrs(run: SweepRun) -> dict[str, Any]:
    return finite_json(asdict(run))


def _grid_study(name: str, storage: Any, space: dict[str, list[Any]], objective: Callable[[Any], float],
                progress: Progress | None, phase: str) -> list[Any]:
    """Every cell of ``space`` once, through the study's grid runner: a re-run runs only the missing cells."""
    import optuna

    from ..space import shuffled_cells
    from ..study import run_grid

    # the sampler is never asked (every cell is queued with its values); seeded for reproducibility anyway
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize", load_if_exists=True,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    run_grid(study, shuffled_cells(space, seed=0), objective, progress=progress, phase=phase)
    return [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]


def sweep(task: Task, *, optimizers: Sequence[str] = SWEEP_OPTIMIZERS, lrs: Sequence[float] | None = None,
          target: float = 0.97, max_epochs: int = 20, max_seconds: float | None = 120.0, batch_size: int = 64,
          momentum: float = 0.9, widths: Sequence[float] = (), range_test: bool = True,
          storage: Any = None, name: str | None = None, seed: int = 0,
          progress: Progress | None = None) -> SweepResult:
    """Run the optimizer x LR sweep: ``optimizers`` x ``lrs``, each to ``target`` train accuracy.

    Args:
        task: the model and data (``task.optimizer`` is ignored; every optimizer in ``optimizers`` runs).
        optimizers: optimizer families (default: the six of the sweep's article).
        lrs: learning rates (default: 48 log-spaced from 1e-6 to 100).
        target: the train accuracy that counts as success (default 0.97).
        max_epochs / max_seconds: a run that has not reached the target by then failed.
        widths: model widths for the size plot; each optimizer's fastest LR is re-run at each width.
        range_test: also run each optimizer's LR range test and say whether its ``lr_max`` falls inside
            the sweep's successful band, which tells whether to trust the range test on this model.
        storage: an Optuna storage URL (resumable, shareable by workers) or ``None`` for in-memory.
        name: the study name (default ``sweep-<model>-<data>``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.sweep(task, optimizers=["adam"], lrs=[1e-4, 1e-2], target=0.6, max_epochs=3,
        ...              range_test=False)
        >>> [b.optimizer for b in r.bands]
        ['adam']
    """
    optimizers = [check_choice("optimizer", o, OPTIMIZERS) for o in optimizers]
    if not optimizers:
        raise ConfigError("optimizers must name at least one optimizer, but got none.")
    if len(set(optimizers)) != len(optimizers):
        raise ConfigError(f"optimizers must be distinct, but got {list(optimizers)}.")
    lrs = tuple(float(v) for v in (lrs if lrs is not None else log_lrs()))
    if not lrs or any(not (math.isfinite(v) and v > 0) for v in lrs):
        raise ConfigError(f"lrs must be positive finite numbers, but got {list(lrs)}.")
    if any(not w > 0 for w in widths):
        raise ConfigError(f"widths must be > 0, but got {list(widths)}.")
    base = TrainConfig(optimizer=optimizers[0], lr=lrs[0], momentum=momentum, batch_size=batch_size,
                       epochs=max_epochs, schedule="constant", eval_every=0, target=target,
                       target_metric="train_acc", max_seconds=max_seconds, seed=seed)
    name = name or f"sweep-{task.model_name}-{task.data.name}".replace("/", "_")
    runs_by_key: dict[tuple[str, float], SweepRun] = {}

    def objective(trial: Any) -> float:
        opt = trial.suggest_categorical("optimizer", list(optimizers))
        lr = trial.suggest_categorical("lr", list(lrs))
        run = _run_cell(task, base, opt, lr, 1.0, seed)
        for k, v in _run_to_attrs(run).items():
            trial.set_user_attr(k, v)
        return run.seconds_to_target if run.success else float(base.max_seconds or 1e9)

    trials = _grid_study(name, storage, {"optimizer": list(optimizers), "lr": list(lrs)}, objective,
                         progress, "sweep")
    for t in trials:
        run = SweepRun(**{k: t.user_attrs[k] for k in SweepRun.__dataclass_fields__})
        runs_by_key[(run.optimizer, run.lr)] = run
    runs = tuple(sorted(runs_by_key.values(), key=lambda r: (optimizers.index(r.optimizer), r.lr)))
    bands = _bands(runs, optimizers)
    cost = Cost(examples=sum(r.examples for r in runs), steps=0, seconds=sum(r.seconds for r in runs))

    if range_test:
        bands, rt_cost = _with_range_tests(task, bands, batch_size=batch_size, momentum=momentum, seed=seed,
                                           progress=progress)
        cost = cost + rt_cost

    width_runs = _width_runs(task, base, bands, widths, name=f"{name}-widths", storage=storage, seed=seed,
                             progress=progress)
    if width_runs:
        cost = cost + Cost(examples=sum(r.examples for r in width_runs), seconds=sum(r.seconds for r in width_runs))

    ceiling = float(max_seconds) if max_seconds is not None else max((r.seconds for r in runs), default=1.0)
    settings = {"model": task.model_name, "dataset": task.data.name, "optimizers": list(optimizers),
                "lrs": list(lrs), "max_epochs": max_epochs, "max_seconds": max_seconds, "batch_size": batch_size,
                "momentum": momentum, "widths": list(widths), "seed": seed}
    return SweepResult(runs=runs, bands=tuple(bands), target=target, ceiling_seconds=ceiling, cost=cost,
                       width_runs=width_runs, study_name=name, settings=settings)
