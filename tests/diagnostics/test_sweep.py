from __future__ import annotations

import json

import optuna
import pytest

import hybridtune as ht
from conftest import cli
from hybridtune.diagnostics._sweep import log_lrs, successful_band, sweep


def test_successful_band_on_a_synthetic_valley() -> None:
    lrs = list(log_lrs(1e-6, 100, 17))
    # a valley: too low never progresses, too high diverges, one lucky success far out
    ok = [False] * 6 + [True] * 5 + [False] * 3 + [True] + [False] * 2
    assert successful_band(lrs, ok) == (lrs[6], lrs[10])
    assert successful_band(lrs[::-1], ok[::-1]) == (lrs[6], lrs[10])  # order does not matter
    assert successful_band(lrs, [False] * 17) is None
    assert successful_band([1.0, 2.0], [True, True]) == (1.0, 2.0)
    with pytest.raises(ht.ConfigError, match="same length"):
        successful_band([1.0], [True, False])


def test_log_lrs_default_is_48_from_1e6_to_100() -> None:
    lrs = log_lrs()
    assert len(lrs) == 48 and lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(100)


def test_sweep_finds_a_valley_and_resumes(tmp_path) -> None:
    task = ht.Task(model="mlp", data="synthetic:n=300,classes=3", device="cpu")
    storage = f"sqlite:///{tmp_path / 's.db'}"
    lrs = [1e-6, 1e-3, 1e-2, 1e5]
    r = sweep(task, optimizers=["adam", "sgd"], lrs=lrs, target=0.9, max_epochs=6, max_seconds=None,
              batch_size=32, range_test=False, storage=storage, name="s")
    adam = r.band("adam")
    assert len(r.runs) == 8 and adam.n_runs == 4
    assert adam.lr_low == pytest.approx(1e-3) and adam.lr_high == pytest.approx(1e-2)  # 1e-6 too slow, 1e5 diverges
    assert not any(x.success for x in r.runs if x.lr in (1e-6, 1e5))
    assert r.fastest is not None and r.fastest.success
    # every cell exactly once; a second call resumes and runs nothing
    study = optuna.load_study(study_name="s", storage=storage)
    cells = [(t.params["optimizer"], t.params["lr"]) for t in study.trials]
    assert len(cells) == len(set(cells)) == 8
    r2 = sweep(task, optimizers=["adam", "sgd"], lrs=lrs, target=0.9, max_epochs=6, max_seconds=None,
               batch_size=32, range_test=False, storage=storage, name="s")
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 8
    assert r2.bands == r.bands


def test_sweep_checks_the_range_test_and_widths() -> None:
    task = ht.Task(model="cnn", data="synthetic:n=300,classes=3", device="cpu")
    r = sweep(task, optimizers=["adam"], lrs=[1e-4, 1e-3, 1e-2, 1e-1], target=0.9, max_epochs=6,
              max_seconds=None, batch_size=32, widths=[1, 2])
    b = r.band("adam")
    assert b.range_test_lr is not None and b.range_test_inside == b.contains(b.range_test_lr)
    assert [w.width for w in r.width_runs] == [1.0, 2.0]
    assert all(w.lr == b.fastest_lr for w in r.width_runs)


def test_sweep_bad_inputs() -> None:
    task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
    with pytest.raises(ht.ConfigError, match="optimizer must be one of"):
        sweep(task, optimizers=["adamm"], lrs=[1e-3])
    with pytest.raises(ht.ConfigError, match="lrs must be positive finite numbers"):
        sweep(task, optimizers=["adam"], lrs=[-1.0])


def test_sweep_cli(tmp_path) -> None:
    out, plot = tmp_path / "s.json", tmp_path / "s.html"
    p = cli("sweep", "--model", "mlp", "--dataset", "synthetic:n=300,classes=3", "--optimizers", "adam",
            "--lrs", "1e-3,1e-2", "--target", "0.9", "--max-epochs", "5", "--batch-size", "32",
            "--no-range-test", "--json", str(out), "--plot", str(plot))
    assert p.returncode == 0, p.stderr
    assert "successful band per optimizer" in p.stdout and "Trial" not in p.stderr
    data = json.loads(out.read_text())
    assert data["bands"][0]["optimizer"] == "adam" and len(data["runs"]) == 2
    assert "plotly" in plot.read_text()[:2_000_000]
    bad = cli("sweep", "--lrs", "1:0.1:5")
    assert bad.returncode == 2 and "0 < low < high" in bad.stderr and "Traceback" not in bad.stderr
