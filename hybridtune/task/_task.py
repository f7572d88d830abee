"""Task: the data, the model factory, the loss and the optimizer family. Nothing trained yet."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._core import ConfigError, ModelError, check_choice
from ._batches import call_model, to_device
from ._data import TensorSplit, check_data, checked_splits, example_batch, example_inputs, make_splits
from ._datasets import load_dataset
from ._device import resolve_device
from ._evaluate import LossFn, MetricFn, evaluate, metric_se
from ._metric import (DIRECTIONS, KINDS, RMSE, chance_floor, chance_level, default_loss, default_metric,
                      metric_name, nothing_learned, rmse)
from ._models import (MODELS, ModelFactory, check_trainable, create_model, has_lazy_parameters, materialize,
                      resolve_model)
from ._optim import OPTIMIZERS


@dataclass(frozen=True)
class Task:
    """What is trained: data + model factory + loss + optimizer family + device.

    ``data`` may be a registry name (``"mnist5k"``), a :class:`DataSplits`, an ``(x, y)`` pair or a dict
    of splits; it is loaded and moved to the device once, here. ``model`` is a registry name, a user
    reference (``"file.py:function"``) or any callable ``(input_shape, num_classes, **kw) -> nn.Module``.
    ``kind`` is what is learned: ``classification`` (integer class ids), ``regression`` (float targets
    ``(n,)`` or ``(n, k)``) or ``multilabel`` (0/1 float targets ``(n, k)``); ``None`` reads it from the
    data (:func:`~hybridtune.task.infer_kind`; multi-label is asked for by name). Each kind has its default
    loss and metric: cross-entropy and accuracy (maximised); mean squared error and RMSE in the targets' units
    (minimised); binary cross-entropy on logits and the fraction of labels right (maximised).

    ``loss`` is any ``loss(outputs, targets) -> scalar``; ``metric`` is ``None`` for the kind's default or
    ``metric(outputs, targets)`` returning per-example scores or their mean; ``direction`` (``"maximize"``
    or ``"minimize"``) says which way it improves (default: the kind's metric's direction, ``"maximize"``
    for a metric of your own) and reaches the study's Optuna direction, pruning, the best trial and the
    comparison; ``metric_name`` names it (default: the function's name).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=200", device="cpu")
        >>> task.data.num_classes, type(task.build_model(seed=0)).__name__
        (4, 'SmallCNN')
    """

    model: str | ModelFactory = "resnet"
    data: Any = "mnist5k"
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    loss: LossFn | None = None
    metric: MetricFn | None = None
    optimizer: str = "momentum"
    device: str | torch.device = "auto"
    kind: str | None = None
    direction: str | None = None
    metric_name: str | None = None
    #: The dataset's registry spec when ``data`` was given by name (``"synthetic:n=300"``), else ``None``:
    #: what a ``hybridtune worker`` on another machine rebuilds the data from.
    data_spec: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.kind is not None:
            check_choice("kind", self.kind, KINDS)
        if self.direction is not None:
            check_choice("direction", self.direction, DIRECTIONS)
        # what the user gave, before the kind's defaults fill it in: replace() starts from these
        object.__setattr__(self, "_given", {"loss": self.loss, "metric": self.metric, "kind": self.kind,
                                            "direction": self.direction, "metric_name": self.metric_name})
        dev = resolve_device(self.device)
        if isinstance(self.data, str):
            object.__setattr__(self, "data_spec", self.data)
            data = make_splits(load_dataset(self.data, kind=self.kind), kind=self.kind)
        else:
            data = make_splits(self.data, kind=self.kind)
        kind = data.kind
        object.__setattr__(self, "kind", kind)
        if self.loss is None:
            object.__setattr__(self, "loss", default_loss(kind))
        if self.metric is None:
            object.__setattr__(self, "metric", default_metric(kind))
        if self.metric_name is None:
            object.__setattr__(self, "metric_name", RMSE if self.metric is rmse else metric_name(self.metric))
        if self.direction is None:
            object.__setattr__(self, "direction", "minimize" if self.metric is rmse else "maximize")
        # DataSplits given as they are get make_splits' checks too (non-finite inputs, fewer than 2 classes);
        # once per object: what the loaders and make_splits made is marked checked already
        data = check_data(data)
        object.__setattr__(self, "device", dev)
        # the copy on the device is marked too, so replace() hands it on without another pass
        object.__setattr__(self, "data", checked_splits(data.to(dev)))
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        resolve_model(self.model)  # fail early on an unknown name
        if isinstance(self.model, str) and self.model in MODELS:
            # a registry model refuses data it cannot take (a 1-D signal to resnet) or options it does not
            # know now, before a command prints or stores anything; on the meta device nothing is allocated
            with torch.device("meta"):
                create_model(self.model, data.input_shape, data.num_classes, **self.model_kwargs)

    @property
    def model_name(self) -> str:
        return resolve_model(self.model)[0]

    @property
    def chance(self) -> float:
        """The metric of a model that learned nothing (:func:`~hybridtune.task.nothing_learned`): chance
        accuracy for classification (the majority class's rate on the validation split where its labels are
        unbalanced, else 1/classes), the RMSE of predicting the training mean for regression. What a diverged
        trial scores.

        Example:
            >>> import torch, hybridtune as ht
            >>> x = torch.randn(200, 3); y = 2.0 * x[:, 0] + 0.5
            >>> task = ht.Task(model="mlp", data=(x, y), device="cpu")
            >>> task.kind, task.direction, task.metric_name, task.chance > 1.0
            ('regression', 'minimize', 'rmse', True)
        """
        cached = self.__dict__.get("_chance")
        if cached is None:
            d = self.data
            train_y = d.train.y if isinstance(d.train, TensorSplit) else None
            val_y = d.val.y if isinstance(d.val, TensorSplit) else None
            cached = nothing_learned(self.kind, train_y, val_y, d.num_classes, self.metric)  # type: ignore[arg-type]
            object.__setattr__(self, "_chance", cached)
        return cached

    @property
    def chance_floor(self) -> float | None:
        """What a study's best must rise above to have found anything (:func:`~hybridtune.task.chance_floor`
        above :attr:`chance`); ``None`` for a metric of the user's own."""
        if self.kind != "classification":
            return None
        return chance_floor(self.data.num_classes, len(self.data.val), self.metric_name,  # type: ignore[arg-type]
                            chance=self.chance)

    @property
    def torch_device(self) -> torch.device:
        return self.device  # type: ignore[return-value]

    def build_model(self, *, seed: int = 0, width: float | None = None) -> nn.Module:
        """A freshly initialised model on the task's device, ready to train; the same seed gives the same weights.

        Lazy modules (``nn.LazyLinear``...) are materialised here, on the CPU with two training examples, so
        every caller (the trainer, the probes, a parameter count) gets a model whose parameters exist. The
        caller's global RNG is left untouched.
        """
        kwargs = dict(self.model_kwargs)
        if width is not None:
            kwargs["width"] = width
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_model(self.model, self.data.input_shape, self.data.num_classes, **kwargs)
            # on the CPU, inside the seeded block: a lazy layer's initial weights follow the seed on any device
            if has_lazy_parameters(model):
                materialize(model, to_device(example_inputs(self.data.train), "cpu"), name=self.model_name)
        return model.to(self.torch_device)

    def check_model(self) -> None:
        """Refuse, in one line each, what would otherwise fail deep inside training: a model whose output
        does not fit the targets (one forward pass on two real training examples; the message names both
        shapes) and a metric that is NaN on the validation split (scored for the untrained model).

        Raises:
            ModelError: the model fails on the inputs, or its output shape does not fit. ConfigError: the
            metric is NaN.

        Example:
            >>> import hybridtune as ht
            >>> ht.Task(model="mlp", data="synthetic:n=200", device="cpu").check_model()
        """
        model = self.build_model(seed=0)
        check_trainable(model, name=self.model_name)  # the more basic fault first: nothing to train
        x, y = example_batch(self.data.train)
        with torch.no_grad():
            was = model.training
            model.eval()
            try:
                out = call_model(model, to_device(x, self.torch_device))
            except (RuntimeError, TypeError, ValueError, IndexError) as exc:
                shown = (f"{str(x.dtype).removeprefix('torch.')} of shape {tuple(x.shape)}"
                         if isinstance(x, torch.Tensor) else type(x).__name__)
                line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelError(f"model {self.model_name!r} must run on the task's inputs ({shown} for a batch of "
                                 f"2), but it failed: {line}") from None
            model.train(was)
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        n, k = len(y), int(self.data.num_classes)
        if self.kind == "classification":
            want = [(n, k)]
        elif y is not None:
            want = [tuple(y.shape)] + ([(n, 1)] if y.dim() == 1 else [])
        else:
            want = [(n, k)] + ([(n,)] if k == 1 else [])
        if got not in want:
            targets = f"targets of shape {tuple(y.shape)}" if y is not None else f"{k} output{'s' if k > 1 else ''}"
            what = f"{k} classes" if self.kind == "classification" else targets
            raise ModelError(f"model {self.model_name!r} must output shape {want[0]} for a batch of {n} with "
                             f"{what} ({self.kind}), but it output {got}.")
        _, value, _ = self.evaluate(model)
        if math.isnan(value):
            raise ConfigError(f"metric {self.metric_name!r} must be a number on the validation split, but it "
                              f"returned NaN for the untrained model.")

    def metric_se(self, model: nn.Module, split: Any = None) -> float | None:
        """The standard error of the task's metric for ``model`` on ``split`` (default: validation) from the
        per-example scores (:func:`~hybridtune.task.metric_se`); ``None`` for accuracy (binomial)."""
        return metric_se(model, self.data.val if split is None else split, metric=self.metric,
                         device=self.torch_device)

    def evaluate(self, model: nn.Module, split: Any = None, *, limit: int | None = None) -> tuple[float, float, int]:
        """Mean loss and metric of ``model`` on ``split`` (default: validation) with this task's loss and
        metric; returns ``(loss, metric, examples)``."""
        return evaluate(model, self.data.val if split is None else split, loss_fn=self.loss, metric=self.metric,
                        device=self.torch_device, limit=limit)

    def describe(self) -> dict[str, Any]:
        d = {"model": self.model_name, "model_kwargs": dict(self.model_kwargs), "data": self.data.describe(),
             "optimizer": self.optimizer, "device": str(self.device)}
        if self.kind == "classification" and self.chance != chance_level(self.data.num_classes):
            # unbalanced labels: chance is the majority class's rate, which a stored study's report reads back
            d["data"]["chance"] = self.chance
        if self.direction != "maximize" or self.kind != "classification":
            # a maximised classification describes itself as before (stored studies resume); the others say
            # which way their metric goes and what it is called, for the report
            d["direction"] = self.direction
            d["metric"] = self.metric_name
        return d

    def replace(self, **changes: Any) -> Task:
        """A copy with some fields changed (data is not reloaded).

        Example:
            >>> import hybridtune as ht
            >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
            >>> adam = task.replace(optimizer="adam")
            >>> adam.optimizer, adam.data_spec
            ('adam', 'synthetic:n=200')
        """
        if "optimizer" in changes:
            check_choice("optimizer", changes["optimizer"], OPTIMIZERS)
        given = self.__dict__["_given"]
        kw = {"model": self.model, "data": self.data, "model_kwargs": self.model_kwargs, "optimizer": self.optimizer,
              "device": self.device, **given}
        unknown = set(changes) - set(kw)
        if unknown:
            raise ConfigError(f"Task fields must be among {sorted(kw)}, but got {sorted(unknown)}.")
        kw.update(changes)
        task = Task(**kw)
        if "data" not in changes:
            object.__setattr__(task, "data_spec", self.data_spec)
        return task

    def with_options(self, **changes: Any) -> Task:
        """Deprecated: use :meth:`replace` (the name :class:`TrainConfig` and :class:`StudyConfig` use)."""
        warnings.warn("Task.with_options is deprecated; use Task.replace", DeprecationWarning, stacklevel=2)
        return self.replace(**changes)

    def recipe(self) -> dict[str, Any] | None:
        """What rebuilds this task in another process by names alone (a ``hybridtune worker``), or ``None``
        when the model, data, loss or metric was given as a Python object.

        Example:
            >>> import hybridtune as ht
            >>> ht.Task(model="mlp", data="synthetic:n=200", device="cpu").recipe()["data"]
            'synthetic:n=200'
        """
        given = self.__dict__["_given"]
        if not isinstance(self.model, str) or self.data_spec is None or given["loss"] is not None \
                or given["metric"] is not None:
            return None
        recipe = {"model": self.model, "model_kwargs": dict(self.model_kwargs), "data": self.data_spec,
                  "optimizer": self.optimizer}
        for key in ("kind", "direction"):  # only where given: what is read from the data is read again
            if given[key] is not None:
                recipe[key] = given[key]
        return recipe
