"""Search spaces: the priors' space for the hybrid search, wide bounds for the random baseline, and the
pure grid of the grid baseline.

Batch size and learning rate are tied by one documented rule (:func:`scale_lr`): the range test measured
the LR at the probes' batch size ``B0``; a trial at batch size ``B`` trains at ``base_lr * sqrt(B / B0)``,
square-root scaling (Krizhevsky 2014; Hoffer et al. 2017; Malladi et al. 2022 for Adam), which keeps the
gradient noise of a step constant. Linear scaling (Goyal et al. 2017) is the large-batch rule; in the
small-batch, fixed-epoch runs a search compares it lowers the LR of small batches far too much: on
ResNet-8 / mnist5k with 4 epochs of 1cycle the best peak LR was 0.3 at batch 32, 64 and 128 alike, where
linear scaling would have put batch 32 at half of batch 64's. The factor is clipped to ``[1/4, 4]``: the
range test never saw LRs further out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, check_choice, check_positive_int, is_positive_int
from ..task import MOMENTUM_OPTIMIZERS, OPTIMIZERS, Task, autocast, call_model, example_batch, optimizer_info, to_device
from ..train import TrainConfig, onecycle_momentum

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..probes import Priors

_log = logging.getLogger(__name__)

#: How far the batch-size rule may move an LR (factor bounds).
LR_SCALE_CLIP = (0.25, 4.0)
#: The search's band for the 1cycle peak, as multiples of the priors' ``lr_max``: the decade from the
#: priors' suggestion up to about where the range test's loss bottomed out (see :func:`search_space`).
LR_RANGE = (1.0, 10.0)
#: Default weight-decay bounds of the search (log-uniform), with 0 as a separate option.
WEIGHT_DECAY_BOUNDS = (1e-6, 1e-2)
#: A batch size must leave at least this many steps per epoch ("never above the dataset").
MIN_STEPS_PER_EPOCH = 8
#: Given the trials' epochs, a batch size must leave each trial at least this many steps.
MIN_STEPS_PER_TRIAL = 100
#: The smallest batch size the search considers by default.
MIN_BATCH_SIZE = 32
#: The grid baseline's standard values besides each family's own LRs and momenta (its
#: :class:`~hybridtune.task.OptimizerInfo`): no priors.
GRID_WEIGHT_DECAY = (0.0, 5e-4)
GRID_BATCH_SIZE = (32, 128)


def scale_lr(lr: float, batch_size: int, ref_batch_size: int, optimizer: str) -> float:
    """The LR for ``batch_size`` given the LR found at ``ref_batch_size``: square-root scaling, the factor
    clipped to :data:`LR_SCALE_CLIP` (see the module docstring). ``optimizer`` is accepted so that a
    family-specific rule can be added without changing callers; every family scales alike today.

    Example:
        >>> scale_lr(0.1, 512, 128, "momentum"), scale_lr(1e-3, 32, 128, "adam")
        (0.2, 0.0005)
    """
    factor = math.sqrt(batch_size / ref_batch_size)
    lo, hi = LR_SCALE_CLIP
    return lr * min(max(factor, lo), hi)


def suggested_peak(lr_max: float, lr_range: Sequence[float], position: float) -> float:
    """A 1cycle peak LR the range test suggests: the point at ``position`` on the log scale of the search band
    ``lr_range`` (multiples of ``lr_max``; 0 is its floor, 1 its top). The study queues these as its first
    trials (``StudyConfig.suggestions``) and :func:`hybridtune.fit` trains at the first one.

    Example:
        >>> round(suggested_peak(0.1, (1.0, 10.0), 0.5), 4), suggested_peak(0.1, (1.0, 10.0), 0.0)
        (0.3162, 0.1)
    """
    lo, hi = lr_range
    return lr_max * lo * (hi / lo) ** position


def _pow2_between(lo: int, hi: int) -> tuple[int, ...]:
    out, b = [], 1
    while b <= hi:
        if b >= lo:
            out.append(b)
        b *= 2
    return tuple(out)


def _pow2_floor(n: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(n, 1)))))


def dataset_batch_ceiling(n_train: int) -> int:
    """The largest power of two that leaves :data:`MIN_STEPS_PER_EPOCH` steps per epoch (at least 1)."""
    return _pow2_floor(max(1, n_train // MIN_STEPS_PER_EPOCH))


def memory_batch_ceiling(task: Task, *, start: int, limit: int, margin: int = 2) -> int:
    """On CUDA: the largest power-of-two batch that fits a forward and backward pass, divided by ``margin``.

    Doubles the batch from ``start`` up to ``limit``, catching ``torch.cuda.OutOfMemoryError``; the trainer
    also holds optimizer state and the evaluation batch, hence the safety margin. On other devices
    ``limit`` is returned untouched (host memory is not the constraint there).
    """
    import torch

    device = task.torch_device
    if device.type != "cuda":
        return limit
    model = task.build_model(seed=0)
    train = task.data.train
    fits, bs = 0, max(1, start)
    while bs <= limit:
        try:
            # a real batch: token ids, several inputs and float targets all measure as they train
            x, y = example_batch(train, bs)
            with autocast(device, True):
                out = call_model(model, to_device(x, device))
                loss = task.loss(out.float(), y.to(device))
            loss.backward()
            model.zero_grad(set_to_none=True)
            fits = bs
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache()
        bs *= 2
    del model
    torch.cuda.empty_cache()
    if fits == 0:
        raise ConfigError(f"a batch must fit in GPU memory, but even batch_size={start} ran out of memory.")
    # Only an edge that was found needs the margin; a limit that fitted stays the limit.
    ceiling = fits if bs > limit else max(start, _pow2_floor(fits / margin))
    _log.info("largest batch that fits a forward/backward: %d; batch-size ceiling: %d", fits, ceiling)
    return min(ceiling, limit)


def batch_sizes(task: Task, *, ref_batch_size: int = 128, floor: int | None = None,
                ceiling: int | None = None, epochs: int | None = None, probe_memory: bool = True) -> tuple[int, ...]:
    """Powers of two between a floor and a ceiling, for ``task``.

    The floor defaults to ``max(32, B0 / 4)`` and the ceiling to ``4 * B0`` (``B0`` = the probes' batch
    size). The ceiling is never above the dataset (:func:`dataset_batch_ceiling`) nor, on CUDA, above what
    fits in memory (:func:`memory_batch_ceiling`). Given ``epochs``, it also leaves every trial at least
    :data:`MIN_STEPS_PER_TRIAL` optimizer steps (a 1cycle run of a dozen steps learns nothing worth
    comparing), unless that would go below the floor.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=4000", device="cpu")
        >>> ht.batch_sizes(task, ref_batch_size=64), ht.batch_sizes(task, ref_batch_size=64, epochs=4)
        ((32, 64, 128, 256), (32, 64))
    """
    for name, v in (("floor", floor), ("ceiling", ceiling)):
        check_positive_int(name, v, optional=True, label=f"batch-size {name}")
    if floor is not None and ceiling is not None and floor > ceiling:
        raise ConfigError(f"batch-size floor must be <= ceiling, but got floor={floor}, ceiling={ceiling}.")
    n_train = len(task.data.train)  # type: ignore[arg-type]
    hi = ceiling if ceiling is not None else 4 * ref_batch_size
    hi = min(hi, dataset_batch_ceiling(n_train))
    lo = floor if floor is not None else max(MIN_BATCH_SIZE, ref_batch_size // 4)
    lo = min(lo, hi)
    if epochs is not None:
        hi = max(lo, min(hi, _pow2_floor(epochs * n_train / MIN_STEPS_PER_TRIAL)))
    if probe_memory:
        hi = memory_batch_ceiling(task, start=lo, limit=hi)
        lo = min(lo, hi)
    sizes = _pow2_between(lo, hi) or (_pow2_floor(hi),)
    return sizes


# ----------------------------------------------------------------------------------------------
# What a trial trains with


@dataclass(frozen=True)
class Hyperparams:
    """The values one trial trains with (after the batch-size rule and the weight-decay switch).

    Example:
        >>> import hybridtune as ht
        >>> hp = ht.Hyperparams(lr=0.1, momentum=0.9, weight_decay=5e-4, batch_size=64)
        >>> hp.train_config(optimizer="momentum", epochs=3).schedule
        'onecycle'
    """

    lr: float
    momentum: float | None
    weight_decay: float
    batch_size: int

    def train_config(self, *, optimizer: str, epochs: int, seed: int = 0, **changes: Any) -> TrainConfig:
        """The 1cycle :class:`TrainConfig` of this point: the LR is the peak, momentum cycles down by the
        trainer's ``CYCLE_DEPTH`` (0.1) and back."""
        kw: dict[str, Any] = {"optimizer": optimizer, "lr": self.lr, "weight_decay": self.weight_decay,
                              "batch_size": self.batch_size, "epochs": epochs, "schedule": "onecycle",
                              "seed": seed}
        if self.momentum is not None and optimizer in MOMENTUM_OPTIMIZERS:
            kw["momentum"] = self.momentum
            kw["cycle_momentum"] = onecycle_momentum(self.momentum)
        else:
            kw["cycle_momentum"] = None
        kw.update(changes)
        return TrainConfig(**kw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_bounds(name: str, bounds: Sequence[float], *, positive: bool = True, below_one: bool = False) -> \
        tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a (low, high) pair of numbers, but got {name}={bounds!r}.") from None
    ok = math.isfinite(lo) and math.isfinite(hi) and lo <= hi and (lo > 0 if positive else lo >= 0)
    if below_one:
        ok = ok and hi < 1
    if not ok:
        rule = "0 < low <= high" if positive else "0 <= low <= high"
        if below_one:
            rule += " < 1"
        raise ConfigError(f"{name} must be (low, high) with {rule}, but got {name}={(lo, hi)}.")
    return lo, hi


@dataclass(frozen=True)
class SearchSpace:
    """The Optuna space of a random/TPE search.

    Parameters as Optuna sees them: ``base_lr`` (log-uniform; the peak LR at ``ref_batch_size``, scaled
    per trial by :func:`scale_lr`) or, without a reference batch size, ``lr`` (the LR itself);
    ``momentum`` (uniform, momentum optimizers only); ``use_weight_decay`` (``True``/``False``: 0 is an
    option) and ``weight_decay`` (log-uniform); ``batch_size`` (categorical powers of two). Every trial
    suggests every parameter, so the space is the same for all trials (importances need that).

    Example:
        >>> import optuna
        >>> space = SearchSpace(optimizer="momentum", lr=(0.01, 0.1), ref_batch_size=128,
        ...                     momentum=(0.85, 0.95), batch_sizes=(64, 128))
        >>> sorted(space.distributions())
        ['base_lr', 'batch_size', 'momentum', 'use_weight_decay', 'weight_decay']
    """

    optimizer: str
    lr: tuple[float, float]
    ref_batch_size: int | None
    momentum: tuple[float, float] | None
    batch_sizes: tuple[int, ...]
    weight_decay: tuple[float, float] = WEIGHT_DECAY_BOUNDS
    zero_weight_decay: bool = True
    source: str = "priors"

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        object.__setattr__(self, "lr", _check_bounds("lr", self.lr))
        object.__setattr__(self, "weight_decay", _check_bounds("weight_decay", self.weight_decay))
        if self.momentum is not None:
            object.__setattr__(self, "momentum", _check_bounds("momentum", self.momentum, positive=False,
                                                               below_one=True))
        if self.optimizer not in MOMENTUM_OPTIMIZERS:
            object.__setattr__(self, "momentum", None)
        sizes = tuple(self.batch_sizes)
        if not sizes or not all(is_positive_int(b) for b in sizes):
            raise ConfigError(f"batch_sizes must be positive integers, but got batch_sizes={sizes!r}.")
        object.__setattr__(self, "batch_sizes", tuple(sorted(set(sizes))))
        check_positive_int("ref_batch_size", self.ref_batch_size, optional=True)

    @property
    def lr_name(self) -> str:
        return "base_lr" if self.ref_batch_size is not None else "lr"

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The Optuna distributions, by parameter name."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        d: dict[str, Any] = {self.lr_name: FloatDistribution(*self.lr, log=True)}
        if self.momentum is not None:
            d["momentum"] = FloatDistribution(*self.momentum)
        if self.zero_weight_decay:
            d["use_weight_decay"] = CategoricalDistribution((True, False))
        d["weight_decay"] = FloatDistribution(*self.weight_decay, log=True)
        d["batch_size"] = CategoricalDistribution(self.batch_sizes)
        return d

    def suggest(self, trial: optuna.trial.Trial) -> Hyperparams:
        """Ask ``trial`` for a point and turn it into the values it trains with."""
        params: dict[str, Any] = {self.lr_name: trial.suggest_float(self.lr_name, *self.lr, log=True)}
        if self.momentum is not None:
            params["momentum"] = trial.suggest_float("momentum", *self.momentum)
        if self.zero_weight_decay:
            params["use_weight_decay"] = trial.suggest_categorical("use_weight_decay", (True, False))
        params["weight_decay"] = trial.suggest_float("weight_decay", *self.weight_decay, log=True)
        params["batch_size"] = trial.suggest_categorical("batch_size", self.batch_sizes)
        return self.hyperparams(params)

    def hyperparams(self, params: Mapping[str, Any]) -> Hyperparams:
        """The training values of an Optuna parameter dict of this space."""
        bs = int(params["batch_size"])
        lr = float(params[self.lr_name])
        if self.ref_batch_size is not None:
            lr = scale_lr(lr, bs, self.ref_batch_size, self.optimizer)
        wd = float(params["weight_decay"])
        if self.zero_weight_decay and not params.get("use_weight_decay", True):
            wd = 0.0
        m = params.get("momentum")
        return Hyperparams(lr=lr, momentum=None if m is None else float(m), weight_decay=wd, batch_size=bs)

    def params_for(self, *, lr: float, momentum: float | None, weight_decay: float, batch_size: int) -> \
            dict[str, Any]:
        """The Optuna parameters of a point, each clipped into the space (for ``study.enqueue_trial``).

        ``lr`` is given at ``ref_batch_size`` (the probes' batch size), as the range test measured it.
        """
        bs = min(self.batch_sizes, key=lambda b: (abs(math.log2(b) - math.log2(batch_size)), -b))
        lo, hi = self.lr
        params: dict[str, Any] = {self.lr_name: min(max(lr, lo), hi)}
        if self.momentum is not None:
            m = optimizer_info(self.optimizer).default_momentum if momentum is None else momentum
            params["momentum"] = min(max(m, self.momentum[0]), self.momentum[1])
        wlo, whi = self.weight_decay
        if self.zero_weight_decay:
            params["use_weight_decay"] = weight_decay > 0
        params["weight_decay"] = min(max(weight_decay, wlo), whi) if weight_decay > 0 else wlo
        params["batch_size"] = bs
        return params

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lr_rule"] = self.lr_rule
        return d

    @property
    def lr_rule(self) -> str:
        if self.ref_batch_size is None:
            return "none: lr is sampled directly"
        lo, hi = LR_SCALE_CLIP
        return f"lr = base_lr * sqrt(batch_size / {self.ref_batch_size}), factor clipped to [{lo:g}, {hi:g}]"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        return cls(optimizer=d["optimizer"], lr=tuple(d["lr"]), ref_batch_size=d["ref_batch_size"],  # type: ignore[arg-type]
                   momentum=tuple(d["momentum"]) if d.get("momentum") is not None else None,  # type: ignore[arg-type]
                   batch_sizes=tuple(int(b) for b in d["batch_sizes"]),
                   weight_decay=tuple(d["weight_decay"]), zero_weight_decay=bool(d["zero_weight_decay"]),  # type: ignore[arg-type]
                   source=str(d.get("source", "priors")))


def search_space(priors: Priors, sizes: Sequence[int], *, lr_range: tuple[float, float] = LR_RANGE,
                 weight_decay: tuple[float, float] = WEIGHT_DECAY_BOUNDS) -> SearchSpace:
    """The hybrid search's space, derived from the range-test priors.

    The 1cycle peak (``base_lr``, at the probes' batch size ``B0``) is searched log-uniformly in
    ``lr_range`` times the priors' ``lr_max``: by default ``[lr_max, 10 * lr_max]``. The priors' band
    ``[lr_min, lr_max]`` describes one 1cycle: it starts at ``lr_min = lr_max / 10`` and peaks at
    ``lr_max`` (every trial's 1cycle starts at its own peak / 10). The priors put ``lr_max`` about a decade
    below the LR where the range test's smoothed loss bottomed out (half a decade, plus the sweep's
    overshoot), a choice made for constant-LR training; 1cycle's warm-up lets its peak go up to about that
    minimum (Smith's super-convergence). On ResNet-8 / mnist5k the priors said 0.053 at batch 64, the loss
    bottomed out at 0.42, and the best 4-epoch 1cycle peak was 0.3. ``lr_range=(0.1, 1)`` searches the
    priors' band itself. Momentum (or Adam's beta1) is searched inside the priors' momentum band.

    Args:
        priors: the probes' result: ``lr_max`` at ``priors.batch_size`` and the momentum band.
        sizes: the batch sizes (see :func:`batch_sizes`).
        lr_range: ``(low, high)`` multiples of ``lr_max`` for the peak's search band.
        weight_decay: log-uniform bounds; 0 is always an option.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", device="cpu")
        >>> priors = ht.find_priors(task, batch_size=32, momentum_epochs=1)  # doctest: +SKIP
        >>> ht.search_space(priors, ht.batch_sizes(task, ref_batch_size=32)).lr_name  # doctest: +SKIP
        'base_lr'
    """
    try:
        lo, hi = (float(v) for v in lr_range)
    except (TypeError, ValueError):
        raise ConfigError(f"lr_range must be a (low, high) pair of multiples of lr_max, but got "
                          f"lr_range={lr_range!r}.") from None
    if not (0 < lo <= hi < math.inf):
        raise ConfigError(f"lr_range must be (low, high) multiples of lr_max with 0 < low <= high, but got "
                          f"lr_range={(lo, hi)}.")
    band = priors.momentum_band
    if band is None and priors.momentum is not None:
        band = (priors.momentum, priors.momentum)
    return SearchSpace(optimizer=priors.optimizer, lr=(priors.lr_max * lo, priors.lr_max * hi),
                       ref_batch_size=priors.batch_size, momentum=band, batch_sizes=tuple(sizes),
                       weight_decay=weight_decay, source="priors")


def wide_space(optimizer: str, sizes: Sequence[int], *,
               weight_decay: tuple[float, float] = WEIGHT_DECAY_BOUNDS) -> SearchSpace:
    """The random baseline's space: wide textbook bounds, no priors, the LR sampled directly.

    Example:
        >>> wide_space("adam", (32, 64)).lr
        (1e-05, 0.1)
    """
    info = optimizer_info(optimizer)
    return SearchSpace(optimizer=optimizer, lr=info.wide_lr, ref_batch_size=None, momentum=info.wide_momentum,
                       batch_sizes=tuple(sizes), weight_decay=weight_decay, source="wide defaults")


# ----------------------------------------------------------------------------------------------
# The grid baseline


@dataclass(frozen=True)
class GridSpace:
    """A pure grid: every combination of the listed values is one cell, run once, to full epochs.

    Example:
        >>> g = GridSpace(optimizer="momentum", lr=(0.01, 0.1), momentum=(0.9,), weight_decay=(0.0, 5e-4),
        ...               batch_size=(64,))
        >>> g.cells
        4
    """

    optimizer: str
    lr: tuple[float, ...]
    momentum: tuple[float, ...] | None
    weight_decay: tuple[float, ...]
    batch_size: tuple[int, ...]

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.optimizer not in MOMENTUM_OPTIMIZERS:
            object.__setattr__(self, "momentum", None)

        def values(name: str, vals: Any, ok: Any, rule: str, cast: Any) -> tuple[Any, ...]:
            try:
                out = tuple(cast(v) for v in vals)
                if any(isinstance(v, bool) for v in vals):
                    raise TypeError
            except (TypeError, ValueError):
                raise ConfigError(f"grid {name} must be a list of {rule}, but got {name}={vals!r}.") from None
            if not out or not all(ok(v) for v in out) or len(set(out)) != len(out):
                raise ConfigError(f"grid {name} must be a non-empty list of distinct {rule}, but got "
                                  f"{name}={list(vals)!r}.")
            return out

        def is_int(v: Any) -> int:
            if int(v) != v:
                raise ValueError
            return int(v)

        object.__setattr__(self, "lr", values("lr", self.lr, lambda v: math.isfinite(v) and v > 0,
                                              "positive numbers", float))
        if self.momentum is not None:
            object.__setattr__(self, "momentum", values("momentum", self.momentum, lambda v: 0 <= v < 1,
                                                        "numbers in [0, 1)", float))
        object.__setattr__(self, "weight_decay", values("weight_decay", self.weight_decay,
                                                        lambda v: math.isfinite(v) and v >= 0,
                                                        "numbers >= 0", float))
        object.__setattr__(self, "batch_size", values("batch_size", self.batch_size, lambda v: v >= 1,
                                                      "positive integers", is_int))

    @property
    def cells(self) -> int:
        return math.prod(len(v) for v in self.search_space().values())

    def search_space(self) -> dict[str, list[Any]]:
        """The ``GridSampler`` search space."""
        d: dict[str, list[Any]] = {"lr": list(self.lr)}
        if self.momentum is not None:
            d["momentum"] = list(self.momentum)
        d["weight_decay"] = list(self.weight_decay)
        d["batch_size"] = list(self.batch_size)
        return d

    def cell_list(self, seed: int) -> list[dict[str, Any]]:
        """Every cell of the grid, in an order shuffled by ``seed`` (so that a partial grid is a fair sample).

        Example:
            >>> g = GridSpace(optimizer="sgd", lr=(0.1, 0.3), momentum=None, weight_decay=(0.0,), batch_size=(32,))
            >>> sorted(c["lr"] for c in g.cell_list(seed=0))
            [0.1, 0.3]
        """
        return shuffled_cells(self.search_space(), seed)

    def suggest(self, trial: optuna.trial.Trial) -> Hyperparams:
        params = {name: trial.suggest_categorical(name, values)  # type: ignore[arg-type]
                  for name, values in self.search_space().items()}
        return self.hyperparams(params)

    def hyperparams(self, params: Mapping[str, Any]) -> Hyperparams:
        m = params.get("momentum")
        return Hyperparams(lr=float(params["lr"]), momentum=None if m is None else float(m),
                           weight_decay=float(params["weight_decay"]), batch_size=int(params["batch_size"]))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cells": self.cells}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GridSpace:
        return cls(optimizer=d["optimizer"], lr=tuple(d["lr"]),
                   momentum=tuple(d["momentum"]) if d.get("momentum") is not None else None,
                   weight_decay=tuple(d["weight_decay"]), batch_size=tuple(d["batch_size"]))


def grid_space(task: Task, *, optimizer: str | None = None, quick: bool = False,
               overrides: Mapping[str, Sequence[float]] | None = None) -> GridSpace:
    """The grid baseline's space: standard values, no priors.

    LR: four half-decade steps around the family's textbook default, and momentum, from the family's
    :class:`~hybridtune.task.OptimizerInfo` (``grid_lr``, ``grid_momentum``); weight decay
    :data:`GRID_WEIGHT_DECAY`; batch size :data:`GRID_BATCH_SIZE`,
    halved until each leaves :data:`MIN_STEPS_PER_EPOCH` steps per epoch. ``quick`` keeps two LRs, one
    momentum and one weight decay. ``overrides`` replaces any axis (keys ``lr``, ``momentum``,
    ``weight_decay``, ``batch_size``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=3000", device="cpu")
        >>> ht.grid_space(task).cells
        32
    """
    opt = optimizer or task.optimizer
    info = optimizer_info(opt)
    cap = dataset_batch_ceiling(len(task.data.train))  # type: ignore[arg-type]
    sizes = []
    for b in GRID_BATCH_SIZE:
        while b > cap and b > 1:
            b //= 2
        if b not in sizes:
            sizes.append(b)
    # a family without a momentum keeps an empty axis (an override may name it); GridSpace drops it
    momenta = info.grid_momentum or ()
    axes: dict[str, Any] = {"lr": info.grid_lr, "momentum": momenta, "weight_decay": GRID_WEIGHT_DECAY,
                            "batch_size": tuple(sizes)}
    if quick:
        lrs = info.grid_lr
        axes.update(lr=(lrs[1], lrs[3]), momentum=momenta[:1], weight_decay=GRID_WEIGHT_DECAY[-1:])
    for key, vals in (overrides or {}).items():
        if key not in axes:
            raise ConfigError(f"grid keys must be among {sorted(axes)}, but got {key!r}.")
        axes[key] = tuple(vals) if isinstance(vals, (list, tuple)) else (vals,)
    return GridSpace(optimizer=opt, **axes)


def shuffled_cells(axes: dict[str, list[Any]], seed: int) -> list[dict[str, Any]]:
    """The product of ``axes`` as one dict per cell, shuffled by ``seed``: the one way a grid is enumerated
    (the study's grid baseline and the sweep's optimizer x LR grid)."""
    import itertools
    import random

    cells = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    random.Random(seed).shuffle(cells)
    return cells
