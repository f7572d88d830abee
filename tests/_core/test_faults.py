"""Faults: a trial whose process died before its first heartbeat, a database that blinks.

The private Optuna internals these rely on are read in one function each (``heartbeat_ages``, the storage
subclass's method list); the tests named ``test_optuna_*`` fail loudly when Optuna changes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import optuna
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used:UserWarning")
from optuna.trial import TrialState

from hybridtune._core import MAX_RETRY, fail_silent_trials, heartbeat_ages, open_storage
from hybridtune.study import fail_stale


def _study(tmp_path, name: str = "s") -> optuna.Study:
    storage = open_storage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat_interval=1, grace_period=2)
    return optuna.create_study(study_name=name, storage=storage)


def _age(study: optuna.Study, number: int, seconds: float) -> None:
    """Move a trial's start ``seconds`` into the past (as if its process had taken it then)."""
    import sqlalchemy
    from optuna.storages._rdb import models

    trials = models.TrialModel.__table__
    with study._storage._backend.engine.begin() as conn:
        conn.execute(sqlalchemy.update(trials).where(trials.c.number == number)
                     .values(datetime_start=datetime.now() - timedelta(seconds=seconds)))


def _take(study: optuna.Study, params: dict | None = None, **system_attrs) -> optuna.Trial:
    """A queued trial taken by a process that dies before its first heartbeat (``ask`` without ``optimize``)."""
    study.add_trial(optuna.create_trial(state=TrialState.WAITING, system_attrs={
        "fixed_params": params or {"x": 1.0}, **system_attrs}))
    return study.ask()


def test_optuna_heartbeat_table_and_study_storage_are_where_heartbeat_ages_reads_them(tmp_path) -> None:
    where = ("hybridtune._core._storage.heartbeat_ages reads them to find trials that never beat; find Optuna's "
             "new place for them")
    study = _study(tmp_path)
    beating, silent = study.ask(), study.ask()
    study._storage.record_heartbeat(beating._trial_id)
    try:
        ages, storage = heartbeat_ages(study)
    except (AttributeError, ImportError) as exc:
        pytest.fail(f"Optuna {optuna.__version__} moved its heartbeat table or a study's storage ({exc}): {where}.")
    assert isinstance(storage, optuna.storages.RDBStorage), where
    assert set(ages) == {beating.number}, where
    assert 0 <= ages[beating.number] < 60
    assert silent.number not in ages


def test_a_running_trial_that_never_beat_is_failed_and_queued_again_after_the_grace_period(tmp_path) -> None:
    study = _study(tmp_path)
    trial = _take(study, {"x": 3.0})
    _age(study, trial.number, 5)  # grace period 2 s
    assert fail_silent_trials(study) == [trial.number]
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state == TrialState.FAIL
    assert [t.state for t in trials[1:]] == [TrialState.WAITING]  # queued again, with the same values
    assert trials[1].system_attrs["fixed_params"] == {"x": 3.0}
    assert trials[1].system_attrs["retry_history"] == [trial.number]
    assert fail_silent_trials(study) == []  # nothing left to fail


def test_a_fresh_running_trial_without_a_heartbeat_is_left_alone(tmp_path) -> None:
    study = _study(tmp_path)
    _take(study)
    fail_stale(study)  # the study stage's check: Optuna's stale heartbeats and the silent ones
    assert [t.state for t in study.get_trials(deepcopy=False)] == [TrialState.RUNNING]


def test_a_trial_that_never_beat_is_retried_at_most_max_retry_times(tmp_path) -> None:
    study = _study(tmp_path)
    trial = _take(study)
    for _ in range(MAX_RETRY + 2):  # each process dies before its first beat
        _age(study, trial.number, 5)
        fail_stale(study)
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            break
        trial = study.ask()
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [TrialState.FAIL] * (1 + MAX_RETRY)  # the first run and MAX_RETRY retries, then no more
    assert study.get_trials(deepcopy=False)[-1].system_attrs["retry_history"] == list(range(MAX_RETRY))
