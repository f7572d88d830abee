"""What a task's metric is called, and what counts as having learned nothing: chance and the floor a study's best
must rise above. One home for the rule, which the trials (a diverged trial scores at chance), the test retrains,
the comparison and the diagnostics all read."""

from __future__ import annotations

import math
from typing import Any

#: The metric's name when the task keeps the default (accuracy).
VALIDATION_ACCURACY = "validation accuracy"

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


def chance_floor(num_classes: int | None, n_val: int | None, metric: str | None = None) -> float | None:
    """The validation accuracy a study's best must beat to have found anything: chance (:func:`chance_level`)
    plus :data:`CHANCE_Z` binomial standard errors on the validation split; ``None`` for a metric that is not an
    accuracy (``metric``, the objective's name; ``None`` is the validation accuracy), or an unknown split.

    Example:
        >>> round(chance_floor(10, 749), 4)
        0.1219
    """
    if metric not in (None, VALIDATION_ACCURACY) or not num_classes or not n_val:
        return None
    p = chance_level(num_classes)
    return p + CHANCE_Z * math.sqrt(p * (1 - p) / n_val)
