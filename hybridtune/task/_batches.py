"""How a split reaches a model on the device: batches, and the mixed precision of a forward pass.

The trainer and :func:`~hybridtune.evaluate` both feed a model through these two, so training and
evaluation see the data the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from ._data import LoaderSplit, Split, TensorSplit


def to_device(x: Any, device: torch.device | str, *, non_blocking: bool = False) -> Any:
    """A batch's inputs on ``device``: a tensor, or a tuple / list / dict of tensors (each moved)."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=non_blocking)
    if isinstance(x, Mapping):
        return {k: to_device(v, device, non_blocking=non_blocking) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v, device, non_blocking=non_blocking) for v in x)
    return x


def call_model(model: Any, x: Any) -> Any:
    """The model on a batch's inputs: ``model(**x)`` for a dict, ``model(*x)`` for a tuple or list, else
    ``model(x)``. The trainer, the evaluation and the checks all call a model through this."""
    if isinstance(x, Mapping):
        return model(**x)
    if isinstance(x, (tuple, list)):
        return model(*x)
    return model(x)


def take(x: Any, n: int) -> Any:
    """The first ``n`` examples of a batch's inputs (each tensor of a tuple or dict cut alike)."""
    if isinstance(x, Mapping):
        return {k: take(v, n) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(take(v, n) for v in x)
    return x[:n]


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA when ``enabled``; a no-op on other devices."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def batches(split: Split, batch_size: int, generator: torch.Generator, device: torch.device,
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
    # a user's DataLoader given as a split keeps its collate_fn; its batch size is the trial's, as for any split
    collate = split.collate_fn if isinstance(split, LoaderSplit) else None
    dataset = split.dataset if isinstance(split, LoaderSplit) else split
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                                         generator=generator if shuffle else None, collate_fn=collate,
                                         pin_memory=device.type == "cuda")
    for x, y in loader:
        yield to_device(x, device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
