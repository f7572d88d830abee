"""What is trained: data, models, the device, optimizer families, :class:`Task` and evaluation."""

from __future__ import annotations

from ._data import DataSplits, TensorSplit, make_splits
from ._datasets import list_datasets, load_dataset
from ._device import resolve_device
from ._evaluate import evaluate
from ._models import MODELS, create_model, list_models
from ._optim import MOMENTUM_OPTIMIZERS, OPTIMIZER_REGISTRY, OPTIMIZERS, OptimizerInfo, optimizer_info
from ._task import Task

__all__ = ["MODELS", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS", "OPTIMIZER_REGISTRY", "DataSplits", "OptimizerInfo", "Task",
    "TensorSplit", "create_model", "evaluate", "list_datasets", "list_models", "load_dataset", "make_splits",
    "optimizer_info", "resolve_device"]
