"""``hybridtune doctor`` (issue 23, D): stuck trials, missing grid cells and incomplete test retrains of a stored
study, listed, and the stuck ones repaired; in-process through ``main(argv)``."""

from __future__ import annotations

from datetime import datetime, timedelta

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

import hybridtune as ht
from hybridtune.cli import main
from hybridtune.study import keys

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used:UserWarning")


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> str:
    """A finished tiny study (a 2-cell grid, tested on 2 seeds) in a SQLite file of its own."""
    path = tmp_path_factory.mktemp("doctor") / "d.db"
    task = ht.Task(model="cnn", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")
    cfg = ht.StudyConfig.quick(name="doc", trials=2, probe_batch_size=32, test_seeds=2,
                               grid={"lr": [0.05, 0.1], "batch_size": [32]})
    ht.run_study(task, cfg, storage=f"sqlite:///{path}")
    return f"sqlite:///{path}"


def _copy(stored: str, tmp_path) -> str:
    import shutil

    target = tmp_path / "d.db"
    shutil.copy(stored.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


def test_a_finished_study_is_healthy(stored, tmp_path, capsys) -> None:
    assert main(["doctor", "--name", "doc", "--storage", _copy(stored, tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("study doc: nothing wrong")


def test_doctor_lists_what_is_wrong_and_repairs_stuck_trials(stored, tmp_path, capsys) -> None:
    url = _copy(stored, tmp_path)
    storage = ht.open_storage(url, heartbeat_interval=1, grace_period=2)
    grid = optuna.load_study(study_name="doc-grid", storage=storage)
    search = optuna.load_study(study_name="doc", storage=storage)
    # a stuck trial: a process took a queued trial and died before its first heartbeat, 10 s ago
    search.enqueue_trial({})
    stuck = search.ask()
    from optuna.storages._rdb import models

    engine = storage.engine
    trials = models.TrialModel.__table__
    first = [t for t in grid.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE][0]
    with engine.begin() as conn:
        conn.execute(sqlalchemy.update(trials).where(trials.c.trial_id == stuck._trial_id)
                     .values(datetime_start=datetime.now() - timedelta(seconds=10)))
        # a grid cell whose trial failed: missing
        conn.execute(sqlalchemy.update(trials).where(trials.c.trial_id == first._trial_id).values(state="FAIL"))
    search.set_user_attr(keys.TEST, None)  # the search's retrains lost
    storage.engine.dispose()
    lr = first.params["lr"]

    grace = ["--heartbeat-interval", "1", "--grace-period", "5"]  # what the study's processes ran with
    assert main(["doctor", "--name", "doc", "--storage", url, *grace]) == 5
    out = capsys.readouterr().out
    assert f"stuck: trial {stuck.number} of doc (worker unknown, no heartbeat yet" in out
    assert f"missing grid cell: lr {lr}" in out
    assert "incomplete test retrain: doc: best trial" in out and "retrained on 0 of 2 test seeds" in out
    assert "study doc: 1 stuck, 1 missing cells, 1 incomplete retrains; run `hybridtune doctor --repair`" in out

    assert main(["doctor", "--name", "doc", "--storage", url]) == 5  # the default grace period (180 s): not stuck yet
    assert "stuck:" not in capsys.readouterr().out
    assert main(["doctor", "--name", "doc", "--storage", url, *grace, "--repair"]) == 5  # cells, retrains remain
    out = capsys.readouterr().out
    assert f"stuck: trial {stuck.number} of doc" in out and "failed and queued again" in out
    after = optuna.load_study(study_name="doc", storage=url).get_trials(deepcopy=False)
    assert after[stuck.number].state == TrialState.FAIL
    assert after[-1].state == TrialState.WAITING and after[-1].system_attrs["retry_history"] == [stuck.number]


def test_doctor_names_an_unknown_study(stored, tmp_path, capsys) -> None:
    assert main(["doctor", "--name", "dco", "--storage", _copy(stored, tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hybridtune doctor: error: --name must be a study in this storage, but got 'dco'")
    assert "doc" in err
