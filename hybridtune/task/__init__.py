"""What is trained: data, models, the device, optimizer families and :class:`Task`."""

from __future__ import annotations

from ._data import DataSplits, TensorSplit, list_datasets, load_dataset, make_splits
from ._device import resolve_device
from ._models import MODELS, create_model, list_models
from ._task import MOMENTUM_OPTIMIZERS, OPTIMIZERS, Task

__all__ = ["MODELS", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS", "DataSplits", "Task", "TensorSplit", "create_model",
    "list_datasets", "list_models", "load_dataset", "make_splits", "resolve_device"]
