"""Retrain one configuration and score it on the test split: the one home of that job (the study's test
retrain, the proxy's verification at full size and the ``train`` command all call it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._config import TrainConfig
from ._loop import train
from ._results import TrainResult

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from ..task import Task


@dataclass(frozen=True)
class Tested:
    """A configuration trained from a fresh model and scored on the test split (``None`` when it
    diverged: a diverged model has no test score)."""

    result: TrainResult
    test_loss: float | None
    test_accuracy: float | None
    model: nn.Module


def train_and_test(task: Task, config: TrainConfig, *, on_epoch: Any = None) -> Tested:
    """Train ``config`` from a fresh model (initialised with ``config.seed``) and score it on the test split.

    Args:
        task: the data, model, loss and optimizer family.
        config: the trainer settings; ``config.seed`` seeds the model and the data order.
        on_epoch: passed to :func:`hybridtune.train`.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> t = train_and_test(task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=1, batch_size=32))
        >>> 0.0 <= t.test_accuracy <= 1.0
        True
    """
    model = task.build_model(seed=config.seed)
    result = train(task, config, model=model, on_epoch=on_epoch)
    loss = acc = None
    if not result.diverged:
        loss, acc, _ = task.evaluate(model, task.data.test)
    return Tested(result=result, test_loss=loss, test_accuracy=acc, model=model)
