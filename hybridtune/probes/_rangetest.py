"""The LR range test (Smith 2015/2018; the fastai LR finder): one short sweep of rising learning rates.

The sweep is one call of the one trainer (:func:`hybridtune.train`) with the ``range_exp`` or
``range_linear`` schedule; a step callback smooths the loss and stops the sweep when it diverges. A model
passed in is left exactly as it was: weights, buffers (BatchNorm statistics), gradients and train/eval
mode are restored, the caller's optimizer is never touched, and the trainer runs inside
``torch.random.fork_rng`` so the global RNG state is unchanged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from .._core import ConfigError, Progress, check_choice, finite_json, is_positive_int
from ..task import OPTIMIZERS, Task
from ..train import Cost, TrainConfig, steps_per_epoch, train
from ._suggest import LRBand, _fall_fraction, suggest_band, suggest_min_div10, suggest_steepest, suggest_valley

_log = logging.getLogger(__name__)

#: The fewest steps a default sweep takes: fewer cannot resolve a fall, a floor and a rise.
MIN_STEPS = 100
#: A default sweep whose smoothed loss falls by less than this fraction of its start is too short for the
#: learner: the loss only moves once the LR is large enough to make progress in a few steps, so the
#: minimum lands late and the band too high (plain SGD and SGD momentum on mnist5k in one epoch fall
#: 1-10%, Adam 20-50%; see BENCHMARKS). Such a sweep is re-run once, :data:`EXTEND_FACTOR` times longer.
WEAK_FALL = 0.15
#: How much longer the re-run of a weak default sweep is (one epoch becomes four).
EXTEND_FACTOR = 4
MODES = ("exp", "linear")
#: When a default-length sweep is re-run longer: ``weak`` (its loss fell less than :data:`WEAK_FALL`),
#: ``no_band`` (only when the band rule gives no band on it), ``never``.
EXTEND_MODES = ("weak", "no_band", "never")


@dataclass(frozen=True)
class RangeTestResult:
    """The frozen outcome of :func:`lr_range_test`.

    ``lrs``, ``losses`` (raw, one per step) and ``smoothed`` (the bias-corrected moving average the
    stopping rule watches) have one entry per step taken. ``suggestions`` maps a rule's name to its LR
    (``steepest``, ``valley``, ``min_div10`` and ``hybridtune``, the band's ``lr_max``); ``band`` is
    hybridtune's ``[lr_min, lr_max]``. When the curve cannot support a suggestion, ``suggestions`` is empty,
    ``band`` is ``None`` and ``suggestion_error`` says why. With validation mode on, ``val_steps`` /
    ``val_lrs`` / ``val_losses`` / ``val_accs`` hold the fixed-subset evaluations.

    ``extended`` says why a default-length sweep was re-run longer (``None`` when it was not); then
    ``steps`` and the curves are the longer sweep's, and ``cost`` counts both sweeps.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.lr_range_test(task, steps=50, batch_size=32)
        >>> len(r.lrs) == len(r.losses) == len(r.smoothed), r.to_dict()["cost"]["steps"] == len(r.lrs)
        (True, True)
    """

    optimizer: str
    mode: str
    start_lr: float
    end_lr: float
    steps: int
    batch_size: int
    momentum: float
    weight_decay: float
    seed: int
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    stopped: str
    diverged: bool
    cost: Cost
    suggestions: dict[str, float] = field(default_factory=dict)
    band: LRBand | None = None
    suggestion_error: str | None = None
    smooth: float = 0.98
    diverge_k: float = 4.0
    val_steps: tuple[int, ...] = ()
    val_lrs: tuple[float, ...] = ()
    val_losses: tuple[float, ...] = ()
    val_accs: tuple[float, ...] = ()
    extended: str | None = None

    @property
    def lr_min(self) -> float | None:
        return self.band.lr_min if self.band else None

    @property
    def lr_max(self) -> float | None:
        return self.band.lr_max if self.band else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (strict JSON: NaN and inf become ``None``)."""
        d = {
            "optimizer": self.optimizer, "mode": self.mode, "start_lr": self.start_lr, "end_lr": self.end_lr,
            "steps": self.steps, "batch_size": self.batch_size, "momentum": self.momentum,
            "weight_decay": self.weight_decay, "seed": self.seed, "smooth": self.smooth,
            "diverge_k": self.diverge_k, "lr_min": self.lr_min, "lr_max": self.lr_max,
            "suggestions": dict(self.suggestions), "band": self.band.to_dict() if self.band else None,
            "suggestion_error": self.suggestion_error, "stopped": self.stopped, "diverged": self.diverged,
            "cost": self.cost.to_dict(), "lrs": list(self.lrs), "losses": list(self.losses),
            "smoothed": list(self.smoothed), "val_steps": list(self.val_steps), "val_lrs": list(self.val_lrs),
            "val_losses": list(self.val_losses), "val_accs": list(self.val_accs), "extended": self.extended,
        }
        return finite_json(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RangeTestResult:
        """The inverse of :meth:`to_dict`."""
        def floats(key: str) -> tuple[float, ...]:
            return tuple(math.nan if v is None else float(v) for v in d.get(key, ()))

        return cls(optimizer=d["optimizer"], mode=d["mode"], start_lr=float(d["start_lr"]),
                   end_lr=float(d["end_lr"]), steps=int(d["steps"]), batch_size=int(d["batch_size"]),
                   momentum=float(d["momentum"]), weight_decay=float(d["weight_decay"]), seed=int(d["seed"]),
                   lrs=floats("lrs"), losses=floats("losses"), smoothed=floats("smoothed"),
                   stopped=d["stopped"], diverged=bool(d["diverged"]), cost=Cost.from_dict(d["cost"]),
                   suggestions={k: float(v) for k, v in d.get("suggestions", {}).items()},
                   band=LRBand.from_dict(d["band"]) if d.get("band") else None,
                   suggestion_error=d.get("suggestion_error"), smooth=float(d.get("smooth", 0.98)),
                   diverge_k=float(d.get("diverge_k", 4.0)),
                   val_steps=tuple(int(v) for v in d.get("val_steps", ())), val_lrs=floats("val_lrs"),
                   val_losses=floats("val_losses"), val_accs=floats("val_accs"), extended=d.get("extended"))

    def to_frame(self) -> Any:
        """One row per step (``lr``, ``loss``, ``smoothed``), as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame({"lr": self.lrs, "loss": self.losses, "smoothed": self.smoothed})


def sweep_lr(start_lr: float, end_lr: float, steps: int, step: int, mode: str) -> float:
    """The LR of ``step`` (0-based) in a sweep of ``steps``: the trainer's range schedules, in closed form."""
    last = max(1, steps - 1)
    t = min(step, last) / last
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** t
    return start_lr + (end_lr - start_lr) * t


@contextmanager
def preserved(model: nn.Module) -> Iterator[None]:
    """Restore a model's parameters, buffers, gradients and train/eval mode exactly on exit.

    Values are copied back in place, so every ``nn.Parameter`` and buffer keeps its identity (a caller's
    optimizer still holds the same objects); a tensor whose layout changed (channels_last on CUDA) gets its
    saved copy back through ``.data``. Buffers are taken from the modules rather than ``state_dict``, so
    non-persistent ones come back too.
    """
    params = [(p, p.detach().clone(), None if p.grad is None else p.grad.detach().clone())
              for p in model.parameters()]
    buffers = [(mod, name, None if buf is None else buf.detach().clone())
               for mod in model.modules() for name, buf in mod._buffers.items()]
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        with torch.no_grad():
            for p, data, grad in params:
                _put_back(p, data)
                p.grad = grad
            for mod, name, buf in buffers:
                live = mod._buffers.get(name)
                if buf is None or live is None or not _same_layout(live, buf):
                    mod._buffers[name] = buf
                else:
                    live.copy_(buf)
        for m, training in modes:
            m.training = training


def _same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.stride() == b.stride() and a.dtype == b.dtype and a.device == b.device


def _put_back(p: torch.Tensor, saved: torch.Tensor) -> None:
    if _same_layout(p.data, saved):
        p.data.copy_(saved)
    else:
        p.data = saved


def lr_range_test(task: Task, *, optimizer: str | None = None, start_lr: float = 1e-7, end_lr: float = 10.0,
                  mode: Literal["exp", "linear"] = "exp", steps: int | None = None, batch_size: int = 128,
                  momentum: float = 0.9, weight_decay: float = 0.0, smooth: float = 0.98,
                  diverge_k: float = 4.0, val_every: int | None = None, val_subset: int = 512,
                  model: nn.Module | None = None, seed: int = 0,
                  progress: Progress | None = None, extend: str = "weak") -> RangeTestResult:
    """Run an LR range test: train with a rising LR, record the loss, stop when it diverges.

    Args:
        task: the data, model factory and loss.
        optimizer: an optimizer family (default ``task.optimizer``); for the Adam family the swept value is
            Adam's LR.
        start_lr / end_lr: the ends of the sweep; both are hit exactly.
        mode: ``"exp"`` (log-spaced, the default) or ``"linear"`` (Smith's original).
        steps: steps in the sweep; default about one epoch and at least 100, cycling a small dataset. A
            default sweep whose smoothed loss falls less than 15% below its start (:data:`WEAK_FALL`) was
            too short for the learner to show where training breaks: it is re-run once with four times the
            steps, and ``extended`` says so. An explicit ``steps`` is never extended.
        batch_size: examples per step (the LR found holds for this batch size).
        momentum: SGD momentum, or Adam's beta1, held fixed during the sweep.
        weight_decay: held fixed during the sweep.
        smooth: beta of the bias-corrected moving average of the loss that the stopping rule watches.
        diverge_k: stop once the smoothed loss exceeds ``diverge_k`` times its best (a non-finite loss
            always stops the sweep).
        val_every: Smith's validation mode: every ``val_every`` steps, evaluate loss and accuracy on a fixed
            subset of the validation split (``val_subset`` examples). ``None``: off.
        model: sweep this model instead of a fresh one from ``task`` and ``seed``; it is restored exactly
            afterwards (weights, buffers, gradients, mode).
        seed: model initialisation (without ``model``) and data order.
        progress: optional ``progress(phase, done, total)`` callback.
        extend: when a default-length sweep is re-run four times longer: ``"weak"`` (default: its loss fell
            less than 15%), ``"no_band"`` (only when it gives no band at all: cheaper, for callers whose
            search covers more than the band, such as the study's probes) or ``"never"``.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", device="cpu")
        >>> r = ht.lr_range_test(task, optimizer="adam", steps=60, batch_size=32, start_lr=1e-5)
        >>> r.lrs[0] == 1e-5 and len(r.losses) == len(r.lrs)
        True
    """
    # 1. check the inputs where they enter
    opt = task.optimizer if optimizer is None else optimizer
    n_steps = _check_inputs(task, optimizer=opt, start_lr=start_lr, end_lr=end_lr, mode=mode, steps=steps,
                            batch_size=batch_size, smooth=smooth, diverge_k=diverge_k, val_every=val_every,
                            val_subset=val_subset, extend=extend)
    spec = _Sweep(task=task, optimizer=opt, start_lr=start_lr, end_lr=end_lr, mode=mode, batch_size=batch_size,
                  momentum=momentum, weight_decay=weight_decay, smooth=smooth, diverge_k=diverge_k,
                  val_every=val_every, val_subset=val_subset, model=model, seed=seed, progress=progress)
    # 2. the sweep, re-run longer once when a default-length one was too short for the learner
    first = _sweep(spec, n_steps, 0, n_steps)
    if steps is None:
        done = _rerun_if_short(spec, first, n_steps, extend)
    else:
        done = _Sweeps(run=first, steps=n_steps, total=n_steps, cost=first.cost, extended=None)
    run = done.run
    if progress is not None:
        progress("range test", done.total, done.total)
    # 3. the suggestions, from the raw losses (each rule smooths them itself, without lag)
    suggestions, band, error = _suggestions(run.lrs, run.losses)
    stopped = run.stopped if done.extended is None else f"{run.stopped} ({done.extended})"
    _log.info("range test: %d steps, %s; band %s", len(run.lrs), stopped, band)
    return RangeTestResult(optimizer=opt, mode=mode, start_lr=float(start_lr), end_lr=float(end_lr),
                           steps=done.steps, batch_size=batch_size, momentum=float(momentum),
                           weight_decay=float(weight_decay), seed=seed, lrs=tuple(run.lrs),
                           losses=tuple(run.losses), smoothed=tuple(run.smoothed[:len(run.lrs)]), stopped=stopped,
                           diverged=run.diverged, cost=done.cost, suggestions=suggestions, band=band,
                           suggestion_error=error, smooth=float(smooth), diverge_k=float(diverge_k),
                           val_steps=tuple(run.val["steps"]), val_lrs=tuple(run.val["lrs"]),
                           val_losses=tuple(run.val["losses"]), val_accs=tuple(run.val["accs"]),
                           extended=done.extended)


def _check(name: str, ok: bool, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {rule}, but got {name}={value}.")


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _check_inputs(task: Task, *, optimizer: str, start_lr: float, end_lr: float, mode: str, steps: int | None,
                  batch_size: int, smooth: float, diverge_k: float, val_every: int | None, val_subset: int,
                  extend: str) -> int:
    """Check the range test's inputs; returns the sweep's length (``steps`` or the default)."""
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("mode", mode, MODES)
    check_choice("extend", extend, EXTEND_MODES)
    _check("start_lr", _positive(start_lr), "a positive finite number", start_lr)
    _check("end_lr", _positive(end_lr), "a positive finite number", end_lr)
    if not end_lr > start_lr:
        raise ConfigError(f"end_lr must be greater than start_lr, but got start_lr={start_lr}, end_lr={end_lr}.")
    _check("smooth", isinstance(smooth, (int, float)) and 0 <= smooth < 1, "in [0, 1)", smooth)
    _check("diverge_k", _positive(diverge_k) and diverge_k > 1, "a number > 1", diverge_k)
    if steps is not None:
        _check("steps", isinstance(steps, int) and not isinstance(steps, bool) and steps >= 2,
               "an integer >= 2", steps)
    if val_every is not None:
        _check("val_every", is_positive_int(val_every), "a positive integer or None", val_every)
        _check("val_subset", is_positive_int(val_subset), "a positive integer", val_subset)
    _check("batch_size", is_positive_int(batch_size), "a positive integer", batch_size)
    n_train = len(task.data.train)  # type: ignore[arg-type]
    if batch_size > n_train:
        raise ConfigError(f"batch_size must be <= the training set size ({n_train}), but got "
                          f"batch_size={batch_size}.")
    return steps if steps is not None else max(MIN_STEPS, steps_per_epoch(n_train, batch_size))


@dataclass(frozen=True)
class _Sweep:
    """What every sweep of one range test shares: all but its length."""

    task: Task
    optimizer: str
    start_lr: float
    end_lr: float
    mode: str
    batch_size: int
    momentum: float
    weight_decay: float
    smooth: float
    diverge_k: float
    val_every: int | None
    val_subset: int
    model: nn.Module | None
    seed: int
    progress: Progress | None


@dataclass(frozen=True)
class _Run:
    """One sweep's record, before the suggestions."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str
    diverged: bool
    cost: Cost
    val: dict[str, list[Any]]


@dataclass(frozen=True)
class _Sweeps:
    """The sweep the suggestions read, its length, the progress total, what every sweep cost, and why a
    default sweep was re-run (``None`` when it was not)."""

    run: _Run
    steps: int
    total: int
    cost: Cost
    extended: str | None


class _Watch:
    """A sweep's step callback: smooths the loss, evaluates in validation mode, and decides when to stop."""

    def __init__(self, spec: _Sweep, net: nn.Module, done_before: int, total: int) -> None:
        self.spec, self.net, self.done_before, self.total = spec, net, done_before, total
        self.avg, self.best, self.stop = 0.0, math.inf, ""
        self.smoothed: list[float] = []
        self.val: dict[str, list[Any]] = {"steps": [], "lrs": [], "losses": [], "accs": []}
        self.eval_examples = 0

    def __call__(self, step: int, lr: float, loss: float) -> bool:
        spec = self.spec
        self.avg = spec.smooth * self.avg + (1 - spec.smooth) * loss
        s = self.avg / (1 - spec.smooth ** (step + 1))  # bias correction: the average starts at zero
        self.smoothed.append(s)
        if spec.val_every is not None and (step + 1) % spec.val_every == 0:
            vl, va, n_eval = spec.task.evaluate(self.net, limit=spec.val_subset)
            self.eval_examples += n_eval
            self.val["steps"].append(step)
            self.val["lrs"].append(lr)
            self.val["losses"].append(vl)
            self.val["accs"].append(va)
        if spec.progress is not None:
            spec.progress("range test", self.done_before + step + 1, self.total)
        if not math.isfinite(s):
            self.stop = f"non-finite smoothed loss at lr {lr:.3g} (step {step})"
            return True
        if s > spec.diverge_k * self.best and self.best > 0:
            self.stop = (f"diverged: smoothed loss {s:.4g} > {spec.diverge_k:g} x best {self.best:.4g} "
                         f"at lr {lr:.3g} (step {step})")
            return True
        self.best = min(self.best, s)
        return False


def _sweep(spec: _Sweep, n: int, done_before: int, total: int) -> _Run:
    """One sweep of ``n`` steps: the trainer runs it, a :class:`_Watch` smooths and decides when to stop."""
    # each sweep starts from the same place: a fresh model, or the caller's, restored exactly after
    net = spec.task.build_model(seed=spec.seed) if spec.model is None else spec.model
    watch = _Watch(spec, net, done_before, total)
    config = TrainConfig(optimizer=spec.optimizer, lr=spec.start_lr, lr_end=spec.end_lr, momentum=spec.momentum,
                         weight_decay=spec.weight_decay, batch_size=spec.batch_size, steps=n, epochs=None,
                         schedule="range_exp" if spec.mode == "exp" else "range_linear", eval_every=0,
                         diverge_factor=None, record_steps=True, seed=spec.seed)
    if spec.model is None:
        result = train(spec.task, config, model=net, on_step=watch)
    else:
        with preserved(net):
            result = train(spec.task, config, model=net, on_step=watch)
    trace = result.trace
    assert trace is not None  # record_steps=True
    if result.status == "diverged":  # the trainer saw a NaN/inf loss before the callback could
        step = len(trace.lrs)
        stopped = (f"non-finite loss at lr {sweep_lr(spec.start_lr, spec.end_lr, n, step, spec.mode):.3g} "
                   f"(step {step})")
    elif watch.stop:
        stopped = watch.stop
    elif result.status == "completed":
        stopped = f"reached end_lr {spec.end_lr:g} after {n} steps"
    else:
        stopped = result.stop_reason
    return _Run(lrs=list(trace.lrs), losses=list(trace.losses), smoothed=watch.smoothed[:len(trace.lrs)],
                stopped=stopped, diverged=result.status == "diverged" or bool(watch.stop),
                cost=result.cost + Cost(eval_examples=watch.eval_examples), val=watch.val)


def _rerun_if_short(spec: _Sweep, run: _Run, n_steps: int, extend: str) -> _Sweeps:
    """Re-run a default-length sweep :data:`EXTEND_FACTOR` times longer when it was too short to trust.

    Too short for a slow learner: the loss barely moved, so its minimum (and the band) marks the LR big
    enough to move it within a few steps, not where training breaks.
    """
    fall = _weak_fall(run.lrs, run.losses) if extend == "weak" else None
    refused = None
    if extend == "no_band":
        try:
            suggest_band(run.lrs, run.losses)
        except ConfigError as exc:
            refused = str(exc)
    if fall is None and refused is None:
        return _Sweeps(run=run, steps=n_steps, total=n_steps, cost=run.cost, extended=None)
    n_long = EXTEND_FACTOR * n_steps
    why = (f"its smoothed loss fell {max(fall, 0.0):.1%} below its start, under {WEAK_FALL:.0%}"
           if fall is not None else f"it gave no band ({str(refused).rstrip('.')})")
    extended = f"the {n_steps}-step default sweep was too short: {why}, so it was re-run with {n_long} steps"
    _log.info("range test: %s", extended)
    longer = _sweep(spec, n_long, n_steps, n_steps + n_long)
    return _Sweeps(run=longer, steps=n_long, total=n_steps + n_long, cost=run.cost + longer.cost,
                   extended=extended)


def _weak_fall(lrs: list[float], losses: list[float]) -> float | None:
    """The fall of a sweep's loss (a fraction of its start) when it is too weak to trust, else ``None``."""
    try:
        fall = _fall_fraction(lrs, losses)
    except ConfigError:  # no readable curve (it rose at once, or too few finite points): steps will not help
        return None
    return fall if fall < WEAK_FALL else None


def _suggestions(lrs: list[float], losses: list[float]) -> tuple[dict[str, float], LRBand | None, str | None]:
    """Every rule's LR and the band; when a rule cannot read the curve, no suggestions and why (the band
    is kept when it alone was found)."""
    band: LRBand | None = None
    try:
        band = suggest_band(lrs, losses)
        return {"steepest": suggest_steepest(lrs, losses), "valley": suggest_valley(lrs, losses),
                "min_div10": suggest_min_div10(lrs, losses), "hybridtune": band.lr_max}, band, None
    except ConfigError as exc:
        _log.warning("range test gave no suggestion: %s", exc)
        return {}, band, str(exc)
