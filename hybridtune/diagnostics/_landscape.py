"""The 7-step procedure's weight-space line searches (steps 1 and 7).

1. From the initial weights along a random, filter-normalised direction (Li et al. 2018): each filter
   of the direction is rescaled to the norm of the same filter in the weights, so the plot's scale
   means the same thing for every layer. Biases and BatchNorm parameters get no direction.
2. Along the segment from the initial to the trained weights, extended beyond both ends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._core import ConfigError, finite_json
from ..task import Task
from ..train import Cost, TrainConfig, TrainResult, train


@dataclass(frozen=True)
class LineCurve:
    """Loss and accuracy at points ``alpha`` along a line in weight space.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> curve = ht.landscape(task, ht.TrainConfig(epochs=1, batch_size=32), points=3).segment
        >>> curve.kind, 0.0 in curve.alphas and 1.0 in curve.alphas
        ('segment', True)
    """

    kind: str
    alphas: tuple[float, ...]
    train_loss: tuple[float, ...]
    train_acc: tuple[float, ...]
    val_loss: tuple[float, ...]
    val_acc: tuple[float, ...]

    def at(self, alpha: float) -> dict[str, float]:
        i = int(np.argmin(np.abs(np.asarray(self.alphas) - alpha)))
        return {"alpha": self.alphas[i], "train_loss": self.train_loss[i], "train_acc": self.train_acc[i],
                "val_loss": self.val_loss[i], "val_acc": self.val_acc[i]}


@dataclass(frozen=True)
class LandscapeResult:
    """The two line searches and the training run between them.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.landscape(task, ht.TrainConfig(epochs=1, batch_size=32), points=3)
        >>> r.random_direction.kind, r.training.status
        ('random-direction', 'completed')
    """

    random_direction: LineCurve
    segment: LineCurve
    training: TrainResult
    cost: Cost

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"random_direction": asdict(self.random_direction), "segment": asdict(self.segment),
                        "training": self.training.to_dict(), "cost": self.cost.to_dict()})


def filter_normalized_direction(model: nn.Module, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random direction shaped like the model's parameters, each filter scaled to the weights' norm."""
    g = torch.Generator().manual_seed(seed)
    direction: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        if p.dim() < 2:
            direction[name] = torch.zeros_like(p)
            continue
        d = torch.randn(p.shape, generator=g).to(p.device, p.dtype)
        w = p.detach()
        # per filter (first axis): ||d_i|| := ||w_i||
        d_norm = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        w_norm = w.flatten(1).norm(dim=1)
        direction[name] = d * (w_norm / d_norm).view(-1, *([1] * (p.dim() - 1)))
    return direction


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _line(model: nn.Module, points: Callable[[float], dict[str, torch.Tensor]], alphas: Sequence[float],
          task: Task, subset: int, kind: str) -> tuple[LineCurve, int]:
    probe = copy.deepcopy(model)
    cols: dict[str, list[float]] = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    examples = 0
    for a in alphas:
        probe.load_state_dict(points(a))
        for split_name, split in (("train", task.data.train), ("val", task.data.val)):
            loss, acc, n = task.evaluate(probe, split, limit=subset)
            cols[f"{split_name}_loss"].append(loss)
            cols[f"{split_name}_acc"].append(acc)
            examples += n
    return LineCurve(kind=kind, alphas=tuple(float(a) for a in alphas),
                     **{k: tuple(v) for k, v in cols.items()}), examples


def line_search(task: Task, start: nn.Module, end: nn.Module | None = None, *,
                direction: dict[str, torch.Tensor] | None = None, alphas: Sequence[float],
                subset: int = 2048) -> LineCurve:
    """Loss along ``start + alpha * direction``, or along ``(1-alpha) * start + alpha * end``.

    The segment form hits both ends exactly: ``alpha=0`` is ``start`` and ``alpha=1`` is ``end``,
    bit for bit, BatchNorm statistics included (floating buffers are interpolated inside the segment
    and held at the nearer end outside it).
    """
    a_state = _state(start)
    if end is not None:
        b_state = _state(end)

        params = {k for k, _ in start.named_parameters()}

        def point(alpha: float) -> dict[str, torch.Tensor]:
            out = {}
            for k, v in a_state.items():
                if not v.is_floating_point():
                    out[k] = b_state[k]
                    continue
                # buffers (BatchNorm statistics) are interpolated but never extrapolated: a running
                # variance extrapolated past an end can turn negative
                w = alpha if k in params else min(max(alpha, 0.0), 1.0)
                out[k] = (1 - w) * v + w * b_state[k]
            return out

        return _line(start, point, alphas, task, subset, "segment")[0]
    if direction is None:
        raise ConfigError("line_search needs an end model or a direction, but got neither.")

    def along(alpha: float) -> dict[str, torch.Tensor]:
        return {k: v + alpha * direction[k] if k in direction else v for k, v in a_state.items()}

    return _line(start, along, alphas, task, subset, "random-direction")[0]


def landscape(task: Task, config: TrainConfig | None = None, *, points: int = 21, span: float = 1.0,
              extend: float = 0.5, subset: int = 2048, seed: int = 0) -> LandscapeResult:
    """Both line searches of the 7-step procedure (steps 1 and 7) around one training run.

    Args:
        task: the model and data.
        config: how to train from the initial to the trained weights (default: 1cycle, 5 epochs,
            the task's optimizer at a moderate LR).
        points: points per line.
        span: the random direction is explored for alpha in ``[-span, span]`` (alpha=0: the initial weights).
        extend: the segment runs from ``-extend`` to ``1 + extend``.
        subset: the number of train and validation examples each point is scored on.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.landscape(task, ht.TrainConfig(epochs=2, batch_size=32), points=5)
        >>> r.segment.at(0.0)["train_loss"] > r.segment.at(1.0)["train_loss"]
        True
    """
    if points < 3:
        raise ConfigError(f"points must be >= 3, but got points={points}.")
    if not span > 0 or not extend >= 0:
        raise ConfigError(f"span must be > 0 and extend >= 0, but got span={span}, extend={extend}.")
    if config is None:
        lr = 3e-3 if task.optimizer in ("adam", "adamw", "rmsprop") else 0.05
        config = TrainConfig(optimizer=task.optimizer, lr=lr, epochs=5, schedule="onecycle", seed=seed)
    init = task.build_model(seed=config.seed)
    trained = copy.deepcopy(init)
    result = train(task, config, model=trained)
    rand_alphas = np.linspace(-span, span, points)
    seg_alphas = np.unique(np.concatenate([np.linspace(-extend, 1 + extend, points), [0.0, 1.0]]))
    direction = filter_normalized_direction(init, seed=seed)
    rand = line_search(task, init, direction=direction, alphas=rand_alphas.tolist(), subset=subset)
    seg = line_search(task, init, trained, alphas=seg_alphas.tolist(), subset=subset)
    n_train = min(subset, len(task.data.train))  # type: ignore[arg-type]
    n_val = min(subset, len(task.data.val))  # type: ignore[arg-type]
    eval_cost = Cost(eval_examples=(len(rand_alphas) + len(seg_alphas)) * (n_train + n_val))
    return LandscapeResult(random_direction=rand, segment=seg, training=result, cost=result.cost + eval_cost)
