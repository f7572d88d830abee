"""Task: the data, the model factory, the loss and the optimizer family. Nothing trained yet."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .._core import ConfigError, check_choice
from ._data import DataSplits, check_data, checked_splits, example_inputs, make_splits
from ._datasets import load_dataset
from ._device import resolve_device
from ._evaluate import LossFn, MetricFn, evaluate
from ._metric import chance_floor, chance_level, metric_name
from ._models import MODELS, ModelFactory, create_model, has_lazy_parameters, materialize, resolve_model
from ._optim import OPTIMIZERS


@dataclass(frozen=True)
class Task:
    """What is trained: data + model factory + loss + optimizer family + device.

    ``data`` may be a registry name (``"mnist5k"``), a :class:`DataSplits`, an ``(x, y)`` pair or a dict
    of splits; it is loaded and moved to the device once, here. ``model`` is a registry name, a user
    reference (``"file.py:function"``) or any callable ``(input_shape, num_classes, **kw) -> nn.Module``.
    ``loss`` is any ``loss(outputs, targets) -> scalar``; ``metric`` is ``None`` for accuracy (argmax
    against the label) or ``metric(outputs, targets)`` returning per-example scores or their mean,
    higher being better. Whatever the metric, results report it under the ``*_acc`` names and the
    study maximises it.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=200", device="cpu")
        >>> task.data.num_classes, type(task.build_model(seed=0)).__name__
        (4, 'SmallCNN')
    """

    model: str | ModelFactory = "resnet"
    data: Any = "mnist5k"
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    loss: LossFn = F.cross_entropy
    metric: MetricFn | None = None
    optimizer: str = "momentum"
    device: str | torch.device = "auto"
    #: The dataset's registry spec when ``data`` was given by name (``"synthetic:n=300"``), else ``None``:
    #: what a ``hybridtune worker`` on another machine rebuilds the data from.
    data_spec: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        dev = resolve_device(self.device)
        if isinstance(self.data, str):
            object.__setattr__(self, "data_spec", self.data)
            data = load_dataset(self.data)
        elif isinstance(self.data, DataSplits):
            data = self.data
        else:
            data = make_splits(self.data)
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
    def metric_name(self) -> str:
        """What the studies' objective is called (:func:`~hybridtune.task.metric_name`).

        Example:
            >>> import hybridtune as ht
            >>> def f1(outputs, targets): ...
            >>> ht.Task(model="mlp", data="synthetic:n=200", device="cpu", metric=f1).metric_name
            'f1'
        """
        return metric_name(self.metric)

    @property
    def chance(self) -> float:
        """The accuracy of guessing (:func:`~hybridtune.task.chance_level`): what a diverged trial scores."""
        return chance_level(self.data.num_classes)

    @property
    def chance_floor(self) -> float | None:
        """What a study's best must rise above to have found anything (:func:`~hybridtune.task.chance_floor`);
        ``None`` for a metric of the user's own."""
        return chance_floor(self.data.num_classes, len(self.data.val), self.metric_name)  # type: ignore[arg-type]

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
                materialize(model, example_inputs(self.data.train).cpu(), name=self.model_name)
        return model.to(self.torch_device)

    def evaluate(self, model: nn.Module, split: Any = None, *, limit: int | None = None) -> tuple[float, float, int]:
        """Mean loss and metric of ``model`` on ``split`` (default: validation) with this task's loss and
        metric; returns ``(loss, metric, examples)``."""
        return evaluate(model, self.data.val if split is None else split, loss_fn=self.loss, metric=self.metric,
                        device=self.torch_device, limit=limit)

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_name, "model_kwargs": dict(self.model_kwargs), "data": self.data.describe(),
                "optimizer": self.optimizer, "device": str(self.device)}

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
        kw = {"model": self.model, "data": self.data, "model_kwargs": self.model_kwargs, "loss": self.loss,
              "metric": self.metric, "optimizer": self.optimizer, "device": self.device}
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
        if not isinstance(self.model, str) or self.data_spec is None or self.loss is not F.cross_entropy \
                or self.metric is not None:
            return None
        return {"model": self.model, "model_kwargs": dict(self.model_kwargs), "data": self.data_spec,
                "optimizer": self.optimizer}
