"""How a split reaches a model on the device: batches, and the mixed precision of a forward pass.

The trainer and :func:`~hybridtune.evaluate` both feed a model through these two, so training and
evaluation see the data the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from ._data import Split, TensorSplit


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
    loader = torch.utils.data.DataLoader(split, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                                         generator=generator if shuffle else None,
                                         pin_memory=device.type == "cuda")
    for x, y in loader:
        yield x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
