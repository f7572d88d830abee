"""The per-step LR schedules of :class:`TrainConfig`: one frozen record per schedule and the registry of them,
each built from PyTorch's own scheduler wherever one exists."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch.optim import lr_scheduler

from .._core import Registry
from ..task import optimizer_info

#: 1cycle moves momentum (or Adam's beta1) down by this much while the LR rises, and back (Smith's
#: 0.95 -> 0.85): the probes' momentum runs and the search's trials cycle it alike.
CYCLE_DEPTH = 0.1


class ScheduleSettings(Protocol):
    """What a schedule reads of a :class:`TrainConfig` (a protocol: TrainConfig checks its ``schedule`` against
    this module's registry, so this module cannot import it back without a cycle)."""

    @property
    def schedule(self) -> str: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def lr(self) -> float: ...
    @property
    def momentum(self) -> float: ...
    @property
    def pct_start(self) -> float: ...
    @property
    def div_factor(self) -> float: ...
    @property
    def final_div_factor(self) -> float: ...
    @property
    def cycle_momentum(self) -> tuple[float, float] | None: ...
    @property
    def cyclic_bounds(self) -> tuple[float, float]: ...
    @property
    def cyclic_epochs(self) -> float: ...
    @property
    def power_alpha(self) -> float | None: ...
    @property
    def lr_end(self) -> float: ...


#: ``(optimizer, config, total_steps, steps_per_epoch) -> scheduler`` (``None``: the LR stays at ``config.lr``);
#: the trainer steps the scheduler once after every optimizer step.
SchedulerFactory = Callable[[torch.optim.Optimizer, ScheduleSettings, int, int], lr_scheduler.LRScheduler | None]


@dataclass(frozen=True)
class ScheduleInfo:
    """What one LR schedule is.

    Args:
        name: the schedule's name, as :class:`~hybridtune.TrainConfig` takes it.
        description: one line for help texts and listings.
        build: ``(optimizer, config, total_steps, steps_per_epoch)`` -> the per-step PyTorch scheduler, or
            ``None`` for a constant LR.
        range_sweep: the range test's sweep from ``lr`` to ``lr_end`` (it needs ``lr_end > lr``; the CLI does
            not offer it for training).

    Example:
        >>> from hybridtune.train import schedule_info
        >>> info = schedule_info("onecycle")
        >>> info.description, info.range_sweep
        ('OneCycleLR: up to the peak LR and back down, momentum cycled against it', False)
    """

    name: str
    description: str
    build: SchedulerFactory
    range_sweep: bool = False

    def create(self, optimizer: torch.optim.Optimizer, config: ScheduleSettings, *, total_steps: int,
               steps_per_epoch: int) -> lr_scheduler.LRScheduler | None:
        """The scheduler of a run of ``total_steps`` optimizer steps (``None``: the LR stays at ``config.lr``).

        Example:
            >>> import torch
            >>> from hybridtune.train import TrainConfig, schedule_info
            >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
            >>> sched = schedule_info("cosine").create(opt, TrainConfig(lr=0.1), total_steps=10, steps_per_epoch=5)
            >>> type(sched).__name__
            'CosineAnnealingLR'
        """
        return self.build(optimizer, config, total_steps, steps_per_epoch)


def onecycle_momentum(momentum: float) -> tuple[float, float]:
    """The ``(max, base)`` momentum of a 1cycle run that starts and ends at ``momentum``.

    Example:
        >>> onecycle_momentum(0.95)
        (0.95, 0.85)
    """
    return momentum, max(momentum - CYCLE_DEPTH, 0.0)


def _constant(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
              steps_per_epoch: int) -> None:
    return None


def _onecycle(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
              steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    cycle = config.cycle_momentum is not None and optimizer_info(config.optimizer).cycled is not None
    hi, lo = config.cycle_momentum or (config.momentum, config.momentum)
    return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps,
                                   pct_start=config.pct_start, div_factor=config.div_factor,
                                   final_div_factor=config.final_div_factor, cycle_momentum=cycle,
                                   base_momentum=lo, max_momentum=hi)


def _cyclic(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
            steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    lo, hi = config.cyclic_bounds
    up = max(1, round(config.cyclic_epochs * steps_per_epoch / 2))
    return lr_scheduler.CyclicLR(optimizer, base_lr=config.lr * lo, max_lr=config.lr * hi,
                                 step_size_up=up, cycle_momentum=False)


def _cosine(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
            steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


def _power(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
           steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    epochs = max(1, math.ceil(total_steps / steps_per_epoch))
    alpha = config.power_alpha if config.power_alpha is not None else (2 / 3) ** (1 / epochs)
    return lr_scheduler.LambdaLR(optimizer, lambda step: alpha ** (step // steps_per_epoch))


# range sweeps: step i of n uses lr * ratio**(i/(n-1)) (exp) or a straight line; both hit the ends
def _range_exp(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
               steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    ratio, last = config.lr_end / config.lr, max(1, total_steps - 1)
    return lr_scheduler.LambdaLR(optimizer, lambda step: ratio ** (min(step, last) / last))


def _range_linear(optimizer: torch.optim.Optimizer, config: ScheduleSettings, total_steps: int,
                  steps_per_epoch: int) -> lr_scheduler.LRScheduler:
    ratio, last = config.lr_end / config.lr, max(1, total_steps - 1)
    return lr_scheduler.LambdaLR(optimizer, lambda step: 1 + (ratio - 1) * min(step, last) / last)


#: Every LR schedule by name, in the order :data:`SCHEDULES` lists them.
SCHEDULE_REGISTRY: Registry[ScheduleInfo] = Registry("schedule", ordered=True, records=(
    ScheduleInfo("constant", "the LR held fixed", _constant),
    ScheduleInfo("onecycle", "OneCycleLR: up to the peak LR and back down, momentum cycled against it", _onecycle),
    ScheduleInfo("cyclic", "CyclicLR: up and down around the LR", _cyclic),
    ScheduleInfo("power", "the LR times alpha every epoch", _power),
    ScheduleInfo("cosine", "CosineAnnealingLR: down from the LR", _cosine),
    ScheduleInfo("range_exp", "the range test's log-spaced sweep from lr to lr_end", _range_exp, range_sweep=True),
    ScheduleInfo("range_linear", "the range test's linear sweep from lr to lr_end", _range_linear,
                 range_sweep=True),
))
#: The LR schedules of :class:`TrainConfig`.
SCHEDULES = tuple(SCHEDULE_REGISTRY)


def schedule_info(name: str) -> ScheduleInfo:
    """The record of an LR schedule; an unknown name raises an error that lists the valid ones.

    Example:
        >>> schedule_info("range_exp").range_sweep, schedule_info("cosine").range_sweep
        (True, False)
    """
    return SCHEDULE_REGISTRY.get(name)


def make_scheduler(optimizer: torch.optim.Optimizer, config: ScheduleSettings, *, total_steps: int,
                   steps_per_epoch: int) -> lr_scheduler.LRScheduler | None:
    """The per-step LR scheduler of ``config.schedule`` (PyTorch's own wherever one exists)."""
    return schedule_info(config.schedule).create(optimizer, config, total_steps=total_steps,
                                                 steps_per_epoch=steps_per_epoch)
