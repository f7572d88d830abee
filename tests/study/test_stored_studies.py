"""A study stored by an earlier hybridtune (the fixture was written by the code before the package was laid out
in stages, commit 6250714) still reports and resumes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import optuna

import hybridtune as ht
from conftest import ROOT, cli

FIXTURE = ROOT / "tests" / "fixtures" / "study_v1.db"
# how the fixture was made: 2 search trials, the quick grid's 2 cells, tested, with the dashboard notes
STUDY = ["--model", "mlp", "--dataset", "synthetic:n=200", "--quick", "--epochs", "1", "--name", "fixture"]
ENV = {"OMP_NUM_THREADS": "1"}


def _copy(tmp_path: Path) -> str:
    db = tmp_path / "s.db"
    shutil.copy(FIXTURE, db)
    return f"sqlite:///{db}"


def test_fixture_study_loads_reports_and_keeps_its_numbers(tmp_path: Path) -> None:
    storage = _copy(tmp_path)
    r = ht.load_result("fixture", storage=storage)
    assert r.search.n_trials == 2 and r.grid is not None and r.grid.n_trials == 2
    assert r.priors is not None and r.priors.lr_max > r.priors.lr_min > 0
    assert r.search.test_accuracy is not None and r.grid.test_accuracy is not None
    out = tmp_path / "r.html"
    p = cli("report", "--name", "fixture", "--storage", storage, "--out", str(out), env=ENV, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert out.is_file() and "fixture" in out.read_text()


def test_fixture_study_resumes_without_probing_again(tmp_path: Path) -> None:
    storage = _copy(tmp_path)
    p = cli("study", *STUDY, "--trials", "3", "--storage", storage, "--out", str(tmp_path / "r.html"),
            env=ENV, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "probes (cached)" in p.stdout and "probes: range test" not in p.stdout
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    search = optuna.load_study(study_name="fixture", storage=storage)
    assert len(search.get_trials(states=finished)) == 3
    grid = optuna.load_study(study_name="fixture-grid", storage=storage)
    assert len(grid.get_trials(states=finished)) == 2  # every cell ran before: none runs again
    con = sqlite3.connect(tmp_path / "s.db")
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"


def test_fixture_study_stored_before_tasks_had_a_kind_reads_as_a_maximised_classification(tmp_path: Path) -> None:
    storage = _copy(tmp_path)
    r = ht.load_result("fixture", storage=storage)
    assert r.direction == "maximize" and "kind" not in r.task["data"]
    search = optuna.load_study(study_name="fixture", storage=storage)
    values = [t.value for t in search.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert r.search.best_value == max(values)
    # chance: 1/classes, as it was stored (no majority rate: the labels are balanced), and the same floor
    from hybridtune.study import study_floor
    from hybridtune.task import chance_floor

    data = r.task["data"]
    assert "chance" not in data
    assert study_floor(search) == chance_floor(data["num_classes"], data["val"])
    task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
    assert task.kind == "classification" and "direction" not in task.describe()
    assert task.chance == 1 / task.data.num_classes and task.chance_floor == study_floor(search)
    assert task.describe()["data"] == {k: v for k, v in task.data.describe().items() if k != "kind"}
