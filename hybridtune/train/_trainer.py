"""The one trainer. Range test, momentum runs, trials, baselines and sweeps all call :func:`train`.

A speed-up or a bug fix here lands in every phase at once, so the hot loop is kept lean: tensors stay on
the device and are batched by index permutation, the step does nothing a hand-written loop would not,
except reading the loss (to stop a diverging run before its NaN reaches the weights) and counting
correct predictions on the device (for the train-accuracy target).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import torch
from torch import nn
from torch.optim import lr_scheduler

from ..task._data import Split, TensorSplit
from .._core._errors import ConfigError
from .._core._json import finite_json
from ..task._models import is_conv_net
from .._core._registry import check_choice
from ..task._task import MOMENTUM_OPTIMIZERS, OPTIMIZERS, LossFn, MetricFn, Task

SCHEDULES = ("constant", "onecycle", "cyclic", "power", "cosine", "range_exp", "range_linear")
Status = Literal["completed", "diverged", "stopped", "target_reached", "timeout"]


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
            (``lr * alpha**epoch``; ``alpha > 1`` raises the LR every epoch, seed 002's step 2), ``cosine`` (``CosineAnnealingLR``), or the range-test sweeps
            ``range_exp`` / ``range_linear`` from ``lr`` to ``lr_end``.
        cycle_momentum: (max, base) momentum for ``onecycle``, moved inversely to the LR; ``None``
            holds ``momentum`` fixed.
        target / target_metric: stop when ``train_acc`` (the running accuracy of the epoch) or
            ``val_acc`` reaches ``target``; the cost of getting there is recorded.
        diverge_factor: a loss above this many times the first loss counts as divergence
            (``None``: only non-finite losses do).
        max_seconds: a wall-clock budget (seed 000's 120 s).
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
    # cyclical LR (seed 002): between lr*low and lr*high, one full cycle every cyclic_epochs
    cyclic_bounds: tuple[float, float] = (0.5, 2.0)
    cyclic_epochs: float = 2.0
    # power decay (seed 002): lr * alpha**epoch; None -> (2/3)**(1/epochs); alpha > 1 raises it per epoch
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
        check_choice("schedule", self.schedule, SCHEDULES)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive finite number, but got lr={self.lr}.")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), but got momentum={self.momentum}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be >= 0, but got weight_decay={self.weight_decay}.")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, but got batch_size={self.batch_size}.")
        if self.steps is None and self.epochs is None:
            raise ConfigError("a budget must be given: epochs or steps, but got neither.")
        if self.steps is not None and (int(self.steps) != self.steps or self.steps < 1):
            raise ConfigError(f"steps must be a positive integer, but got steps={self.steps}.")
        if self.steps is None and self.epochs is not None and (int(self.epochs) != self.epochs or self.epochs < 1):
            raise ConfigError(f"epochs must be a positive integer, but got epochs={self.epochs}.")
        if self.schedule in ("range_exp", "range_linear") and not self.lr_end > self.lr:
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


@dataclass(frozen=True)
class TrainResult:
    """The frozen outcome of one :func:`train` call.

    ``status`` is ``completed``, ``diverged``, ``stopped`` (a callback), ``target_reached`` or
    ``timeout``; ``to_dict()`` is strict JSON, ``to_frame()`` one row per epoch.

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


# ----------------------------------------------------------------------------------------------
# Building blocks


def param_groups(model: nn.Module, weight_decay: float, *, decay_all: bool = False) -> list[dict[str, Any]]:
    """Split parameters into a decayed and a non-decayed group.

    Weight decay goes on tensors with >= 2 dimensions only (conv kernels, linear weights): decaying
    BatchNorm gains and biases shrinks the scale the next layer sees without regularising capacity,
    it hurts accuracy, and it is not what the papers tune (nanoGPT does the same). ``decay_all=True``
    restores the classic "decay everything".

    Example:
        >>> import hybridtune as ht
        >>> groups = ht.param_groups(ht.create_model("mlp", (4,), 2), 1e-4)
        >>> [g["weight_decay"] for g in groups]
        [0.0001, 0.0]
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if decay_all or weight_decay == 0:
        return [{"params": params, "weight_decay": weight_decay}]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer a config names, over :func:`param_groups`."""
    groups = param_groups(model, config.weight_decay, decay_all=config.decay_all)
    name, lr, m = config.optimizer, config.lr, config.momentum
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.0)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(groups, lr=lr, momentum=m, nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(m, 0.999))
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(m, 0.999))
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr)
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=lr)
    raise AssertionError(name)  # TrainConfig already checked the name


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, *, total_steps: int,
                   steps_per_epoch: int) -> lr_scheduler.LRScheduler | None:
    """The per-step LR scheduler for ``config.schedule`` (PyTorch's own wherever one exists)."""
    s = config.schedule
    if s == "constant":
        return None
    if s == "onecycle":
        cycle = config.cycle_momentum is not None and config.optimizer in MOMENTUM_OPTIMIZERS
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


def current_momentum(optimizer: torch.optim.Optimizer) -> float:
    g = optimizer.param_groups[0]
    if "betas" in g:
        return float(g["betas"][0])
    return float(g.get("momentum", 0.0))


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Steps in one epoch (the last partial batch is dropped)."""
    return n_train // batch_size


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batches(split: Split, batch_size: int, generator: torch.Generator, device: torch.device,
             *, shuffle: bool = True, drop_last: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of a split: index permutation for tensors, a DataLoader for a Dataset."""
    if isinstance(split, TensorSplit):
        n = len(split)
        order = torch.randperm(n, generator=generator).to(split.x.device) if shuffle else None
        end = (n // batch_size) * batch_size if drop_last else n
        for i in range(0, end, batch_size):
            if order is None:
                yield split.x[i:i + batch_size], split.y[i:i + batch_size]
            else:
                idx = order[i:i + batch_size]
                yield split.x[idx], split.y[idx]
        return
    loader = torch.utils.data.DataLoader(split, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                                         generator=generator if shuffle else None,
                                         pin_memory=device.type == "cuda")
    for x, y in loader:
        yield x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, *, loss_fn: LossFn = torch.nn.functional.cross_entropy,
             metric: MetricFn | None = None, batch_size: int = 1024, device: torch.device | str | None = None,
             amp: bool = True, limit: int | None = None) -> tuple[float, float, int]:
    """Mean loss and accuracy of ``model`` on ``split``; returns ``(loss, accuracy, examples)``.

    ``metric`` replaces accuracy (see :class:`Task`).

    The model's train/eval mode is restored afterwards. ``limit`` evaluates only the first examples
    (a fixed subset, as the range test's validation mode needs).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> loss, acc, n = ht.evaluate(task.build_model(), task.data.val)
        >>> n == len(task.data.val)
        True
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=dev, dtype=torch.float64)
    correct = torch.zeros((), device=dev, dtype=torch.float64 if metric is not None else torch.long)
    seen = 0
    g = torch.Generator()
    try:
        for x, y in _batches(split, batch_size, g, dev, shuffle=False, drop_last=False):
            if limit is not None and seen >= limit:
                break
            if limit is not None and seen + len(y) > limit:
                x, y = x[:limit - seen], y[:limit - seen]
            with _autocast(dev, amp):
                out = model(x)
            total_loss += loss_fn(out.float(), y).double() * len(y)
            correct = correct + metric_sum(metric, out, y)
            seen += len(y)
    finally:
        model.train(was_training)
    if seen == 0:
        return float("nan"), float("nan"), 0
    return float(total_loss.item() / seen), float(correct.item() / seen), seen


def metric_sum(metric: MetricFn | None, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The batch's summed metric: correct predictions for accuracy (``metric=None``), else the user's
    per-example scores summed (a scalar mean is scaled back by the batch size)."""
    if metric is None:
        return (out.argmax(1) == y).sum()
    scores = torch.as_tensor(metric(out.detach().float(), y))
    if scores.dim() == 0:
        return scores.double() * len(y)
    return scores.double().sum()


# ----------------------------------------------------------------------------------------------
# The trainer

EpochCallback = Callable[[EpochStats], "bool | None"]
StepCallback = Callable[[int, float, float], "bool | None"]


def train(task: Task, config: TrainConfig, *, model: nn.Module | None = None,
          on_epoch: EpochCallback | None = None, on_step: StepCallback | None = None) -> TrainResult:
    """Train once and return a frozen :class:`TrainResult`. Never raises for a diverging run.

    Args:
        task: the data, model factory, loss and device.
        config: the optimizer, schedule, budget, target and seed.
        model: train this model in place instead of building a fresh one from ``task`` and
            ``config.seed``; the caller keeps the reference (the range test, the landscape).
        on_epoch: called after every epoch with its :class:`EpochStats`; return ``True`` to stop
            (status ``stopped``). Optuna reporting and pruning hang here.
        on_step: called after every step with ``(step, lr, loss)``; return ``True`` to stop.

    The caller's global RNG state is never changed: training runs inside ``torch.random.fork_rng``
    seeded with ``config.seed``, so two calls with one seed give the same result on the CPU.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.train(task, ht.TrainConfig(lr=0.05, epochs=2, batch_size=32))
        >>> r.status, r.cost.steps
        ('completed', 12)
    """
    device = task.torch_device
    n_train = len(task.data.train)  # type: ignore[arg-type]
    if config.batch_size > n_train:
        raise ConfigError(f"batch_size must be <= the training set size ({n_train}), but got "
                          f"batch_size={config.batch_size}.")
    spe = steps_per_epoch(n_train, config.batch_size)
    total_steps = int(config.steps) if config.steps is not None else int(config.epochs) * spe  # type: ignore[arg-type]
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(config.seed)
        if model is None:
            model = task.build_model(seed=config.seed)
        return _fit(task, model, config, device, spe, total_steps, on_epoch, on_step)


def _fit(task: Task, model: nn.Module, config: TrainConfig, device: torch.device, spe: int, total_steps: int,
         on_epoch: EpochCallback | None, on_step: StepCallback | None) -> TrainResult:
    t0 = time.perf_counter()
    loss_fn, metric = task.loss, task.metric
    channels_last = device.type == "cuda" and is_conv_net(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, total_steps=total_steps, steps_per_epoch=spe)
    step_model: nn.Module = torch.compile(model) if config.compile else model  # type: ignore[assignment]
    gen = torch.Generator().manual_seed(config.seed)
    # Reading the loss every step costs nothing on the CPU; on CUDA it is a sync, so only every 16 steps.
    sync_every = 1 if (device.type != "cuda" or on_step is not None or config.record_steps) else 16
    autocast = _autocast(device, config.amp)

    epochs: list[EpochStats] = []
    lrs: list[float] = []
    moms: list[float] = []
    losses: list[float] = []
    status: Status = "completed"
    reason = f"budget of {total_steps} steps done"
    target_hit: TargetHit | None = None
    first_loss: float | None = None
    step = examples = eval_examples = 0
    epoch = 0
    model.train()
    while step < total_steps and status == "completed":
        epoch += 1
        ep_t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long if metric is None else torch.float64)
        ep_examples = ep_steps = 0
        pending: list[torch.Tensor] = []
        for x, y in _batches(task.data.train, config.batch_size, gen, device):
            if channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            lr_now = optimizer.param_groups[0]["lr"]
            if config.record_steps:
                moms.append(current_momentum(optimizer))
            with autocast:
                out = step_model(x)
                loss = loss_fn(out.float(), y)
            if sync_every == 1:
                loss_f = loss.item()
                bad = _divergence(loss_f, first_loss, config.diverge_factor)
                if bad:
                    status, reason = "diverged", f"{bad} at step {step}"
                    break
                if first_loss is None:
                    first_loss = loss_f
            else:
                pending.append(loss.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.detach()
            if metric is None:
                correct += (out.detach().argmax(1) == y).sum()
            else:
                correct += metric_sum(metric, out, y)
            step += 1
            ep_steps += 1
            ep_examples += len(y)
            if config.record_steps:
                lrs.append(lr_now)
                losses.append(loss_f)
            if len(pending) >= sync_every:
                vals = torch.stack(pending).tolist()
                pending.clear()
                for v in vals:
                    bad = _divergence(v, first_loss, config.diverge_factor)
                    if bad:
                        status, reason = "diverged", f"{bad} near step {step}"
                        break
                    if first_loss is None:
                        first_loss = v
                if status != "completed":
                    break
            if on_step is not None and on_step(step - 1, lr_now, loss_f):
                status, reason = "stopped", f"stopped by the step callback at step {step - 1}"
                break
            if config.max_seconds is not None and time.perf_counter() - t0 > config.max_seconds:
                status, reason = "timeout", f"time budget of {config.max_seconds:g}s ran out at step {step}"
                break
            if step >= total_steps:
                break
        if pending and status == "completed":
            for v in torch.stack(pending).tolist():
                bad = _divergence(v, first_loss, config.diverge_factor)
                if bad:
                    status, reason = "diverged", f"{bad} near step {step}"
                    break
        examples += ep_examples
        if ep_steps == 0:
            break
        train_loss = float(loss_sum.item()) / ep_steps
        train_acc = float(correct.item()) / ep_examples
        val_loss = val_acc = None
        evaluate_now = (config.eval_every and status != "diverged"
                        and (epoch % config.eval_every == 0 or step >= total_steps or status != "completed"))
        if evaluate_now:
            val_loss, val_acc, n_eval = evaluate(model, task.data.val, loss_fn=loss_fn, metric=metric,
                                                 batch_size=config.eval_batch_size, device=device, amp=config.amp)
            eval_examples += n_eval
        stats = EpochStats(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                           val_acc=val_acc, lr=optimizer.param_groups[0]["lr"],
                           seconds=time.perf_counter() - ep_t0, examples=ep_examples)
        epochs.append(stats)
        if status != "completed":
            break
        if config.target is not None and target_hit is None:
            value = train_acc if config.target_metric == "train_acc" else val_acc
            if value is not None and value >= config.target:
                target_hit = TargetHit(config.target_metric, config.target, value, epoch, step, examples,
                                       time.perf_counter() - t0)
                if config.stop_at_target:
                    status, reason = "target_reached", (f"{config.target_metric} {value:.4f} >= "
                                                        f"{config.target:g} after epoch {epoch}")
                    break
        if on_epoch is not None and on_epoch(stats):
            status, reason = "stopped", f"stopped by the epoch callback after epoch {epoch}"
            break
    if status == "completed" and config.target is not None and target_hit is None:
        reason += f"; target {config.target_metric} >= {config.target:g} not reached"
    cost = Cost(examples=examples, steps=step, seconds=time.perf_counter() - t0, eval_examples=eval_examples,
                epochs=examples / (spe * config.batch_size))
    trace = StepTrace(tuple(lrs), tuple(moms), tuple(losses)) if config.record_steps else None
    return TrainResult(status=status, stop_reason=reason, epochs=tuple(epochs), cost=cost, config=config,
                       target=target_hit, trace=trace)


def _divergence(loss: float, first: float | None, factor: float | None) -> str | None:
    if not math.isfinite(loss):
        return f"non-finite loss ({loss})"
    if factor is not None and first is not None and loss > factor * max(first, 1e-8):
        return f"loss {loss:.4g} exceeded {factor:g} x the first loss {first:.4g}"
    return None
