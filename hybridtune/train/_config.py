"""TrainConfig: how to train once. Every phase builds one; nothing else configures training."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from .._core import ConfigError, check_choice, check_positive_int
from ..task import OPTIMIZERS
from ._schedules import schedule_info


@dataclass(frozen=True)
class TrainConfig:
    """How to train once. Every phase builds one of these; nothing else configures training.

    Args:
        optimizer: one of ``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``, ``rmsprop``,
            ``adagrad``, ``adadelta``.
        lr: the learning rate (the peak for ``onecycle``, the start for the range schedules).
        momentum: SGD momentum, or Adam's beta1; ignored by the other families.
        weight_decay: applied to parameters with >= 2 dimensions only (see :func:`param_groups`),
            or to all of them with ``decay_all=True``.
        batch_size: examples per step. The last partial batch of an epoch is dropped, so every
            step sees the same batch size and BatchNorm never sees a batch of one.
        epochs / steps: the budget; ``steps`` wins when both are given.
        schedule: ``constant``, ``onecycle`` (``OneCycleLR``), ``cyclic`` (``CyclicLR``), ``power``
            (``lr * alpha**epoch``; ``alpha > 1`` raises the LR every epoch, the procedure's step 2), ``cosine``
            (``CosineAnnealingLR``), or the range-test sweeps ``range_exp`` / ``range_linear`` from ``lr`` to
            ``lr_end``.
        cycle_momentum: (max, base) momentum for ``onecycle``, moved inversely to the LR; ``None``
            holds ``momentum`` fixed.
        target / target_metric: stop when ``train_acc`` (the running accuracy of the epoch) or
            ``val_acc`` reaches ``target``; the cost of getting there is recorded.
        diverge_factor: a loss above this many times the first loss counts as divergence
            (``None``: only non-finite losses do).
        max_seconds: a wall-clock budget (the optimizer x LR sweep's 120 s).
        seed: the one seed: model initialisation, data order and any randomness in the model.

    Example:
        >>> TrainConfig(optimizer="adam", lr=1e-3, epochs=2).schedule
        'constant'
    """

    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    decay_all: bool = False
    batch_size: int = 128
    epochs: int | None = 1
    steps: int | None = None
    schedule: str = "constant"
    # 1cycle (Smith): start at lr/div_factor, end at lr/(div_factor*final_div_factor)
    pct_start: float = 0.3
    div_factor: float = 10.0
    final_div_factor: float = 100.0
    cycle_momentum: tuple[float, float] | None = (0.95, 0.85)
    # cyclical LR (the procedure's step 5): between lr*low and lr*high, one full cycle every cyclic_epochs
    cyclic_bounds: tuple[float, float] = (0.5, 2.0)
    cyclic_epochs: float = 2.0
    # power decay (the procedure's step 4): lr * alpha**epoch; None -> (2/3)**(1/epochs); alpha > 1 raises it per epoch
    power_alpha: float | None = None
    # range-test sweeps
    lr_end: float = 10.0
    # evaluation, stopping, budget
    eval_every: int = 1
    eval_batch_size: int = 1024
    target: float | None = None
    target_metric: Literal["train_acc", "val_acc"] = "train_acc"
    stop_at_target: bool = True
    diverge_factor: float | None = 10.0
    max_seconds: float | None = None
    grad_clip: float | None = None
    seed: int = 0
    # hardware
    amp: bool = True
    compile: bool = False
    record_steps: bool = False

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        schedule = schedule_info(self.schedule)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive finite number, but got lr={self.lr}.")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), but got momentum={self.momentum}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be >= 0, but got weight_decay={self.weight_decay}.")
        check_positive_int("batch_size", self.batch_size, whole_floats=True)
        if self.steps is None and self.epochs is None:
            raise ConfigError("a budget must be given: epochs or steps, but got neither.")
        check_positive_int("steps", self.steps, optional=True, whole_floats=True)
        if self.steps is None:
            check_positive_int("epochs", self.epochs, optional=True, whole_floats=True)
        if schedule.range_sweep and not self.lr_end > self.lr:
            raise ConfigError(f"lr_end must be greater than lr for a range sweep, but got lr={self.lr}, "
                              f"lr_end={self.lr_end}.")
        if not 0 < self.pct_start < 1:
            raise ConfigError(f"pct_start must be in (0, 1), but got pct_start={self.pct_start}.")
        if self.div_factor <= 0 or self.final_div_factor <= 0:
            raise ConfigError(f"div_factor and final_div_factor must be > 0, but got "
                              f"{self.div_factor}, {self.final_div_factor}.")
        if self.cycle_momentum is not None:
            hi, lo = self.cycle_momentum
            if not 0 <= lo <= hi < 1:
                raise ConfigError(f"cycle_momentum must be (max, base) with 0 <= base <= max < 1, but got "
                                  f"{tuple(self.cycle_momentum)}.")
        lo, hi = self.cyclic_bounds
        if not 0 < lo < hi:
            raise ConfigError(f"cyclic_bounds must be (low, high) with 0 < low < high, but got {self.cyclic_bounds}.")
        if self.power_alpha is not None and not (math.isfinite(self.power_alpha) and self.power_alpha > 0):
            raise ConfigError(f"power_alpha must be a positive finite number, but got power_alpha={self.power_alpha}.")
        if self.target is not None and not 0 < self.target <= 1:
            raise ConfigError(f"target must be an accuracy in (0, 1], but got target={self.target}.")
        check_choice("target_metric", self.target_metric, ("train_acc", "val_acc"))
        if self.eval_every < 0:
            raise ConfigError(f"eval_every must be >= 0, but got eval_every={self.eval_every}.")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ConfigError(f"max_seconds must be > 0, but got max_seconds={self.max_seconds}.")
        if self.diverge_factor is not None and not self.diverge_factor > 1:
            raise ConfigError(f"diverge_factor must be > 1, but got diverge_factor={self.diverge_factor}.")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"TrainConfig fields must be among its fields, but got {sorted(unknown)}.")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
