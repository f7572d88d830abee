"""Train once, the way ``hybridtune train`` does: the LR from the probe unless one is given, a recipe's
settings, the final model on train+val, a checkpoint to take home.

:func:`fit` is the one call behind the ``train`` command (the trainer itself is :func:`hybridtune.train`):

1. **Settings**: a recipe's (``best.json`` of a study, ``hybridtune export`` or ``train --save``), a
   :class:`TrainConfig` of your own, or :data:`FIT_DEFAULTS`; ``changes`` replace single values.
2. **The LR**, in this order: ``lr`` as given; the recipe's or the config's; else the probe's. The probe is
   the study's (:func:`hybridtune.find_priors` at the study's probe batch size), and the LR is the study's
   first suggestion: the 1cycle peak ``lr_max x 10**0.5`` (``StudyConfig.suggestions[0]`` on the
   ``lr_range`` band), scaled from the probe's batch size to the training batch size by
   :func:`hybridtune.scale_lr`, with the priors' momentum. The priors are cached on disk per task,
   optimizer, probe batch size and seed (and the bytes of a user's model or dataset file, and the torch
   version), so a second call does not probe again.
3. **Training** on the train split, or on train+val (then no validation metric exists: they are ``None``),
   scored on the test split.
4. Optionally a **checkpoint** (:func:`hybridtune.train.save_checkpoint`) and the **model** itself.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._core import ConfigError, ProbeError, Progress, check_choice, check_positive_int, check_writable, finite_json
from ..probes import Priors
from ..space import scale_lr, suggested_peak
from ..study import StudyConfig
from ..task import MOMENTUM_OPTIMIZERS, DataSplits, TensorSplit, checked_splits
from ..train import (Cost, EpochStats, Recipe, TrainConfig, TrainResult, onecycle_momentum, save_checkpoint,
                     train_and_test)
from ._priors import file_priors, run_probes

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from ..task import Task

_log = logging.getLogger(__name__)

#: Where :func:`fit` departs from :class:`TrainConfig`'s bare defaults when no config or recipe is given: a
#: short 1cycle run with weight decay on the weights, the way the study trains, at batch 32. Batch 32, not
#: 128: in the same epochs it takes 4x the steps, and short runs are step-starved (ResNet-8 / mnist5k, 2
#: epochs at the probe's LR: 93.9% validation accuracy at batch 32, 91.1% at 64, 76.5% at 128; the CNN, 5
#: epochs: 96.1%, 94.9%, 90.9%; ``python benchmarks/train_defaults.py --batch-sizes 32,64,128`` measures it,
#: see BENCHMARKS.md). The study's first trials use its smallest batch for the same reason.
FIT_DEFAULTS: Mapping[str, Any] = {"epochs": 2, "schedule": "onecycle", "weight_decay": 5e-4, "batch_size": 32}
#: What :func:`fit` trains on.
TRAIN_ON = ("train", "train+val")

LRSource = Literal["given", "recipe", "config", "probe"]


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` did: the training run, its test score, which LR it chose and why, what the probe cost.

    ``result`` is the training run (its ``cost`` is the training's alone); ``probe_cost`` is what the probe
    cost in this call (zero when it was not run or came from the cache) and ``total_cost`` the two together.
    With ``train_on="train+val"`` the validation metrics are ``None``: the model saw that split. ``model`` is
    the trained model only when asked for (``keep_model=True``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.fit(task, lr=0.05, epochs=1)
        >>> r.lr, r.lr_source, r.model is None, r.to_dict()["probe"]
        (0.05, 'given', True, None)
    """

    result: TrainResult
    test_loss: float | None
    test_accuracy: float | None
    lr_source: LRSource
    reason: str
    train_on: str
    recipe: Recipe
    priors: Priors | None = None
    cached: bool = False
    probe_cost: Cost = field(default_factory=Cost)
    checkpoint: str | None = None
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def config(self) -> TrainConfig:
        """The trainer settings it trained with."""
        return self.result.config

    @property
    def lr(self) -> float:
        """The LR it trained at (the peak for 1cycle)."""
        return float(self.result.config.lr)

    @property
    def val_accuracy(self) -> float | None:
        """Validation accuracy after the last epoch; ``None`` when trained on train+val."""
        return self.result.val_acc

    @property
    def total_cost(self) -> Cost:
        """The training's cost plus what the probe cost in this call."""
        return self.result.cost + self.probe_cost

    def to_dict(self) -> dict[str, Any]:
        """The training run's keys (``status``, ``val_acc``, ``epochs``, ``cost``, ``config``, ...) with the
        test score, the LR choice, the probe's summary, the cost with the probe, and the recipe."""
        probe = None
        if self.priors is not None:
            p = self.priors
            probe = {"cached": self.cached, "batch_size": p.batch_size, "lr_min": p.lr_min, "lr_max": p.lr_max,
                     "momentum": p.momentum, "cost": self.probe_cost.to_dict(), "priors_cost": p.cost.to_dict(),
                     "reasoning": p.reasoning}
        return finite_json({**self.result.to_dict(), "test_loss": self.test_loss,
                            "test_accuracy": self.test_accuracy, "train_on": self.train_on, "lr": self.lr,
                            "lr_source": self.lr_source, "lr_reason": self.reason, "probe": probe,
                            "probe_cost": self.probe_cost.to_dict(), "total_cost": self.total_cost.to_dict(),
                            "checkpoint": self.checkpoint, "recipe": self.recipe.to_dict()})


def fit(task: Task, config: TrainConfig | None = None, *, recipe: Recipe | None = None, lr: float | None = None,
        train_on: str = "train", cache: bool = True, keep_model: bool = False, save: str | Path | None = None,
        probe_batch_size: int | None = None, on_epoch: Callable[[EpochStats], Any] | None = None,
        progress: Progress | None = None, **changes: Any) -> FitResult:
    """Train once and score on the test split, choosing the LR from the (cached) probe unless it is given.

    Args:
        task: the data, model, loss and optimizer family.
        config: the trainer settings (default: :data:`FIT_DEFAULTS` on :class:`TrainConfig`); not with
            ``recipe``.
        recipe: a :class:`hybridtune.Recipe` (from :func:`hybridtune.read_recipe` or a study): its trainer
            settings, LR included. It must come from a task with ``task``'s inputs and classes.
        lr: train at exactly this LR (the peak for 1cycle); no probe. Default: the recipe's or the config's,
            else the probe's.
        train_on: ``train``, or ``train+val`` to train the final model on both splits (then no validation
            metric is reported: they are ``None``).
        cache: read and write the probe's priors in the cache folder (``$HYBRIDTUNE_CACHE``, default
            ``~/.cache/hybridtune``). A task built from Python objects is never cached.
        keep_model: put the trained model on the result (default: none is kept in memory).
        save: write a checkpoint here (weights, recipe and metrics; :func:`hybridtune.load_checkpoint`).
        probe_batch_size: the probe's batch size (default: the study's ``probe_batch_size``), capped so an
            epoch keeps 8 steps.
        on_epoch: called after every training epoch with its :class:`hybridtune.EpochStats`.
        progress: optional ``progress(phase, done, total)``; phases ``probe: range test`` and
            ``probe: momentum runs``.
        changes: single trainer settings (:class:`TrainConfig` fields) replacing the recipe's or the
            config's, e.g. ``epochs=30``; a ``momentum`` given here also wins over the probe's.

    Raises:
        ConfigError: a bad value (``train_on``, ``lr``, a setting), a recipe from another task.
        ProbeError: the probe found no LR band (pass ``lr``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.fit(task, epochs=2, cache=False)  # with the cache, a second call would not probe again
        >>> r.lr_source, r.lr == r.config.lr, r.total_cost.examples > r.result.cost.examples
        ('probe', True, True)
        >>> ht.fit(task, lr=0.05, epochs=1, train_on="train+val").val_accuracy is None
        True
    """
    # 1. where the inputs enter: check them all before any work
    updates = dict(changes)
    settings, source, train_task = _settings(task, config, recipe, lr=lr, probe_batch_size=probe_batch_size,
                                             train_on=train_on, save=save, updates=updates)

    # 2. the LR
    priors, cached, probe_cost = None, False, Cost()
    if source == "probe":
        priors, cached, probe_cost, settings, reason = _lr_from_probe(
            task, settings, keep_momentum="momentum" in updates, probe_batch_size=probe_batch_size, cache=cache,
            progress=progress)
    elif source == "recipe" and recipe is not None:
        reason = f"lr {settings.lr:.4g} from the recipe{_where(recipe)}"
    else:
        reason = f"lr {settings.lr:.4g} as given" if source == "given" else f"lr {settings.lr:.4g} from the config"
    _log.info("fit: %s", reason)

    # 3. training, and the test split
    trained = settings.replace(eval_every=0) if train_on == "train+val" else settings
    tested = train_and_test(train_task, trained, on_epoch=on_epoch)
    r = tested.result
    metrics = {"val_accuracy": r.val_acc, "val_loss": r.val_loss, "test_accuracy": tested.test_accuracy,
               "test_loss": tested.test_loss, "status": r.status, "train_on": train_on}
    origin: dict[str, Any] = {"by": "fit", "lr_source": source, "train_on": train_on}
    if recipe is not None:
        origin["recipe"] = dict(recipe.source)
    made = Recipe.of(task, settings, metrics=metrics, source=origin)

    # 4. what to take home
    checkpoint = None
    if save is not None:
        if r.diverged:
            _log.warning("fit: the run diverged (%s); its checkpoint holds the weights before that step",
                         r.stop_reason)
        checkpoint = str(save_checkpoint(save, tested.model, made))
        _log.info("fit: wrote %s", checkpoint)
    return FitResult(result=r, test_loss=tested.test_loss, test_accuracy=tested.test_accuracy,
                     lr_source=source, reason=reason, train_on=train_on, recipe=made,  # type: ignore[arg-type]
                     priors=priors, cached=cached, probe_cost=probe_cost, checkpoint=checkpoint,
                     model=tested.model if keep_model else None)


def _settings(task: Task, config: TrainConfig | None, recipe: Recipe | None, *, lr: float | None,
              probe_batch_size: int | None, train_on: str, save: str | Path | None,
              updates: dict[str, Any]) -> tuple[TrainConfig, str, Task]:
    """Check :func:`fit`'s inputs and return the trainer settings, where their LR comes from
    (``given``, ``recipe``, ``config`` or ``probe``) and the task to train on."""
    check_choice("train_on", train_on, TRAIN_ON)
    if config is not None and recipe is not None:
        raise ConfigError("fit takes the trainer settings from config or from recipe, but got both.")
    if config is not None and not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, but got {type(config).__name__}.")
    if recipe is not None:
        if not isinstance(recipe, Recipe):
            raise ConfigError(f"recipe must be a Recipe (hybridtune.read_recipe), but got {type(recipe).__name__}.")
        recipe.check_task(task)
    if lr is not None and not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr)
                               and lr > 0):
        raise ConfigError(f"lr must be a positive finite number, but got lr={lr}.")
    check_positive_int("probe_batch_size", probe_batch_size, optional=True)
    if recipe is not None:
        base, source = recipe.train, "recipe"
    elif config is not None:
        base, source = config, "config"
    else:
        base, source = TrainConfig(optimizer=task.optimizer, **FIT_DEFAULTS), "probe"
    settings = base.replace(**updates)
    if lr is not None:
        settings, source = settings.replace(lr=float(lr)), "given"
    train_task = task
    if train_on == "train+val":
        if settings.target is not None and settings.target_metric == "val_acc":
            raise ConfigError("target_metric must be train_acc when training on train+val (no validation split "
                              "is left to measure), but got target_metric='val_acc'.")
        train_task = task.replace(data=_train_plus_val(task.data))
    n_train = len(train_task.data.train)  # type: ignore[arg-type]
    if settings.batch_size > n_train:  # the trainer says so too, but only after the probe
        raise ConfigError(f"batch_size must be <= the training set size ({n_train}), but got "
                          f"batch_size={settings.batch_size}.")
    if save is not None:
        if Path(save).is_dir():
            raise ConfigError(f"save must be a file path, but got a directory: {str(save)!r}.")
        check_writable(Path(save), what="save")  # now, not after the probe and the training
    task.check_model()  # a model that cannot run on the inputs or fit the targets: one line, before the probe
    return settings, source, train_task


def _where(recipe: Recipe) -> str:
    src = recipe.source
    if src.get("study") is not None:
        return f" (study {src['study']}, trial {src.get('trial')})"
    return ""


# ----------------------------------------------------------------------------------------------
# The LR from the probe


def _lr_from_probe(task: Task, settings: TrainConfig, *, keep_momentum: bool, probe_batch_size: int | None,
                   cache: bool, progress: Progress | None) -> tuple[Priors, bool, Cost, TrainConfig, str]:
    """The study's probe and its first suggestion, for ``settings``' batch size; returns the priors, whether
    they were cached, what the probe cost now, the settings with the LR (and momentum) and why."""
    study = StudyConfig() if probe_batch_size is None else StudyConfig(probe_batch_size=probe_batch_size)
    probe_task = task if settings.optimizer == task.optimizer else task.replace(optimizer=settings.optimizer)
    probe_bs = study.probe_batch_size_for(task)
    probe = {"batch_size": probe_bs, "seed": settings.seed, "momenta": list(study.probe_momenta),
             "momentum_epochs": study.probe_momentum_epochs, "range_steps": study.probe_range_steps,
             "range_extend": study.probe_range_extend, "weight_decay": 0.0}

    def compute() -> Priors:
        try:
            return run_probes(probe_task, study, batch_size=probe_bs, seed=settings.seed, progress=progress,
                              label="probe")
        except ProbeError as exc:
            raise ProbeError(f"{exc}; pass an LR (lr=, or --lr) to train without the probe") from None

    priors, cached = file_priors(probe_task, probe, compute, cache=cache)
    # the study's first suggestion (StudyConfig.suggestions): a position on the log scale of its lr_range band
    if settings.schedule == "onecycle":
        at_probe = suggested_peak(priors.lr_max, study.lr_range, study.suggestions[0])
        rule = (f"the 1cycle peak {at_probe / priors.lr_max:.3g} x the range test's lr_max {priors.lr_max:.3g} "
                f"(the study's first suggestion)")
    else:
        # a schedule without 1cycle's warm-up: the range test's own constant-LR suggestion
        at_probe = priors.lr_max
        rule = f"the range test's lr_max {priors.lr_max:.3g} ({settings.schedule} schedule, no 1cycle peak)"
    lr = scale_lr(at_probe, settings.batch_size, probe_bs, settings.optimizer)
    scaled = f", scaled from batch {probe_bs} to {settings.batch_size}" if settings.batch_size != probe_bs else ""
    change: dict[str, Any] = {"lr": lr}
    momentum = ""
    if priors.momentum is not None and settings.optimizer in MOMENTUM_OPTIMIZERS and not keep_momentum:
        change["momentum"] = priors.momentum
        if settings.cycle_momentum is not None:
            change["cycle_momentum"] = onecycle_momentum(priors.momentum)
        momentum = f"; momentum {priors.momentum:g} from the momentum runs"
    where = "cached probe" if cached else f"probe at batch {probe_bs}"
    reason = f"lr {lr:.4g} from the {where}: {rule}{scaled}{momentum}"
    return priors, cached, Cost() if cached else priors.cost, settings.replace(**change), reason


# ----------------------------------------------------------------------------------------------
# train+val


def _train_plus_val(data: DataSplits) -> DataSplits:
    """The same splits with train and validation concatenated as the training split (test untouched)."""
    import torch
    from torch.utils.data import ConcatDataset

    train, val = data.train, data.val
    if isinstance(train, TensorSplit) and isinstance(val, TensorSplit):
        joined: Any = TensorSplit(torch.cat([train.x, val.x]), torch.cat([train.y, val.y]))
    else:
        joined = ConcatDataset([train, val])
    # two checked splits joined: no second pass over them
    return checked_splits(dataclasses.replace(data, name=f"{data.name} (train+val)", train=joined))
