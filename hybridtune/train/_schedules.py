"""The per-step LR schedules of :class:`TrainConfig`, PyTorch's own wherever one exists."""

from __future__ import annotations

import math

import torch
from torch.optim import lr_scheduler

from ..task import optimizer_info
from ._config import TrainConfig

#: 1cycle moves momentum (or Adam's beta1) down by this much while the LR rises, and back (Smith's
#: 0.95 -> 0.85): the probes' momentum runs and the search's trials cycle it alike.
CYCLE_DEPTH = 0.1


def onecycle_momentum(momentum: float) -> tuple[float, float]:
    """The ``(max, base)`` momentum of a 1cycle run that starts and ends at ``momentum``.

    Example:
        >>> onecycle_momentum(0.95)
        (0.95, 0.85)
    """
    return momentum, max(momentum - CYCLE_DEPTH, 0.0)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, *, total_steps: int,
                   steps_per_epoch: int) -> lr_scheduler.LRScheduler | None:
    """The per-step LR scheduler for ``config.schedule`` (PyTorch's own wherever one exists)."""
    s = config.schedule
    if s == "constant":
        return None
    if s == "onecycle":
        cycle = config.cycle_momentum is not None and optimizer_info(config.optimizer).cycled is not None
        hi, lo = config.cycle_momentum or (config.momentum, config.momentum)
        return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps,
                                       pct_start=config.pct_start, div_factor=config.div_factor,
                                       final_div_factor=config.final_div_factor, cycle_momentum=cycle,
                                       base_momentum=lo, max_momentum=hi)
    if s == "cyclic":
        lo, hi = config.cyclic_bounds
        up = max(1, round(config.cyclic_epochs * steps_per_epoch / 2))
        return lr_scheduler.CyclicLR(optimizer, base_lr=config.lr * lo, max_lr=config.lr * hi,
                                     step_size_up=up, cycle_momentum=False)
    if s == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if s == "power":
        epochs = max(1, math.ceil(total_steps / steps_per_epoch))
        alpha = config.power_alpha if config.power_alpha is not None else (2 / 3) ** (1 / epochs)
        return lr_scheduler.LambdaLR(optimizer, lambda step: alpha ** (step // steps_per_epoch))
    # range sweeps: step i of n uses lr * ratio**(i/(n-1)) (exp) or a straight line; both hit the ends
    ratio = config.lr_end / config.lr
    last = max(1, total_steps - 1)
    if s == "range_exp":
        return lr_scheduler.LambdaLR(optimizer, lambda step: ratio ** (min(step, last) / last))
    return lr_scheduler.LambdaLR(optimizer, lambda step: 1 + (ratio - 1) * min(step, last) / last)
