"""Any supervised task: integer (token) inputs, regression, multi-label, a metric with a direction."""

from __future__ import annotations

import torch
from torch import nn

import hybridtune as ht


def _bag_of_embeddings(input_shape, num_classes, width: float = 1.0) -> nn.Module:  # noqa: ANN001
    return nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(8 * input_shape[0], num_classes))


def _tokens(n: int = 240, length: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 20, (n, length), generator=g)
    return x, (x[:, 0] >= 10).long()


def test_integer_inputs_reach_the_model_as_given_and_an_embedding_model_trains() -> None:
    task = ht.Task(model=_bag_of_embeddings, data=_tokens(), device="cpu")
    assert task.data.train.x.dtype == torch.int64
    r = ht.train(task, ht.TrainConfig(lr=0.05, epochs=3, batch_size=32))
    assert not r.diverged
    assert r.val_acc > 0.6
