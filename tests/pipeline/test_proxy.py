from __future__ import annotations

import json

import optuna
import pytest

import hybridtune as ht
from hybridtune.pipeline._proxy import proxy_study

GRID = {"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]}


def test_proxy_search_is_verified_at_full_size_and_compared(tmp_path) -> None:
    task = ht.Task(model="cnn", data="synthetic:n=300,shape=1x12x12", model_kwargs={"width": 2}, device="cpu")
    storage = f"sqlite:///{tmp_path / 'p.db'}"
    cfg = ht.StudyConfig.quick(name="p", trials=2, epochs=2, baselines=(), probe_batch_size=32,
                               probe_momenta=(0.9,), test=False, dashboard=False)
    full = ht.run_study(task, cfg, storage=storage)  # the full-size study the transfer is measured against
    r = proxy_study(task, cfg, proxy_width=0.5, storage=storage)
    assert r.proxy_width == 1.0 and r.full_width == 2.0
    names = optuna.get_all_study_names(storage=storage)
    assert "p-proxy0.5" in names and "p" in names
    stored = optuna.load_study(study_name="p-proxy0.5", storage=storage).user_attrs["identity"]
    assert stored["model_kwargs"] == {"width": 1.0}
    assert r.best_config == r.proxy.search.best_config
    assert r.full_val_acc is not None and r.status == "completed"
    assert r.full_study_best == full.search.best_value
    assert r.lost_points == pytest.approx(100 * (full.search.best_value - r.full_val_acc))
    assert r.full_seconds_per_example > 0 and r.search_seconds_at_full_size > 0
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["full_test_accuracy"] == r.full_test_accuracy and "full_test_acc" not in d
    with pytest.warns(DeprecationWarning, match="full_test_accuracy"):
        assert r.full_test_acc == r.full_test_accuracy


def test_proxy_needs_a_width_option() -> None:
    def fixed(input_shape, num_classes):
        import torch
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, num_classes))

    task = ht.Task(model=fixed, data="synthetic:n=200", device="cpu")
    with pytest.raises(ht.ConfigError, match="must take a width option"):
        proxy_study(task, proxy_width=0.5, storage="sqlite:///:memory:")
    with pytest.raises(ht.ConfigError, match="proxy_width must be a positive number, but got proxy_width=0"):
        proxy_study(task, proxy_width=0, storage="sqlite:///:memory:")


def test_study_cli_proxy_width(tmp_path) -> None:
    from conftest import cli

    out = tmp_path / "p.json"
    p = cli("study", "--model", "cnn", "--dataset", "synthetic:n=300,shape=1x12x12", "--quick", "--trials", "2",
            "--epochs", "1", "--baseline", "none", "--no-test", "--probe-batch-size", "32", "--name", "px",
            "--storage", f"sqlite:///{tmp_path / 'p.db'}", "--proxy-width", "0.5", "--out",
            str(tmp_path / "r.html"), "--json", str(out), env={"OMP_NUM_THREADS": "1"}, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "proxy" in p.stdout and "saved:" in p.stdout and "not measured" in p.stdout
    d = json.loads(out.read_text())["proxy"]
    assert d["proxy_width"] == 0.5 and d["full_val_acc"] is not None and d["lost_points"] is None
