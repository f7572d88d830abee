"""What is trained: data, models, the device, optimizer families, :class:`Task`, its metric and evaluation."""

from __future__ import annotations

from ._batches import autocast, batches, call_model, take, to_device
from ._data import (DataSplits, LoaderSplit, TensorSplit, as_inputs, checked_splits, example_batch, example_inputs,
                    make_splits)
from ._datasets import cache_dir, list_datasets, load_dataset
from ._device import resolve_device
from ._evaluate import evaluate, metric_se, metric_sum
from ._metric import (CHANCE_Z, DIRECTIONS, KINDS, RMSE, VALIDATION_ACCURACY, as_rows, bce_loss, chance_floor,
                      chance_level, class_chance, default_loss, default_metric, finish_metric, infer_kind, label_accuracy, metric_name,
                      mse_loss, nothing_learned, rmse)
from ._models import MODELS, check_trainable, create_model, has_lazy_parameters, is_conv_net, list_models, materialize
from ._optim import DEFAULT_MOMENTUM, MOMENTUM_OPTIMIZERS, OPTIMIZER_REGISTRY, OPTIMIZERS, OptimizerInfo, optimizer_info
from ._task import Task

__all__ = [
    # data
    "DataSplits", "LoaderSplit", "TensorSplit", "as_inputs", "batches", "call_model", "example_batch", "take",
    "to_device", "cache_dir", "checked_splits", "example_inputs", "list_datasets",
    "load_dataset", "make_splits",
    # models
    "MODELS", "check_trainable", "create_model", "has_lazy_parameters", "is_conv_net", "list_models", "materialize",
    # optimizer families
    "DEFAULT_MOMENTUM", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS", "OPTIMIZER_REGISTRY", "OptimizerInfo", "optimizer_info",
    # the task, its device, its metric
    "CHANCE_Z", "Task", "VALIDATION_ACCURACY", "autocast", "chance_floor", "chance_level", "class_chance",
    "evaluate", "metric_name",
    "metric_se", "metric_sum", "resolve_device",
    # what a task learns, its defaults and which way its metric improves
    "DIRECTIONS", "KINDS", "RMSE", "as_rows", "bce_loss", "default_loss", "default_metric", "finish_metric",
    "infer_kind", "label_accuracy", "mse_loss", "nothing_learned", "rmse",
]
