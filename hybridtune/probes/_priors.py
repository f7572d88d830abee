"""Range-test priors: the LR band from a range test, momentum from short 1cycle runs (Smith's disciplined approach).

:func:`find_priors` runs the cheap probes in order and returns a frozen, JSON-serialisable
:class:`Priors`, which is what the search space is later built from:

1. an LR range test gives the band ``[lr_min, lr_max]`` (:func:`hybridtune.lr_range_test`);
2. for the families with a momentum (SGD momentum / Nesterov; Adam's and AdamW's beta1), short 1cycle runs
   at ``lr_max`` try momentum 0.99, 0.97, 0.95 and 0.9 and keep the best by validation loss
   (:func:`momentum_runs`).

The 7-step procedure's alternative, raising the momentum every epoch of one run, is :func:`momentum_ramp`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._core import ConfigError, ProbeError, Progress, check_choice, check_positive_int, finite_json
from ..task import MOMENTUM_OPTIMIZERS, OPTIMIZERS, Task
from ..train import Cost, TrainConfig, onecycle_momentum, train
from ._confidence import lr_confidence, momentum_confidence
from ._rangetest import RangeTestResult, lr_range_test

_log = logging.getLogger(__name__)

#: Smith's short-run momenta.
MOMENTA = (0.99, 0.97, 0.95, 0.9)
#: Momenta whose validation loss is within this fraction of the best one's form the search band:
#: one-epoch runs differ by about this much from seed to seed.
MOMENTUM_TOLERANCE = 0.05


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(math.nan if v is None else float(v) for v in values)


def _check_lr(lr: Any) -> None:
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"lr must be a positive finite number, but got lr={lr}.")


def _check_confidence(name: str, value: Any) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1):
        raise ConfigError(f"{name} must be in (0, 1], but got {name}={value}.")
    return float(value)


def _check_momenta(momenta: Sequence[float]) -> tuple[float, ...]:
    ms = tuple(momenta)
    if not ms or any(not (isinstance(m, (int, float)) and 0 <= m < 1) for m in ms):
        raise ConfigError(f"momenta must be a non-empty sequence of values in [0, 1), but got momenta={ms}.")
    if len(set(ms)) != len(ms):
        raise ConfigError(f"momenta must be distinct, but got momenta={ms}.")
    return tuple(float(m) for m in ms)


@dataclass(frozen=True)
class MomentumRun:
    """One short run at one momentum (or Adam's beta1): its per-epoch curves and its cost.

    ``val_loss`` / ``val_acc`` are those after the last epoch (``None`` when the run diverged);
    ``step_losses`` is the training loss of every step, for the figure; ``momentum_range`` is the
    (lowest, highest) momentum the run actually used (1cycle cycles it).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> runs = ht.momentum_runs(task, lr=0.05, momenta=(0.95, 0.9), batch_size=32)
        >>> [r.momentum for r in runs]
        [0.95, 0.9]
    """

    momentum: float
    val_loss: float | None
    val_acc: float | None
    train_losses: tuple[float, ...]
    val_losses: tuple[float | None, ...]
    val_accs: tuple[float | None, ...]
    step_losses: tuple[float, ...]
    status: str
    cost: Cost
    momentum_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"momentum": self.momentum, "val_loss": self.val_loss, "val_acc": self.val_acc,
                        "momentum_range": list(self.momentum_range) if self.momentum_range else None,
                        "train_losses": list(self.train_losses), "val_losses": list(self.val_losses),
                        "val_accs": list(self.val_accs), "step_losses": list(self.step_losses),
                        "status": self.status, "cost": self.cost.to_dict()})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MomentumRun:
        return cls(momentum=float(d["momentum"]), val_loss=_num(d["val_loss"]), val_acc=_num(d["val_acc"]),
                   train_losses=_floats(d["train_losses"]), val_losses=tuple(_num(v) for v in d["val_losses"]),
                   val_accs=tuple(_num(v) for v in d["val_accs"]), step_losses=_floats(d["step_losses"]),
                   status=str(d["status"]), cost=Cost.from_dict(d["cost"]),
                   momentum_range=tuple(float(v) for v in d["momentum_range"])  # type: ignore[arg-type]
                   if d.get("momentum_range") else None)


def _run(task: Task, config: TrainConfig, momentum: float) -> MomentumRun:
    r = train(task, config)
    val_loss = r.val_loss
    if val_loss is not None and not math.isfinite(val_loss):
        val_loss = None
    trace = r.trace
    return MomentumRun(momentum=momentum, val_loss=None if r.diverged else val_loss,
                       val_acc=None if r.diverged else r.val_acc,
                       train_losses=tuple(e.train_loss for e in r.epochs),
                       val_losses=tuple(e.val_loss for e in r.epochs), val_accs=tuple(e.val_acc for e in r.epochs),
                       step_losses=trace.losses if trace is not None else (), status=r.status, cost=r.cost,
                       momentum_range=(min(trace.momenta), max(trace.momenta)) if trace and trace.momenta else None)


def momentum_runs(task: Task, *, lr: float, momenta: Sequence[float] = MOMENTA, epochs: int = 1,
                  batch_size: int = 128, weight_decay: float = 0.0, seed: int = 0, schedule: str = "onecycle",
                  optimizer: str | None = None, progress: Progress | None = None) -> tuple[MomentumRun, ...]:
    """Smith's short momentum runs: one short run per momentum, at one LR.

    For SGD with momentum or Nesterov the value tried is the momentum; for Adam and AdamW it is beta1.
    With ``schedule="onecycle"`` (the default) each run is a 1cycle run peaking at ``lr`` whose momentum
    is cycled from the tried value ``m`` down to ``m - 0.1`` (the trainer's ``CYCLE_DEPTH``) and back, as
    Smith recommends: ``m`` is the value 1cycle starts and ends at, which is how the search later trains.
    With any other schedule the momentum is held at ``m``. Every run starts from the same initial weights
    (``seed``).

    Args:
        task: the data, model factory and loss.
        lr: the LR (the 1cycle peak), usually the range test's ``lr_max``.
        momenta: the values to try (default 0.99, 0.97, 0.95, 0.9).
        epochs: the length of each run.
        batch_size / weight_decay / seed: as for training.
        schedule: ``"onecycle"`` (default) or a schedule of :class:`hybridtune.TrainConfig`.
        optimizer: a family with a momentum (default ``task.optimizer``).
        progress: optional ``progress(phase, done, total)`` callback.

    Returns:
        One :class:`MomentumRun` per momentum, in the order given; the best is the lowest ``val_loss``.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", optimizer="momentum", device="cpu")
        >>> runs = ht.momentum_runs(task, lr=0.05, momenta=(0.95, 0.9), batch_size=32)
        >>> [r.momentum for r in runs]
        [0.95, 0.9]
    """
    opt = task.optimizer if optimizer is None else optimizer
    check_choice("optimizer", opt, OPTIMIZERS)
    if opt not in MOMENTUM_OPTIMIZERS:
        raise ConfigError(f"optimizer must have a momentum ({', '.join(MOMENTUM_OPTIMIZERS)}) for momentum runs, "
                          f"but got optimizer={opt!r}.")
    _check_lr(lr)
    ms = _check_momenta(momenta)
    base = TrainConfig(optimizer=opt, lr=lr, epochs=epochs, batch_size=batch_size, weight_decay=weight_decay,
                       seed=seed, schedule=schedule, record_steps=True, eval_every=1)
    runs: list[MomentumRun] = []
    for i, m in enumerate(ms):
        if progress is not None:
            progress("momentum runs", i, len(ms))
        cycle = onecycle_momentum(m) if schedule == "onecycle" else None
        runs.append(_run(task, base.replace(momentum=m, cycle_momentum=cycle), m))
        _log.info("momentum %.3g: val loss %s (%s)", m, runs[-1].val_loss, runs[-1].status)
    if progress is not None:
        progress("momentum runs", len(ms), len(ms))
    return tuple(runs)


def best_momentum(runs: Sequence[MomentumRun]) -> tuple[float, tuple[float, float], str]:
    """The momentum with the lowest validation loss, a band for the search, and why.

    The band spans the momenta within 5% of the best validation loss; when that is the best alone, it
    reaches to the tried values next to it, so the search always has room.
    """
    ok = [r for r in runs if r.val_loss is not None]
    tried = sorted({r.momentum for r in runs})
    if not ok:
        low = tried[0]
        return low, (low, low), (f"every momentum run diverged; momentum {low:g}, the lowest tried, is kept, "
                                 f"but the LR is likely too high")
    best = min(ok, key=lambda r: (r.val_loss, -r.momentum))
    near = sorted(r.momentum for r in ok if r.val_loss <= best.val_loss * (1 + MOMENTUM_TOLERANCE))  # type: ignore[operator]
    low, high = near[0], near[-1]
    if low == high:
        i = tried.index(best.momentum)
        low, high = tried[max(i - 1, 0)], tried[min(i + 1, len(tried) - 1)]
    others = ", ".join(f"{r.momentum:g}: {r.val_loss:.4g}" if r.val_loss is not None else f"{r.momentum:g}: diverged"
                       for r in sorted(runs, key=lambda r: -r.momentum))
    why = (f"momentum {best.momentum:g} had the lowest validation loss after the short runs ({others}); "
           f"the band [{low:g}, {high:g}] holds the values within {MOMENTUM_TOLERANCE:.0%} of it "
           f"or the tried values next to it")
    return best.momentum, (low, high), why


@dataclass(frozen=True)
class MomentumRamp:
    """The 7-step procedure's momentum probe: one run whose momentum is raised every epoch.

    ``momenta[e]`` was used in epoch ``e``; ``suggested`` is the highest momentum reached before the
    validation loss first got worse (the last one when it never did).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> ramp = ht.momentum_ramp(task, lr=0.05, epochs=2, batch_size=32)
        >>> len(ramp.momenta), ramp.suggested in ramp.momenta
        (2, True)
    """

    lr: float
    momenta: tuple[float, ...]
    train_losses: tuple[float, ...]
    val_losses: tuple[float, ...]
    val_accs: tuple[float, ...]
    suggested: float
    reasoning: str
    cost: Cost

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"lr": self.lr, "momenta": list(self.momenta), "train_losses": list(self.train_losses),
                        "val_losses": list(self.val_losses), "val_accs": list(self.val_accs),
                        "suggested": self.suggested, "reasoning": self.reasoning, "cost": self.cost.to_dict()})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MomentumRamp:
        return cls(lr=float(d["lr"]), momenta=_floats(d["momenta"]), train_losses=_floats(d["train_losses"]),
                   val_losses=_floats(d["val_losses"]), val_accs=_floats(d["val_accs"]),
                   suggested=float(d["suggested"]), reasoning=str(d["reasoning"]), cost=Cost.from_dict(d["cost"]))


def momentum_ramp(task: Task, *, lr: float, start: float = 0.8, end: float = 0.99, epochs: int = 6,
                  batch_size: int = 128, weight_decay: float = 0.0, seed: int = 0, optimizer: str | None = None,
                  progress: Progress | None = None) -> MomentumRamp:
    """The 7-step procedure's alternative to short runs: one run at a constant LR, momentum raised every epoch.

    The momenta are spaced evenly in ``log(1 - momentum)`` from ``start`` to ``end`` (0.8, 0.87, ...,
    0.99 over six epochs), so each epoch averages over a comparable multiple of the previous horizon.
    Each epoch is one call of the one trainer on the same model; its momentum buffer starts empty each
    epoch (it fills within a few dozen steps) and the data order changes from epoch to epoch.

    Args:
        task: the data, model factory and loss.
        lr: the constant LR, usually the range test's ``lr_max``.
        start / end: the first and last momentum (or Adam's beta1).
        epochs: how many epochs, one momentum each (>= 2).
        batch_size / weight_decay / seed: as for training.
        optimizer: a family with a momentum (default ``task.optimizer``).
        progress: optional ``progress(phase, done, total)`` callback.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", optimizer="momentum", device="cpu")
        >>> ramp = ht.momentum_ramp(task, lr=0.05, epochs=3, batch_size=32)
        >>> [round(m, 3) for m in ramp.momenta]
        [0.8, 0.955, 0.99]
    """
    opt = task.optimizer if optimizer is None else optimizer
    check_choice("optimizer", opt, OPTIMIZERS)
    if opt not in MOMENTUM_OPTIMIZERS:
        raise ConfigError(f"optimizer must have a momentum ({', '.join(MOMENTUM_OPTIMIZERS)}) for a momentum ramp, "
                          f"but got optimizer={opt!r}.")
    _check_lr(lr)
    if not (isinstance(epochs, int) and epochs >= 2):
        raise ConfigError(f"epochs must be an integer >= 2 for a ramp, but got epochs={epochs}.")
    if not 0 <= start < end < 1:
        raise ConfigError(f"momentum must rise within [0, 1): 0 <= start < end < 1, but got start={start}, end={end}.")
    lo, hi = math.log(1 - start), math.log(1 - end)
    momenta = tuple(1 - math.exp(lo + (hi - lo) * e / (epochs - 1)) for e in range(epochs))
    model = task.build_model(seed=seed)
    train_losses: list[float] = []
    val_losses: list[float] = []
    val_accs: list[float] = []
    cost = Cost()
    for e, m in enumerate(momenta):
        if progress is not None:
            progress("momentum ramp", e, epochs)
        config = TrainConfig(optimizer=opt, lr=lr, momentum=m, epochs=1, batch_size=batch_size,
                             weight_decay=weight_decay, seed=seed + e, schedule="constant")
        r = train(task, config, model=model)
        cost = cost + r.cost
        train_losses.append(r.epochs[-1].train_loss if r.epochs else math.nan)
        val_losses.append(math.nan if r.diverged or r.val_loss is None else r.val_loss)
        val_accs.append(math.nan if r.diverged or r.val_acc is None else r.val_acc)
        if r.diverged:
            _log.info("momentum ramp diverged at momentum %.3g", m)
            break
    if progress is not None:
        progress("momentum ramp", epochs, epochs)
    k = 0
    while k + 1 < len(val_losses) and math.isfinite(val_losses[k + 1]) and val_losses[k + 1] < val_losses[k]:
        k += 1
    reached = len(val_losses)
    if k + 1 < reached:
        why = (f"validation loss fell every epoch up to momentum {momenta[k]:.3g} and got worse at "
               f"{momenta[k + 1]:.3g}")
    else:
        why = f"validation loss fell every epoch up to the last momentum, {momenta[k]:.3g}"
    return MomentumRamp(lr=float(lr), momenta=momenta[:reached], train_losses=tuple(train_losses),
                        val_losses=tuple(val_losses), val_accs=tuple(val_accs), suggested=momenta[k],
                        reasoning=why, cost=cost)


# ----------------------------------------------------------------------------------------------
# Priors


@dataclass(frozen=True)
class Priors:
    """What the probes found: the LR band, the momentum and its band, the curves, what they cost, and how
    far the evidence supports them.

    The search space is built from this. ``momentum`` and ``momentum_band`` are ``None`` for optimizers
    without a momentum (sgd, rmsprop, adagrad, adadelta). ``cost`` is the total of every probe.

    ``lr_confidence`` and ``momentum_confidence`` (in (0, 1]) say how clearly the probes' own curves
    support the LR and the momentum; ``confidence_reasons`` says why, one line each. Left ``None`` they are
    measured from ``range_test`` and ``momentum_runs`` (the rule and its numbers are in
    ``hybridtune/probes/_confidence.py``), so a stored priors dict from before confidences existed gets the
    same numbers back; ``momentum_confidence`` is ``None`` for optimizers without a momentum. Given, they
    must lie in (0, 1]. ``dataclasses.replace`` carries them over: pass ``lr_confidence=None`` (and
    ``momentum_confidence=None``, ``confidence_reasons=()``) to measure them again from a replaced curve.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", optimizer="adam", device="cpu")
        >>> p = ht.find_priors(task, batch_size=32, range_steps=60, momenta=(0.95, 0.9))
        >>> ht.Priors.from_json(p.to_json()) == p
        True
    """

    optimizer: str
    lr_min: float
    lr_max: float
    momentum: float | None
    momentum_band: tuple[float, float] | None
    batch_size: int
    weight_decay: float
    range_test: RangeTestResult
    momentum_runs: tuple[MomentumRun, ...]
    cost: Cost
    reasoning: str
    lr_confidence: float | None = None
    momentum_confidence: float | None = None
    confidence_reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        reasons: list[str] = []
        if self.lr_confidence is None:
            value, why = lr_confidence(self.range_test)
            object.__setattr__(self, "lr_confidence", value)
        else:
            value = _check_confidence("lr_confidence", self.lr_confidence)
            object.__setattr__(self, "lr_confidence", value)
            why = f"LR confidence {value:g}: given, not measured"
        reasons.append(why)
        if self.momentum is None:
            object.__setattr__(self, "momentum_confidence", None)
        elif self.momentum_confidence is None:
            value, why = momentum_confidence([r.val_loss for r in self.momentum_runs], tolerance=MOMENTUM_TOLERANCE)
            object.__setattr__(self, "momentum_confidence", value)
            reasons.append(why)
        else:
            value = _check_confidence("momentum_confidence", self.momentum_confidence)
            object.__setattr__(self, "momentum_confidence", value)
            reasons.append(f"momentum confidence {value:g}: given, not measured")
        object.__setattr__(self, "confidence_reasons", tuple(self.confidence_reasons) or tuple(reasons))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (strict JSON: NaN and inf become ``None``)."""
        return finite_json({
            "optimizer": self.optimizer, "lr_min": self.lr_min, "lr_max": self.lr_max, "momentum": self.momentum,
            "momentum_band": list(self.momentum_band) if self.momentum_band is not None else None,
            "batch_size": self.batch_size, "weight_decay": self.weight_decay,
            "range_test": self.range_test.to_dict(), "momentum_runs": [r.to_dict() for r in self.momentum_runs],
            "cost": self.cost.to_dict(), "reasoning": self.reasoning, "lr_confidence": self.lr_confidence,
            "momentum_confidence": self.momentum_confidence, "confidence_reasons": list(self.confidence_reasons),
        })

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Priors:
        """The inverse of :meth:`to_dict`."""
        band = d.get("momentum_band")
        return cls(optimizer=str(d["optimizer"]), lr_min=float(d["lr_min"]), lr_max=float(d["lr_max"]),
                   momentum=_num(d.get("momentum")),
                   momentum_band=(float(band[0]), float(band[1])) if band is not None else None,
                   batch_size=int(d["batch_size"]), weight_decay=float(d["weight_decay"]),
                   range_test=RangeTestResult.from_dict(d["range_test"]),
                   momentum_runs=tuple(MomentumRun.from_dict(r) for r in d.get("momentum_runs", ())),
                   cost=Cost.from_dict(d["cost"]), reasoning=str(d["reasoning"]),
                   # priors stored before confidences existed: measured again from the stored curves
                   lr_confidence=_num(d.get("lr_confidence")), momentum_confidence=_num(d.get("momentum_confidence")),
                   confidence_reasons=tuple(str(r) for r in d.get("confidence_reasons", ())))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, s: str) -> Priors:
        return cls.from_dict(json.loads(s))


def find_priors(task: Task, *, batch_size: int = 128, weight_decay: float = 0.0, momentum_epochs: int = 1,
                range_steps: int | None = None, momenta: Sequence[float] = MOMENTA, seed: int = 0,
                progress: Progress | None = None, start_lr: float = 1e-7, end_lr: float = 10.0,
                mode: Literal["exp", "linear"] = "exp", val_every: int | None = None,
                range_extend: str = "weak") -> Priors:
    """Run the cheap probes for ``task.optimizer`` and return the :class:`Priors` the search is built from.

    1. An LR range test (default sweep 1e-7 -> 10, about one epoch and at least 100 steps) gives the band
       ``[lr_min, lr_max]`` (:func:`hybridtune.suggest_band`).
    2. For SGD with momentum / Nesterov and Adam / AdamW, short 1cycle runs at ``lr_max`` try each of
       ``momenta`` (beta1 for Adam) and keep the best by validation loss (:func:`momentum_runs`).

    Args:
        task: the data, model factory, loss and optimizer family.
        batch_size: the batch size of every probe (the LR found holds for it).
        weight_decay: held fixed in every probe.
        momentum_epochs: the length of each momentum run.
        range_steps: steps of the range test (default: about one epoch, at least 100, re-run four times
            longer when the loss barely falls in it; see :func:`hybridtune.lr_range_test`).
        momenta: the momenta (or beta1 values) to try.
        seed: initialisation and data order of every probe.
        progress: optional ``progress(phase, done, total)`` callback; phases ``"range test"`` and
            ``"momentum runs"``.
        start_lr / end_lr / mode / val_every: passed to :func:`hybridtune.lr_range_test`.
        range_extend: when the default-length range test is re-run longer (``extend`` of
            :func:`hybridtune.lr_range_test`).

    Raises:
        ProbeError: when the range test's curve supports no band (say, the loss never fell).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", optimizer="sgd", device="cpu")
        >>> p = ht.find_priors(task, batch_size=32, range_steps=60)
        >>> p.lr_min < p.lr_max and p.momentum is None
        True
    """
    ms = _check_momenta(momenta)
    check_positive_int("momentum_epochs", momentum_epochs)
    rt = lr_range_test(task, steps=range_steps, batch_size=batch_size, weight_decay=weight_decay, seed=seed,
                       progress=progress, start_lr=start_lr, end_lr=end_lr, mode=mode, val_every=val_every,
                       extend=range_extend)
    if rt.band is None:
        raise ProbeError(f"the range test must give an LR band, but it gave none: {rt.suggestion_error} "
                          f"(the sweep {rt.stopped})")
    band = rt.band
    reasons = [f"LR: {band.reasoning}"]
    runs: tuple[MomentumRun, ...] = ()
    momentum: float | None = None
    momentum_band: tuple[float, float] | None = None
    if task.optimizer in MOMENTUM_OPTIMIZERS:
        runs = momentum_runs(task, lr=band.lr_max, momenta=ms, epochs=momentum_epochs, batch_size=batch_size,
                             weight_decay=weight_decay, seed=seed, progress=progress)
        momentum, momentum_band, why = best_momentum(runs)
        reasons.append(f"momentum: {why}")
    else:
        reasons.append(f"momentum: none, {task.optimizer} has no momentum")
    cost = rt.cost
    for r in runs:
        cost = cost + r.cost
    return Priors(optimizer=task.optimizer, lr_min=band.lr_min, lr_max=band.lr_max, momentum=momentum,
                  momentum_band=momentum_band, batch_size=batch_size, weight_decay=float(weight_decay),
                  range_test=rt, momentum_runs=runs, cost=cost, reasoning="; ".join(reasons))
