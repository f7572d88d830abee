"""Chance for classification: 1/classes on balanced labels, the majority class's rate on unbalanced ones (issue 22,
part 3). A study whose best only predicts the majority class found nothing."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

import hybridtune as ht
from hybridtune.task import chance_floor, class_chance


def _unbalanced(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels unrelated to the inputs, 85% of them class 0: nothing to learn but the majority class."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (torch.rand(n, generator=g) > 0.85).long()


class _BiasOnly(nn.Module):
    """Learns one score per class and ignores its inputs: the best it can do is predict the majority class."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), -1)


def test_balanced_labels_keep_chance_at_one_over_the_classes() -> None:
    task = ht.Task(model="mlp", data="synthetic:n=400,classes=4", device="cpu")
    assert task.chance == 0.25
    assert task.chance_floor == pytest.approx(chance_floor(4, len(task.data.val)))
    assert "chance" not in task.describe()["data"]  # a balanced task describes itself as before
    digits = ht.load_dataset("digits")  # 174 to 183 images per class: balanced within noise
    assert class_chance(10, digits.val.y) == 0.1


def test_unbalanced_labels_make_chance_the_majority_class_rate() -> None:
    task = ht.Task(model="mlp", data=_unbalanced(), device="cpu")
    val = task.data.val.y
    majority = float((val == 0).float().mean())
    assert majority > 0.8
    assert task.chance == pytest.approx(majority)
    n = len(val)
    assert task.chance_floor == pytest.approx(majority + 2 * (majority * (1 - majority) / n) ** 0.5)
    assert task.describe()["data"]["chance"] == pytest.approx(majority)


def test_a_study_that_only_predicts_the_majority_class_found_nothing(tmp_path: Path) -> None:
    task = ht.Task(model=lambda shape, k: _BiasOnly(k), data=_unbalanced(), device="cpu")
    url = f"sqlite:///{tmp_path / 's.db'}"
    r = ht.run_study(task, ht.StudyConfig(name="majority", trials=2, epochs=2, probe_batch_size=32,
                                          probe_momenta=(0.9,), baselines=(), test_seeds=1),
                     storage=url, out=tmp_path / "majority")
    trials = [t.value for t in optuna.load_study(study_name="majority", storage=url).trials]
    assert max(trials) == pytest.approx(task.chance)  # the best trial predicts the majority class, no better
    # a 1/classes floor (0.5 + noise) would have called that a find
    assert r.found_nothing and r.search.best_value is None and r.search.best_config is None
    assert any("within noise of chance" in w for w in r.warnings), r.warnings
    again = ht.load_result("majority", storage=url)  # the report of the stored study reads the same floor
    assert again.found_nothing and any("within noise of chance" in w for w in again.warnings)
