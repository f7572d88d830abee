"""The one training loop. Range test, momentum runs, trials, baselines and sweeps all call :func:`train`.

A speed-up or a bug fix here lands in every phase at once, so the hot loop is kept lean: tensors stay on
the device and are batched by index permutation, the step does nothing a hand-written loop would not,
except reading the loss (to stop a diverging run before its NaN reaches the weights) and counting
correct predictions on the device (for the train-accuracy target).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim import lr_scheduler

from .._core import ConfigError
from ..task import (Task, autocast, batches, check_trainable, evaluate, example_inputs, has_lazy_parameters,
                    call_model, finish_metric, is_conv_net, materialize, metric_sum, to_device)
from ._config import TrainConfig
from ._optimizer import current_momentum, make_optimizer
from ._results import Cost, EpochStats, Status, StepTrace, TargetHit, TrainResult
from ._schedules import make_scheduler

EpochCallback = Callable[[EpochStats], "bool | None"]
StepCallback = Callable[[int, float, float], "bool | None"]


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Steps in one epoch (the last partial batch is dropped)."""
    return n_train // batch_size


def train(task: Task, config: TrainConfig, *, model: nn.Module | None = None,
          on_epoch: EpochCallback | None = None, on_step: StepCallback | None = None,
          keep_model: bool = False) -> TrainResult:
    """Train once and return a frozen :class:`TrainResult`. Never raises for a diverging run.

    Args:
        task: the data, model factory, loss and device.
        config: the optimizer, schedule, budget, target and seed.
        model: train this model in place instead of building a fresh one from ``task`` and
            ``config.seed``; the caller keeps the reference (the range test, the landscape).
        on_epoch: called after every epoch with its :class:`EpochStats`; return ``True`` to stop
            (status ``stopped``). Optuna reporting and pruning hang here.
        on_step: called after every step with ``(step, lr, loss)``; return ``True`` to stop.
        keep_model: put the trained model on the result (``result.model``); by default none is kept, so a
            result in a list of thousands of trials holds no weights.

    The caller's global RNG state is never changed: training runs inside ``torch.random.fork_rng``
    seeded with ``config.seed``, so two calls with one seed give the same result on the CPU.

    Example:
        >>> import torch, hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.train(task, ht.TrainConfig(lr=0.05, epochs=2, batch_size=32))
        >>> r.status, r.cost.steps, r.model is None
        ('completed', 12, True)
        >>> kept = ht.train(task, ht.TrainConfig(lr=0.05, epochs=2, batch_size=32), keep_model=True)
        >>> isinstance(kept.model, torch.nn.Module), "model" in kept.to_dict()
        (True, False)
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
        result = _fit(task, model, config, spe, total_steps, on_epoch, on_step)
    return dataclasses.replace(result, model=model) if keep_model else result


@dataclass(frozen=True)
class _Parts:
    """What one run trains with, built once before its first step."""

    model: nn.Module
    step_model: nn.Module  # the compiled model when config.compile, else model itself
    optimizer: torch.optim.Optimizer
    scheduler: lr_scheduler.LRScheduler | None
    device: torch.device
    generator: torch.Generator
    sync_every: int
    channels_last: bool
    autocast: contextlib.AbstractContextManager[Any]


@dataclass
class _RunState:
    """The loop's bookkeeping so far (mutable, never returned: :class:`TrainResult` is built from it)."""

    total_steps: int
    t0: float
    factor: float | None  # config.diverge_factor
    status: Status = "completed"
    reason: str = ""
    step: int = 0
    examples: int = 0
    eval_examples: int = 0
    first_loss: float | None = None
    target: TargetHit | None = None
    epochs: list[EpochStats] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    momenta: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status == "completed"

    def stop(self, status: Status, reason: str) -> None:
        self.status, self.reason = status, reason

    def check_divergence(self, pending: list[torch.Tensor], where: str) -> list[float]:
        """The one divergence check: read the pending losses (one device sync), stop the run at the first
        that diverged. Returns the losses read."""
        values = [pending[0].item()] if len(pending) == 1 else torch.stack(pending).tolist()
        pending.clear()
        for v in values:
            bad = _divergence(v, self.first_loss, self.factor)
            if bad:
                self.stop("diverged", f"{bad} {where} step {self.step}")
                break
            if self.first_loss is None:
                self.first_loss = v
        return values


def _fit(task: Task, model: nn.Module, config: TrainConfig, spe: int, total_steps: int,
         on_epoch: EpochCallback | None, on_step: StepCallback | None) -> TrainResult:
    run = _RunState(total_steps=total_steps, t0=time.perf_counter(), factor=config.diverge_factor,
                    reason=f"budget of {total_steps} steps done")
    parts = _prepare(task, model, config, total_steps, spe, on_step)
    epoch = 0
    parts.model.train()
    while run.step < total_steps and run.running:
        epoch += 1
        stats = _epoch(task, parts, config, run, epoch, on_step)
        if stats is None or not run.running:
            break
        _check_target(config, run, stats)
        if not run.running:
            break
        if on_epoch is not None and on_epoch(stats):
            run.stop("stopped", f"stopped by the epoch callback after epoch {epoch}")
    if run.running and config.target is not None and run.target is None:
        run.reason += f"; target {config.target_metric} >= {config.target:g} not reached"
    cost = Cost(examples=run.examples, steps=run.step, seconds=time.perf_counter() - run.t0,
                eval_examples=run.eval_examples, epochs=run.examples / (spe * config.batch_size))
    # a loss read for a step that never finished (the one that diverged) is not the trace's
    trace = StepTrace(tuple(run.lrs), tuple(run.momenta), tuple(run.losses[:len(run.lrs)])) \
        if config.record_steps else None
    return TrainResult(status=run.status, stop_reason=run.reason, epochs=tuple(run.epochs), cost=cost,
                       config=config, target=run.target, trace=trace)


def _prepare(task: Task, model: nn.Module, config: TrainConfig, total_steps: int, spe: int,
             on_step: StepCallback | None) -> _Parts:
    device = task.torch_device
    if has_lazy_parameters(model):  # a caller's own model (Task.build_model materialises its own)
        materialize(model, to_device(example_inputs(task.data.train), device), name=task.model_name)
    check_trainable(model, name=task.model_name)
    channels_last = device.type == "cuda" and is_conv_net(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, total_steps=total_steps, steps_per_epoch=spe)
    step_model: nn.Module = torch.compile(model) if config.compile else model  # type: ignore[assignment]
    # Reading the loss every step costs nothing on the CPU; on CUDA it is a sync, so only every 16 steps (a
    # step trace is filled at each read: it needs no sync of its own).
    sync_every = 1 if (device.type != "cuda" or on_step is not None) else 16
    return _Parts(model=model, step_model=step_model, optimizer=optimizer, scheduler=scheduler, device=device,
                  generator=torch.Generator().manual_seed(config.seed), sync_every=sync_every,
                  channels_last=channels_last, autocast=autocast(device, config.amp))


def _epoch(task: Task, parts: _Parts, config: TrainConfig, run: _RunState, epoch: int,
           on_step: StepCallback | None) -> EpochStats | None:
    """One epoch of steps, then its evaluation; ``None`` when it took no step (it diverged at once)."""
    ep_t0 = time.perf_counter()
    loss_sum, correct, examples, steps = _steps(task, parts, config, run, on_step)
    run.examples += examples
    if steps == 0:
        return None
    val_loss = val_acc = None
    evaluate_now = (config.eval_every and run.status != "diverged"
                    and (epoch % config.eval_every == 0 or run.step >= run.total_steps or not run.running))
    if evaluate_now:
        val_loss, val_acc, n_eval = evaluate(parts.model, task.data.val, loss_fn=task.loss, metric=task.metric,
                                             batch_size=config.eval_batch_size, device=parts.device,
                                             amp=config.amp)
        run.eval_examples += n_eval
    stats = EpochStats(epoch=epoch, train_loss=float(loss_sum.item()) / steps,
                       train_acc=finish_metric(task.metric, float(correct.item()) / examples),
                       val_loss=val_loss, val_acc=val_acc,
                       lr=parts.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - ep_t0,
                       examples=examples)
    run.epochs.append(stats)
    return stats


def _steps(task: Task, parts: _Parts, config: TrainConfig, run: _RunState,
           on_step: StepCallback | None) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """The steps of one epoch; returns the summed loss and metric (on the device), examples and steps."""
    device, optimizer = parts.device, parts.optimizer
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long if task.metric is None else torch.float64)
    examples = steps = 0
    pending: list[torch.Tensor] = []
    loss_f = math.nan  # read every step whenever on_step uses it (sync_every == 1)
    for x, y in batches(task.data.train, config.batch_size, parts.generator, device):
        if parts.channels_last and isinstance(x, torch.Tensor) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        lr_now = optimizer.param_groups[0]["lr"]
        if config.record_steps:
            run.momenta.append(current_momentum(optimizer))
        with parts.autocast:
            out = call_model(parts.step_model, x)
            loss = task.loss(out.float(), y)
        pending.append(loss.detach())
        if len(pending) >= parts.sync_every:  # before backward: a diverged loss never reaches the weights
            read = run.check_divergence(pending, "at" if parts.sync_every == 1 else "near")
            loss_f = read[-1]
            if config.record_steps:
                run.losses.extend(read)
            if not run.running:
                break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(parts.model.parameters(), config.grad_clip)
        optimizer.step()
        if parts.scheduler is not None:
            parts.scheduler.step()
        loss_sum += loss.detach()
        correct += metric_sum(task.metric, out, y)
        run.step += 1
        steps += 1
        examples += len(y)
        if config.record_steps:
            run.lrs.append(lr_now)
        if on_step is not None and on_step(run.step - 1, lr_now, loss_f):
            run.stop("stopped", f"stopped by the step callback at step {run.step - 1}")
            break
        if config.max_seconds is not None and time.perf_counter() - run.t0 > config.max_seconds:
            run.stop("timeout", f"time budget of {config.max_seconds:g}s ran out at step {run.step}")
            break
        if run.step >= run.total_steps:
            break
    if pending:  # the steps since the last read (a stopped run's too, for its trace)
        read = run.check_divergence(pending, "near") if run.running else torch.stack(pending).tolist()
        if config.record_steps:
            run.losses.extend(read)
    return loss_sum, correct, examples, steps


def _check_target(config: TrainConfig, run: _RunState, stats: EpochStats) -> None:
    """Record when the run first reaches its target, and stop it there when ``stop_at_target``."""
    if config.target is None or run.target is not None:
        return
    value = stats.train_acc if config.target_metric == "train_acc" else stats.val_acc
    if value is None or value < config.target:
        return
    run.target = TargetHit(config.target_metric, config.target, value, stats.epoch, run.step, run.examples,
                           time.perf_counter() - run.t0)
    if config.stop_at_target:
        run.stop("target_reached", f"{config.target_metric} {value:.4f} >= {config.target:g} after epoch "
                                   f"{stats.epoch}")


def _divergence(loss: float, first: float | None, factor: float | None) -> str | None:
    if not math.isfinite(loss):
        return f"non-finite loss ({loss})"
    if factor is not None and first is not None and loss > factor * max(first, 1e-8):
        return f"loss {loss:.4g} exceeded {factor:g} x the first loss {first:.4g}"
    return None
