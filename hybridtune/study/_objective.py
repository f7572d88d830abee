"""The trial objective (:func:`train_trial`: one 1cycle run with the one trainer)."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from .._core import TrialFailed, finite_json
from ..train import train
from . import keys
from ._budget import over_budget

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..space import Hyperparams
    from ..task import Task
    from ..train import TrainResult
    from ._config import StudyConfig

_log = logging.getLogger(__name__)


def worker_id() -> str:
    """``host:pid``: which process ran a trial (user attribute ``worker`` of every trial)."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is the device running out of memory (a failure of this trial's batch size)."""
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def train_trial(trial: optuna.Trial, task: Task, hp: Hyperparams, config: StudyConfig, *, prune: bool,
                chance: float) -> float:
    """One trial: 1cycle training with the one trainer, reporting validation accuracy every epoch.

    The run is ``config.epochs`` long, or, for a trial on the multi-fidelity ladder, its ticket's
    :data:`~hybridtune.study.keys.FIDELITY` epochs: a complete 1cycle of that length, never pruned.

    Out of memory is this trial's failure (:class:`TrialFailed`, the reason stored as ``fail_reason``);
    Ctrl-C marks the trial failed (``outcome="interrupted"``) and stops the process. A diverged run
    returns ``chance`` (``outcome="diverged"``).
    """

    # a trial on the ladder is a complete 1cycle of its rung's length, and its rung is its pruning
    rung_epochs = trial.user_attrs.get(keys.FIDELITY)
    epochs = int(config.epochs if rung_epochs is None else rung_epochs)  # type: ignore[arg-type]
    prune = prune and rung_epochs is None
    # the prior-guided sampler reads how far each trial's loss climbed at its peak LR, from its step trace
    tc = hp.train_config(optimizer=task.optimizer, epochs=epochs, seed=config.seed,
                         record_steps=config.space == "prior")
    pruned_at: list[int] = []
    # the range test's suggestions run to the end: the pruner still records them (the bar for the others)
    suggestion = bool(trial.user_attrs.get(keys.SOURCE))

    def on_epoch(e: Any) -> bool | None:
        if e.val_acc is None:
            return None
        trial.report(float(e.val_acc), e.epoch)
        # the last epoch is the trial's result: nothing is saved by pruning it
        if prune and e.epoch < epochs and trial.should_prune() and not suggestion:
            pruned_at.append(e.epoch)
            return True
        return None

    try:  # from the trial's first storage call to its last: Ctrl-C anywhere in it marks it interrupted
        if config.budgeted:
            _check_budget(trial)
        trial.set_user_attr(keys.HYPERPARAMS, finite_json(hp.to_dict()))
        trial.set_user_attr(keys.WORKER, worker_id())
        try:
            # a metric other than accuracy needs the model once more, for its SE from the per-example scores
            r = train(task, tc, on_epoch=on_epoch, keep_model=task.metric is not None)
        except Exception as exc:
            if not is_oom(exc):
                raise
            _fail_out_of_memory(trial, task, hp, exc)
        value = _record_outcome(trial, r, pruned_at, chance)
        if task.metric is not None and trial.user_attrs.get(keys.OUTCOME) == keys.OUTCOME_COMPLETED \
                and getattr(r, "model", None) is not None:
            se = task.metric_se(r.model)
            if se is not None and math.isfinite(se):
                trial.set_user_attr(keys.VAL_SE, se)
        return value
    except KeyboardInterrupt:
        trial.set_user_attr(keys.OUTCOME, keys.OUTCOME_INTERRUPTED)
        trial.set_user_attr(keys.FAIL_REASON, "interrupted (Ctrl-C); re-running the study runs it again")
        raise


def _record_outcome(trial: optuna.Trial, r: TrainResult, pruned_at: list[int], chance: float) -> float:
    """Store the finished run and its outcome; returns the trial's value (``chance`` for a diverged run) or
    raises ``TrialPruned``."""
    import optuna

    _record_run(trial, r)
    if pruned_at:
        trial.set_user_attr(keys.OUTCOME, keys.OUTCOME_PRUNED)
        raise optuna.TrialPruned(f"pruned after epoch {pruned_at[0]}")
    if r.diverged or r.val_acc is None or not math.isfinite(r.val_acc):
        trial.set_user_attr(keys.OUTCOME, keys.OUTCOME_DIVERGED)
        _log.info("trial %d diverged (%s); recorded at the value of learning nothing %.4g", trial.number,
                  r.stop_reason, chance)
        return chance
    trial.set_user_attr(keys.OUTCOME, keys.OUTCOME_COMPLETED)
    return float(r.val_acc)


def _check_budget(trial: optuna.Trial) -> None:
    """Fail the trial before it trains (``outcome="over budget"``) when its study's budget cannot pay for it."""
    budget = trial.study.user_attrs.get(keys.BUDGET)
    if budget is not None and over_budget(trial.study.get_trials(deepcopy=False), budget, trial.number):
        trial.set_user_attr(keys.OUTCOME, keys.OUTCOME_OVER_BUDGET)
        raise TrialFailed(f"the study's budget of {budget['examples']:,} examples cannot pay for this trial")


def _fail_out_of_memory(trial: optuna.Trial, task: Task, hp: Hyperparams, exc: BaseException) -> None:
    """Record out of memory as this trial's own failure and raise :class:`TrialFailed` (the study goes on)."""
    import torch

    if task.torch_device.type == "cuda":
        torch.cuda.empty_cache()
    reason = f"out of memory at batch size {hp.batch_size} on {task.torch_device}: {str(exc).splitlines()[0]}"
    trial.set_user_attr(keys.OUTCOME, keys.OUTCOME_FAILED)
    trial.set_user_attr(keys.FAIL_REASON, reason)
    _log.warning("trial %d failed: %s", trial.number, reason)
    raise TrialFailed(reason) from None


def _record_run(trial: optuna.Trial, r: TrainResult) -> None:
    """Store what the run cost, its per-epoch curve and why it stopped."""
    trial.set_user_attr(keys.COST, finite_json(r.cost.to_dict()))
    trial.set_user_attr(keys.CURVE, finite_json([
        {"epoch": e.epoch, "val_acc": e.val_acc, "val_loss": e.val_loss, "train_loss": e.train_loss,
         "train_acc": e.train_acc, "seconds": e.seconds, "examples": e.examples} for e in r.epochs]))
    trial.set_user_attr(keys.STOP_REASON, r.stop_reason)
    rise = r.trace.loss_rise() if r.trace is not None else None
    if rise is not None:
        trial.set_user_attr(keys.LOSS_RISE, rise)
