"""What a task's metric is called, and what counts as having learned nothing: chance and the floor a study's best
must rise above. One home for the rule, which the trials (a diverged trial scores at chance), the test retrains,
the comparison and the diagnostics all read."""

from __future__ import annotations

import math
from typing import Any

import torch

#: The metric's name when the task keeps the default (accuracy).
VALIDATION_ACCURACY = "validation accuracy"
#: The default metric's name for a regression task (root mean squared error, in the targets' units).
RMSE = "rmse"

#: What a task learns: class ids (``classification``), real-valued targets ``(n,)`` or ``(n, k)``
#: (``regression``), or 0/1 targets ``(n, k)`` of labels that are not exclusive (``multilabel``).
KINDS = ("classification", "regression", "multilabel")
#: 1-D float targets with at most this many distinct values are read as (mistaken) class ids, not regression.
FEW_VALUES = 20
#: Which way a metric improves; Optuna's own words.
DIRECTIONS = ("maximize", "minimize")

#: "Within noise of chance": a validation accuracy at most this many binomial standard errors above chance.
CHANCE_Z = 2.0


def metric_name(metric: Any) -> str:
    """What the studies' objective is called (``study.set_metric_names``) for a task's ``metric``:
    ``validation accuracy`` for ``None`` (the default), or the ``__name__`` of the task's own metric function
    (``metric`` for a lambda). :attr:`Task.metric_name` reads it.

    Example:
        >>> def f1(outputs, targets): ...
        >>> metric_name(f1), metric_name(None)
        ('f1', 'validation accuracy')
    """
    if metric is None:
        return VALIDATION_ACCURACY
    fn = getattr(metric, "__name__", None) or type(metric).__name__
    return "metric" if fn == "<lambda>" else str(fn)


def chance_level(num_classes: int | None) -> float:
    """The accuracy of guessing, ``1 / num_classes``; 0 for an unknown class count. A diverged trial or test
    retrain counts at this value.

    Example:
        >>> chance_level(4), chance_level(None)
        (0.25, 0.0)
    """
    return 1.0 / int(num_classes) if num_classes else 0.0


def class_chance(num_classes: int | None, labels: torch.Tensor | None = None) -> float:
    """Chance accuracy on a split with these class ``labels``: :func:`chance_level` (``1 / num_classes``), or,
    where the labels are unbalanced, the rate of their most frequent class (the accuracy of always predicting
    it, which a model that learned nothing reaches). Unbalanced means that rate is above ``1 / num_classes``
    by more than :data:`CHANCE_Z` binomial standard errors on ``len(labels)``, so a balanced split's rounding
    (a stratified split, digits' 174 to 183 images per class) keeps chance at ``1 / num_classes`` exactly.

    Example:
        >>> import torch
        >>> class_chance(2, torch.tensor([0] * 80 + [1] * 20)), class_chance(2, torch.tensor([0] * 52 + [1] * 48))
        (0.8, 0.5)
    """
    p = chance_level(num_classes)
    if labels is None or not p or labels.dim() != 1 or not len(labels) or bool((labels < 0).any()):
        return p
    n = len(labels)
    top = float(torch.bincount(labels.long()).max().item()) / n
    return top if top > p + CHANCE_Z * math.sqrt(p * (1 - p) / n) else p


def chance_floor(num_classes: int | None, n_val: int | None, metric: str | None = None, *,
                 chance: float | None = None) -> float | None:
    """The validation accuracy a study's best must beat to have found anything: chance (``chance``, default
    :func:`chance_level`; the majority class's rate on unbalanced labels, :func:`class_chance`) plus
    :data:`CHANCE_Z` binomial standard errors on the validation split; ``None`` for a metric that is not an
    accuracy (``metric``, the objective's name; ``None`` is the validation accuracy), or an unknown split.

    Example:
        >>> round(chance_floor(10, 749), 4), round(chance_floor(2, 100, chance=0.8), 2)
        (0.1219, 0.88)
    """
    if metric not in (None, VALIDATION_ACCURACY) or not num_classes or not n_val:
        return None
    p = chance_level(num_classes) if chance is None else float(chance)
    return p + CHANCE_Z * math.sqrt(p * (1 - p) / n_val)


def infer_kind(y: torch.Tensor) -> str:
    """The task's kind read from its targets: ``regression`` for float targets ``(n, k)``, or ``(n,)`` with
    more than :data:`FEW_VALUES` distinct values not all whole; ``classification`` otherwise, as before
    (integer labels, whole-number floats, and a few distinct fractional values, which look like mistaken class
    ids and are refused with a hint). Multi-label 0/1 targets are asked for by name
    (``Task(..., kind="multilabel")``).

    Example:
        >>> import torch
        >>> infer_kind(torch.tensor([0, 2, 1])), infer_kind(torch.linspace(0, 1, 50)), infer_kind(torch.ones(3, 2))
        ('classification', 'regression', 'regression')
    """
    if not y.is_floating_point():
        return "classification"
    if y.dim() != 1:
        return "regression"
    finite = y[torch.isfinite(y)]
    if bool((finite == finite.round()).all()) or len(torch.unique(finite)) <= FEW_VALUES:
        return "classification"
    return "regression"


def as_rows(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``outputs`` shaped as ``targets`` where they hold the same numbers (a ``(B, 1)`` head against
    ``(B,)`` targets), so an elementwise loss never broadcasts ``(B, 1)`` against ``(B,)`` into ``(B, B)``."""
    if outputs.shape != targets.shape and outputs.numel() == targets.numel():
        return outputs.reshape(targets.shape)
    return outputs


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The regression default loss: mean squared error, with a ``(B, 1)`` head read against ``(B,)``
    targets."""
    return torch.nn.functional.mse_loss(as_rows(outputs, targets), targets.to(outputs.dtype))


def bce_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The multi-label default loss: binary cross-entropy on logits, one sigmoid per label."""
    return torch.nn.functional.binary_cross_entropy_with_logits(outputs, targets.to(outputs.dtype))


def rmse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The regression default metric, per example: the squared error averaged over the target's columns.
    Evaluation takes the root of their mean (:func:`finish_metric`), so the reported value is the RMSE in
    the targets' units."""
    err = (as_rows(outputs, targets).float() - targets.float()) ** 2
    return err.reshape(len(err), -1).mean(1)


def label_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The multi-label default metric, per example: the fraction of its labels predicted right (logit > 0
    against the 0/1 target). Chosen over mean average precision and micro-F1 because it is a mean of
    per-example scores: it is summed batch by batch like every other metric, and its standard error is the
    per-example one (mAP and micro-F1 need the whole split at once)."""
    return ((outputs > 0) == (targets > 0.5)).float().reshape(len(targets), -1).mean(1)


def finish_metric(metric: Any, mean: float) -> float:
    """The reported value from the mean of the per-example scores: the root for :func:`rmse`, else the mean."""
    return math.sqrt(mean) if metric is rmse and mean >= 0 else mean


def default_loss(kind: str) -> Any:
    """The loss a task of ``kind`` trains with unless it is given one."""
    return {"regression": mse_loss, "multilabel": bce_loss}.get(kind, torch.nn.functional.cross_entropy)


def default_metric(kind: str) -> Any:
    """The metric a task of ``kind`` is scored with unless it is given one (``None``: accuracy)."""
    return {"regression": rmse, "multilabel": label_accuracy}.get(kind)


def nothing_learned(kind: str, train_y: torch.Tensor | None, val_y: torch.Tensor | None,
                    num_classes: int | None, metric: Any) -> float:
    """The metric of a model that learned nothing, which a diverged trial or test retrain is recorded at:
    for classification, chance (:func:`class_chance`: the majority class's rate on unbalanced validation
    labels, else ``1 / num_classes``); otherwise the task's metric of a constant prediction made from the
    training targets (their mean: for regression the RMSE is then the validation targets' spread around it; for
    multi-label each label's training rate, as a logit).

    Example:
        >>> import torch
        >>> round(nothing_learned("regression", torch.tensor([0., 2.]), torch.tensor([0., 2.]), 1, rmse), 3)
        1.0
    """
    if kind == "classification":
        return class_chance(num_classes, val_y)
    if train_y is None or val_y is None or not len(val_y):
        return chance_level(num_classes)
    mean = train_y.float().mean(0)
    if kind == "multilabel":
        mean = torch.logit(mean.clamp(1e-4, 1 - 1e-4))
    pred = mean.expand_as(val_y.float()).clone()
    scores = torch.as_tensor(metric(pred, val_y)).double()
    return finish_metric(metric, float(scores.mean().item()))
