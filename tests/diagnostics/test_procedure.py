from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import hybridtune as ht
from conftest import cli
from hybridtune.diagnostics._procedure import (check_gradients, check_initial_loss, check_loss_falls, check_overfit_tiny,
                                   lr_ramp, procedure, red_flags)

DATA = "synthetic:n=300,classes=4"


@pytest.fixture(scope="module")
def healthy() -> ht.Task:
    return ht.Task(model="mlp", data=DATA, device="cpu")


def _scaled_logits(input_shape, num_classes):
    return nn.Sequential(ht.create_model("mlp", input_shape, num_classes), _Scale(100.0))


class _Scale(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k


class _Deaf(nn.Module):
    """A parameter that never reaches the output: nothing can be learnt."""

    def __init__(self, input_shape, num_classes) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(num_classes))
        self.k = num_classes

    def forward(self, x):
        return torch.zeros(x.shape[0], self.k) + 0 * self.w


def _sigmoid_tower(input_shape, num_classes):
    layers: list[nn.Module] = [nn.Flatten()]
    d = 64
    for _ in range(12):
        lin = nn.Linear(d, 64)
        nn.init.normal_(lin.weight, std=0.05)
        layers += [lin, nn.Sigmoid()]
    layers.append(nn.Linear(64, num_classes))
    return nn.Sequential(*layers)


def _exploding(input_shape, num_classes):
    layers: list[nn.Module] = [nn.Flatten()]
    for _ in range(6):
        lin = nn.Linear(64, 64)
        nn.init.normal_(lin.weight, std=3.0)
        layers += [lin, nn.ReLU()]
    layers.append(nn.Linear(64, num_classes))
    return nn.Sequential(*layers)


def _shuffled_labels(task: ht.Task) -> ht.Task:
    d = task.data
    g = torch.Generator().manual_seed(0)
    splits = {k: ht.TensorSplit(s.x, s.y[torch.randperm(len(s.y), generator=g)])
              for k, s in (("train", d.train), ("val", d.val), ("test", d.test))}
    return task.replace(data=ht.DataSplits(name="shuffled", input_shape=d.input_shape,
                                                num_classes=d.num_classes, **splits))


def _constant_inputs(task: ht.Task) -> ht.Task:
    d = task.data
    splits = {k: ht.TensorSplit(torch.zeros_like(s.x), s.y)
              for k, s in (("train", d.train), ("val", d.val), ("test", d.test))}
    return task.replace(data=ht.DataSplits(name="constant", input_shape=d.input_shape,
                                                num_classes=d.num_classes, **splits))


def test_a_healthy_task_raises_no_flag(healthy: ht.Task) -> None:
    flags, cost = red_flags(healthy, batch_size=32)
    assert [f.name for f in flags if f.triggered] == []
    assert len(flags) == 5 and cost.examples > 0


def test_initial_loss_flag(healthy: ht.Task) -> None:
    assert not check_initial_loss(healthy)[0].triggered
    flag, _ = check_initial_loss(healthy.replace(model=_scaled_logits))
    assert flag.triggered and flag.value > 2 * 1.386 and "far from uniform" in flag.message


def test_loss_falls_at_no_lr_flag(healthy: ht.Task) -> None:
    assert not check_loss_falls(healthy, batch_size=32)[0].triggered
    flag, _ = check_loss_falls(healthy.replace(model=_Deaf), batch_size=32)
    assert flag.triggered and "no LR makes it learn" in flag.message


def test_chance_flag(healthy: ht.Task) -> None:
    broken = _shuffled_labels(healthy)
    flags, _ = red_flags(broken, batch_size=32)
    by_name = {f.name: f for f in flags}
    assert by_name["accuracy stuck at chance"].triggered
    assert not {f.name: f for f in red_flags(healthy, batch_size=32)[0]}["accuracy stuck at chance"].triggered


def test_cannot_overfit_flag(healthy: ht.Task) -> None:
    assert not check_overfit_tiny(healthy)[0].triggered
    flag, _ = check_overfit_tiny(_constant_inputs(healthy))
    assert flag.triggered and flag.value < 1.0


def test_gradient_flags(healthy: ht.Task) -> None:
    assert not check_gradients(healthy)[0].triggered
    vanish, _ = check_gradients(healthy.replace(model=_sigmoid_tower))
    assert vanish.triggered and "vanish" in vanish.message
    explode, _ = check_gradients(healthy.replace(model=_exploding))
    assert explode.triggered and "explode" in explode.message


def test_lr_ramp_raises_the_lr_every_epoch(healthy: ht.Task) -> None:
    r = lr_ramp(healthy, lr_start=1e-4, lr_factor=10, epochs=4, batch_size=32)
    assert r.lrs == pytest.approx((1e-4, 1e-3, 1e-2, 1e-1))
    assert any(r.chosen_lr == pytest.approx(v) for v in r.lrs) and r.reasoning


def test_procedure_verdicts_and_cli(healthy: ht.Task, tmp_path) -> None:
    r = procedure(healthy, epochs=2, batch_size=32, ramp_epochs=3, momentum_epochs=2)
    assert [c.name for c in r.checks] == ["power decay", "cyclical LR", "adam"]
    for c in r.checks:
        assert ("helps" in c.verdict) == c.helps or "does not help" in c.verdict or "hurts" in c.verdict
        assert c.baseline_val_acc == r.baseline.best_val_acc
    json.dumps(r.to_dict(), allow_nan=False)
    out, report = tmp_path / "p.json", tmp_path / "p.html"
    p = cli("procedure", "--model", "mlp", "--dataset", DATA, "--epochs", "2", "--batch-size", "32",
            "--ramp-epochs", "3", "--momentum-epochs", "2", "--json", str(out), "--report", str(report))
    assert p.returncode == 0, p.stderr
    assert "red flags" in p.stdout and "power decay" in p.stdout
    data = json.loads(out.read_text())
    assert len(data["red_flags"]) == 5 and len(data["checks"]) == 3
    html = report.read_text()
    assert "LR raised every epoch" in html and "Red flags" in html
