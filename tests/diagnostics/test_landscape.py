from __future__ import annotations

import json

import pytest
import torch

import hybridtune as ht
from conftest import cli
from hybridtune.diagnostics._landscape import filter_normalized_direction, landscape, line_search


def test_segment_endpoints_equal_initial_and_trained_losses() -> None:
    task = ht.Task(model="resnet", data="synthetic:n=300", device="cpu")
    init = task.build_model(seed=0)
    trained = task.build_model(seed=0)
    ht.train(task, ht.TrainConfig(epochs=2, batch_size=32), model=trained)
    curve = line_search(task, init, trained, alphas=[-0.5, 0.0, 0.5, 1.0, 1.5], subset=10_000)
    for alpha, model in ((0.0, init), (1.0, trained)):
        loss, acc, _ = ht.evaluate(model, task.data.train)
        vloss, vacc, _ = ht.evaluate(model, task.data.val)
        point = curve.at(alpha)
        assert point["train_loss"] == loss and point["train_acc"] == acc
        assert point["val_loss"] == vloss and point["val_acc"] == vacc
    assert all(torch.isfinite(torch.tensor(curve.train_loss)))  # extrapolated BatchNorm stays valid


def test_filter_normalised_direction() -> None:
    model = ht.create_model("cnn", (1, 28, 28), 10)
    d = filter_normalized_direction(model, seed=1)
    w = model.conv1.weight
    assert torch.allclose(d["conv1.weight"].flatten(1).norm(dim=1), w.flatten(1).norm(dim=1), rtol=1e-5)
    assert torch.count_nonzero(d["conv1.bias"]) == 0


def test_landscape_result_and_cli(tmp_path) -> None:
    task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
    r = landscape(task, ht.TrainConfig(epochs=2, batch_size=32), points=5)
    assert r.random_direction.at(0.0)["train_loss"] == pytest.approx(r.segment.at(0.0)["train_loss"])
    assert r.segment.at(1.0)["train_loss"] < r.segment.at(0.0)["train_loss"]
    out = tmp_path / "l.json"
    p = cli("landscape", "--model", "mlp", "--dataset", "synthetic:n=200", "--epochs", "1", "--points", "3",
            "--json", str(out), "--plot", str(tmp_path / "l.html"))
    assert p.returncode == 0, p.stderr
    data = json.loads(out.read_text())
    assert len(data["segment"]["alphas"]) == 5 and data["training"]["status"] == "completed"
