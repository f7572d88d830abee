"""What a training run returns: its cost, its epochs, when it hit its target, its step trace."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from .._core import finite_json
from ._config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

Status = Literal["completed", "diverged", "stopped", "target_reached", "timeout"]


@dataclass(frozen=True)
class Cost:
    """What a run (or a phase) cost: training examples and steps, evaluation examples, wall seconds.

    Costs add up, so a phase's cost is the sum of its runs'.

    Example:
        >>> (Cost(examples=100, steps=2) + Cost(examples=50, steps=1)).examples
        150
    """

    examples: int = 0
    steps: int = 0
    seconds: float = 0.0
    eval_examples: int = 0
    epochs: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.examples + other.examples, self.steps + other.steps, self.seconds + other.seconds,
                    self.eval_examples + other.eval_examples, self.epochs + other.epochs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cost:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class EpochStats:
    """One epoch: running train loss/accuracy, validation loss/accuracy (None when not evaluated).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> e = ht.train(task, ht.TrainConfig(epochs=1, batch_size=32)).epochs[0]
        >>> e.epoch, e.examples
        (1, 128)
    """

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    seconds: float
    examples: int


@dataclass(frozen=True)
class TargetHit:
    """When a run first reached its target metric, and what it cost to get there.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.train(task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=20, batch_size=32, target=0.9))
        >>> r.status, r.target.examples == r.cost.examples
        ('target_reached', True)
    """

    metric: str
    target: float
    value: float
    epoch: int
    steps: int
    examples: int
    seconds: float


#: :meth:`StepTrace.loss_rise` needs at least this many finite steps.
RISE_MIN_STEPS = 16


@dataclass(frozen=True)
class StepTrace:
    """Per-step LR, momentum and training loss (recorded with ``record_steps=True``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> trace = ht.train(task, ht.TrainConfig(epochs=1, batch_size=32, record_steps=True)).trace
        >>> len(trace.lrs) == len(trace.losses) == 4
        True
    """

    lrs: tuple[float, ...]
    momenta: tuple[float, ...]
    losses: tuple[float, ...]

    def loss_rise(self) -> float | None:
        """How far the training loss climbed back while the LR was high: the largest rise of the smoothed
        loss above the lowest it had reached so far, over the steps at or above half the peak LR, as a
        fraction of the starting loss (``None`` with fewer than :data:`RISE_MIN_STEPS` finite steps, or a
        starting loss that is not positive).

        A 1cycle run whose peak sits below where training breaks keeps its loss falling through the
        warm-up (about 0.03-0.1 on the model zoo); near that edge the loss climbs back as the LR peaks
        (0.15-0.3), and past it by most of what it had lost (over 0.5). The smoothing is a running median
        over a fortieth of the run (at least 5 steps), so one bad batch is not a climb.

        Example:
            >>> import numpy as np
            >>> falling = StepTrace(tuple(np.r_[np.linspace(0.1, 1, 50), np.linspace(1, 0, 50)]), (), tuple(np.linspace(2, 0.2, 100)))
            >>> round(falling.loss_rise(), 3)
            0.0
            >>> climbing = StepTrace(falling.lrs, (), tuple(np.r_[np.linspace(2, 1, 40), np.full(60, 1.6)]))
            >>> round(climbing.loss_rise(), 2)
            0.28
        """
        import numpy as np

        from .._core import running_median

        lr = np.asarray(self.lrs, dtype=np.float64)
        loss = np.asarray(self.losses, dtype=np.float64)
        ok = np.isfinite(lr) & np.isfinite(loss)
        lr, loss = lr[ok], loss[ok]
        if len(loss) < RISE_MIN_STEPS:
            return None
        w = max(5, len(loss) // 40) | 1  # odd: centred
        smooth = running_median(loss, w)
        head = float(np.median(loss[:w]))
        if not head > 0:
            return None
        high = lr >= 0.5 * lr.max()
        climb = (smooth - np.minimum.accumulate(smooth))[high]
        return float(max(0.0, climb.max()) / head)


@dataclass(frozen=True)
class TrainResult:
    """The frozen outcome of one :func:`train` call.

    ``status`` is ``completed``, ``diverged``, ``stopped`` (a callback), ``target_reached`` or
    ``timeout``; ``to_dict()`` is strict JSON, ``to_frame()`` one row per epoch. ``model`` is the trained
    model only when asked for (``train(..., keep_model=True)``), else ``None``; it is not part of the
    result's JSON, and two results that differ only in it are equal.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.train(task, ht.TrainConfig(epochs=2, batch_size=32))
        >>> r.status, len(r.to_frame()), r.to_dict()["cost"]["steps"]
        ('completed', 2, 8)
    """

    status: Status
    stop_reason: str
    epochs: tuple[EpochStats, ...]
    cost: Cost
    config: TrainConfig
    target: TargetHit | None = None
    trace: StepTrace | None = None
    model: nn.Module | None = field(default=None, compare=False, repr=False)

    @property
    def val_acc(self) -> float | None:
        """Validation accuracy after the last evaluated epoch."""
        vals = [e.val_acc for e in self.epochs if e.val_acc is not None]
        return vals[-1] if vals else None

    @property
    def val_loss(self) -> float | None:
        vals = [e.val_loss for e in self.epochs if e.val_loss is not None]
        return vals[-1] if vals else None

    @property
    def best_val_acc(self) -> float | None:
        vals = [e.val_acc for e in self.epochs if e.val_acc is not None]
        return max(vals) if vals else None

    @property
    def train_loss(self) -> float | None:
        return self.epochs[-1].train_loss if self.epochs else None

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def to_dict(self) -> dict[str, Any]:
        d = {"status": self.status, "stop_reason": self.stop_reason, "val_acc": self.val_acc,
             "val_loss": self.val_loss, "best_val_acc": self.best_val_acc,
             "epochs": [asdict(e) for e in self.epochs], "cost": self.cost.to_dict(),
             "config": self.config.to_dict(), "target": asdict(self.target) if self.target else None}
        if self.trace is not None:
            d["trace"] = asdict(self.trace)
        return finite_json(d)

    def to_frame(self) -> Any:
        """One row per epoch, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([asdict(e) for e in self.epochs])
