"""The optimizer of a config: its family's record builds it over the weight-decay parameter groups."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..task import optimizer_info
from ._config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float, *, decay_all: bool = False) -> list[dict[str, Any]]:
    """Split parameters into a decayed and a non-decayed group.

    Weight decay goes on tensors with >= 2 dimensions only (conv kernels, linear weights): decaying
    BatchNorm gains and biases shrinks the scale the next layer sees without regularising capacity,
    it hurts accuracy, and it is not what the papers tune (nanoGPT does the same). ``decay_all=True``
    restores the classic "decay everything".

    Example:
        >>> import hybridtune as ht
        >>> groups = ht.param_groups(ht.create_model("mlp", (4,), 2), 1e-4)
        >>> [g["weight_decay"] for g in groups]
        [0.0001, 0.0]
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if decay_all or weight_decay == 0:
        return [{"params": params, "weight_decay": weight_decay}]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer a config names, over :func:`param_groups`."""
    groups = param_groups(model, config.weight_decay, decay_all=config.decay_all)
    return optimizer_info(config.optimizer).create(groups, lr=config.lr, momentum=config.momentum)


def current_momentum(optimizer: torch.optim.Optimizer) -> float:
    """The momentum (or Adam's beta1) the optimizer steps with now; 0 for families without one."""
    g = optimizer.param_groups[0]
    if "betas" in g:
        return float(g["betas"][0])
    return float(g.get("momentum", 0.0))
