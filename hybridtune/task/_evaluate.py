"""Evaluation: the mean loss and metric of a model on a split, with a task's loss and metric."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._batches import autocast, batches, call_model, take
from ._data import Split
from ._metric import finish_metric, rmse

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``metric(outputs, targets)`` -> per-example scores ``(B,)`` or their batch mean; the task's ``direction``
#: says whether higher or lower is better.
MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, *, loss_fn: LossFn = torch.nn.functional.cross_entropy,
             metric: MetricFn | None = None, batch_size: int = 1024, device: torch.device | str | None = None,
             amp: bool = True, limit: int | None = None) -> tuple[float, float, int]:
    """Mean loss and accuracy of ``model`` on ``split``; returns ``(loss, accuracy, examples)``.

    ``metric`` replaces accuracy (see :class:`Task`).

    The model's train/eval mode is restored afterwards. ``limit`` evaluates only the first examples
    (a fixed subset, as the range test's validation mode needs).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> loss, acc, n = ht.evaluate(task.build_model(), task.data.val)
        >>> n == len(task.data.val)
        True
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=dev, dtype=torch.float64)
    correct = torch.zeros((), device=dev, dtype=torch.float64 if metric is not None else torch.long)
    seen = 0
    g = torch.Generator()
    try:
        for x, y in batches(split, batch_size, g, dev, shuffle=False, drop_last=False):
            if limit is not None and seen >= limit:
                break
            if limit is not None and seen + len(y) > limit:
                x, y = take(x, limit - seen), y[:limit - seen]
            with autocast(dev, amp):
                out = call_model(model, x)
            total_loss += loss_fn(out.float(), y).double() * len(y)
            correct = correct + metric_sum(metric, out, y)
            seen += len(y)
    finally:
        model.train(was_training)
    if seen == 0:
        return float("nan"), float("nan"), 0
    return float(total_loss.item() / seen), finish_metric(metric, float(correct.item() / seen)), seen


@torch.no_grad()
def metric_se(model: nn.Module, split: Split, *, metric: MetricFn | None, batch_size: int = 1024,
              device: torch.device | str | None = None) -> float | None:
    """The standard error of ``model``'s metric on ``split`` from its per-example scores (their standard
    deviation over the square root of their count); for RMSE, of the root by the delta method
    (``se(MSE) / (2 RMSE)``). ``None`` for accuracy (``metric=None``: the binomial SE needs only the value),
    for a metric that returns only a batch mean, or for fewer than two examples.

    Example:
        >>> import torch, hybridtune as ht
        >>> x = torch.randn(300, 3); task = ht.Task(model="mlp", data=(x, x[:, 0] * 2.0), device="cpu")
        >>> metric_se(task.build_model(), task.data.val, metric=task.metric) > 0
        True
    """
    if metric is None:
        return None
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores = []
    try:
        for x, y in batches(split, batch_size, torch.Generator(), dev, shuffle=False, drop_last=False):
            s = torch.as_tensor(metric(call_model(model, x).detach().float(), y))
            if s.dim() == 0:
                return None
            scores.append(s.double().reshape(-1).cpu())
    finally:
        model.train(was_training)
    if not scores or sum(len(s) for s in scores) < 2:
        return None
    s = torch.cat(scores)
    se = float(s.std() / len(s) ** 0.5)
    if metric is rmse:
        root = float(s.mean()) ** 0.5
        return se / (2 * root) if root > 0 else None
    return se


def metric_sum(metric: MetricFn | None, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The batch's summed metric: correct predictions for accuracy (``metric=None``), else the user's
    per-example scores summed (a scalar mean is scaled back by the batch size)."""
    if metric is None:
        return (out.argmax(1) == y).sum()
    scores = torch.as_tensor(metric(out.detach().float(), y))
    if scores.dim() == 0:
        return scores.double() * len(y)
    return scores.double().sum()
