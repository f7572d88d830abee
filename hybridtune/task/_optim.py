"""One frozen record per optimizer family, and the one registry of them (timm's ``OptimInfo``), a
:class:`~hybridtune._core.Registry` like every pluggable family's.

Everything the package knows about a family lives in its :class:`OptimizerInfo`: the PyTorch class and
how it is built, whether it has a momentum (SGD) or betas (Adam) and so which value the probes and 1cycle
move, the textbook grid of the grid baseline, the wide bounds of the random baseline, and the untuned LRs
the diagnostics fall back on. The trainer, the search space and the diagnostics read these records; none
of them keeps a table of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from .._core import Registry

#: The momentum (or Adam's beta1) a family with one trains at when nothing was measured.
DEFAULT_MOMENTUM = 0.9
#: The grid baseline's momentum axis, for every family with a momentum or a beta1.
GRID_MOMENTUM = (0.9, 0.95)
#: The random baseline's momentum bounds, for every family with a momentum or a beta1.
WIDE_MOMENTUM = (0.8, 0.99)


@dataclass(frozen=True)
class OptimizerInfo:
    """What one optimizer family is.

    Args:
        name: the family's name, as :class:`~hybridtune.Task` and :class:`~hybridtune.TrainConfig` take it.
        cls: the PyTorch optimizer class.
        description: one line for listings.
        has_momentum: SGD's ``momentum`` is the value the probes try and 1cycle cycles.
        has_betas: Adam's ``betas``; beta1 is the value the probes try and 1cycle cycles.
        kwargs: fixed constructor arguments (``nesterov=True``, plain SGD's ``momentum=0``).
        beta2: Adam's second beta, held fixed.
        default_lr: a constant LR that trains without tuning (the procedure's fallback when a range test
            gives no band).
        peak_lr: a 1cycle peak that trains without tuning (the red flags' own training run).
        ramp_lr: where the procedure's LR ramp starts (it rises by a constant factor every epoch).
        grid_lr: the grid baseline's LRs: half-decade steps around the textbook default.
        wide_lr: the random baseline's prior-free ``(low, high)`` LR bounds.
        sweep_rank: its place among the optimizer x LR sweep's default families (the order of its article, which
            a stored sweep resumes by); ``None``: not swept by default.

    Example:
        >>> from hybridtune.task import optimizer_info
        >>> info = optimizer_info("adam")
        >>> info.cycled, info.grid_lr, info.wide_momentum
        ('beta1', (0.0001, 0.0003, 0.001, 0.003), (0.8, 0.99))
    """

    name: str
    cls: type[torch.optim.Optimizer]
    description: str
    default_lr: float
    peak_lr: float
    ramp_lr: float
    grid_lr: tuple[float, ...]
    wide_lr: tuple[float, float]
    has_momentum: bool = False
    has_betas: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    beta2: float = 0.999
    sweep_rank: int | None = None

    @property
    def cycled(self) -> Literal["momentum", "beta1"] | None:
        """The value the probes try and 1cycle cycles inversely to the LR (``None``: the family has none)."""
        if self.has_betas:
            return "beta1"
        return "momentum" if self.has_momentum else None

    @property
    def default_momentum(self) -> float | None:
        """The momentum (or beta1) trained at when nothing was measured; ``None`` without one."""
        return DEFAULT_MOMENTUM if self.cycled else None

    @property
    def grid_momentum(self) -> tuple[float, ...] | None:
        """The grid baseline's momentum axis; ``None`` without a momentum."""
        return GRID_MOMENTUM if self.cycled else None

    @property
    def wide_momentum(self) -> tuple[float, float] | None:
        """The random baseline's momentum bounds; ``None`` without a momentum."""
        return WIDE_MOMENTUM if self.cycled else None

    def create(self, params: Iterable[Any], *, lr: float, momentum: float = DEFAULT_MOMENTUM) -> \
            torch.optim.Optimizer:
        """The optimizer over ``params`` (tensors or param groups); ``momentum`` is ignored without one.

        Example:
            >>> import torch
            >>> from hybridtune.task import optimizer_info
            >>> opt = optimizer_info("nesterov").create([torch.zeros(2, requires_grad=True)], lr=0.1)
            >>> opt.defaults["momentum"], opt.defaults["nesterov"]
            (0.9, True)
        """
        kw = dict(self.kwargs)
        if self.has_betas:
            kw["betas"] = (momentum, self.beta2)
        elif self.has_momentum:
            kw["momentum"] = momentum
        return self.cls(params, lr=lr, **kw)


# default_lr: the trainer's 0.05 for the SGD families, the centre of the textbook grid for the others.
# peak_lr: what the red flags' training run has always used (3e-3 for the Adam-like families, 0.05 for
# the rest, adagrad and adadelta included), not a per-family tuning.
_SGD_GRID = (0.01, 0.03, 0.1, 0.3)
_ADAM_GRID = (1e-4, 3e-4, 1e-3, 3e-3)

_INFOS = (
    OptimizerInfo("sgd", torch.optim.SGD, "plain SGD, no momentum", default_lr=0.05, peak_lr=0.05, ramp_lr=1e-4,
                  grid_lr=(0.03, 0.1, 0.3, 1.0), wide_lr=(1e-3, 3.0), kwargs={"momentum": 0.0}, sweep_rank=0),
    OptimizerInfo("momentum", torch.optim.SGD, "SGD with heavy-ball momentum", default_lr=0.05, peak_lr=0.05,
                  ramp_lr=1e-4, grid_lr=_SGD_GRID, wide_lr=(1e-4, 1.0), has_momentum=True, sweep_rank=1),
    OptimizerInfo("nesterov", torch.optim.SGD, "SGD with Nesterov momentum", default_lr=0.05, peak_lr=0.05,
                  ramp_lr=1e-4, grid_lr=_SGD_GRID, wide_lr=(1e-4, 1.0), has_momentum=True,
                  kwargs={"nesterov": True}),
    OptimizerInfo("adam", torch.optim.Adam, "Adam", default_lr=1e-3, peak_lr=3e-3, ramp_lr=1e-5,
                  grid_lr=_ADAM_GRID, wide_lr=(1e-5, 1e-1), has_betas=True, sweep_rank=2),
    OptimizerInfo("adamw", torch.optim.AdamW, "Adam with decoupled weight decay", default_lr=1e-3, peak_lr=3e-3,
                  ramp_lr=1e-5, grid_lr=_ADAM_GRID, wide_lr=(1e-5, 1e-1), has_betas=True),
    OptimizerInfo("rmsprop", torch.optim.RMSprop, "RMSprop", default_lr=1e-3, peak_lr=3e-3, ramp_lr=1e-5,
                  grid_lr=_ADAM_GRID, wide_lr=(1e-5, 1e-1), sweep_rank=5),
    OptimizerInfo("adagrad", torch.optim.Adagrad, "Adagrad", default_lr=1e-2, peak_lr=0.05, ramp_lr=1e-4,
                  grid_lr=(3e-3, 1e-2, 3e-2, 0.1), wide_lr=(1e-4, 1.0), sweep_rank=3),
    OptimizerInfo("adadelta", torch.optim.Adadelta, "Adadelta", default_lr=1.0, peak_lr=0.05, ramp_lr=1e-2,
                  grid_lr=(0.1, 0.3, 1.0, 3.0), wide_lr=(1e-2, 10.0), sweep_rank=4),
)

#: Every optimizer family by name, in the order :data:`OPTIMIZERS` lists them.
OPTIMIZER_REGISTRY: Registry[OptimizerInfo] = Registry("optimizer", records=_INFOS, ordered=True)
#: The optimizer families the one trainer knows.
OPTIMIZERS = tuple(OPTIMIZER_REGISTRY)
#: Families whose momentum (SGD) or beta1 (Adam) the probes and 1cycle move.
MOMENTUM_OPTIMIZERS = tuple(name for name, info in OPTIMIZER_REGISTRY.items() if info.cycled)


def optimizer_info(name: str) -> OptimizerInfo:
    """The record of an optimizer family; an unknown name raises an error that lists the valid ones.

    Example:
        >>> optimizer_info("momentum").cycled, optimizer_info("sgd").cycled
        ('momentum', None)
    """
    return OPTIMIZER_REGISTRY.get(name)
