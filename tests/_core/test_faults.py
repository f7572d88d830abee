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


# ----------------------------------------------------------------------------------------------
# The storage guard (the outage itself: tests/study/test_outage.py)


def _lost() -> Exception:
    """What Optuna raises when the server went away mid-commit: its misleading StorageInternalError around
    SQLAlchemy's OperationalError around the driver's (no SQLSTATE: the client saw the connection die)."""
    import sqlalchemy.exc

    class DriverError(Exception):
        sqlstate = None

    try:
        try:
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, DriverError("server closed the connection"))
        except sqlalchemy.exc.OperationalError as exc:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc
    except optuna.exceptions.StorageInternalError as exc:
        return exc


def test_connection_loss_is_told_from_a_real_error() -> None:
    import sqlite3

    import sqlalchemy.exc

    from hybridtune._core import is_connection_lost

    class TooMany(Exception):
        sqlstate = "53300"

    class Syntax(Exception):
        sqlstate = "42601"

    assert is_connection_lost(_lost())
    assert is_connection_lost(sqlalchemy.exc.OperationalError("SELECT 1", {}, TooMany("too many clients")))
    assert not is_connection_lost(sqlalchemy.exc.ProgrammingError("SELEC", {}, Syntax("syntax error")))
    assert not is_connection_lost(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_connection_lost(sqlalchemy.exc.OperationalError("SELECT", {}, sqlite3.OperationalError(
        "no such table: trials")))
    assert is_connection_lost(sqlalchemy.exc.OperationalError("SELECT", {}, sqlite3.OperationalError(
        "database is locked")))
    assert not is_connection_lost(ValueError("x"))


def test_a_lost_call_runs_again_once_and_says_so_once(tmp_path, caplog) -> None:
    from hybridtune._core import guarded

    storage = open_storage(f"sqlite:///{tmp_path / 'g.db'}", retry_seconds=30)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _lost()
        return "stored"

    with caplog.at_level("WARNING", logger="hybridtune.storage"):
        assert guarded(storage, flaky) == "stored"
    assert len(calls) == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"database unreachable at sqlite:///{tmp_path / 'g.db'}, retrying for up to 30 s"]
    with pytest.raises(optuna.exceptions.StorageInternalError):  # a real error is not retried
        guarded(storage, lambda: (_ for _ in ()).throw(optuna.exceptions.StorageInternalError("bad data")))


def test_the_guard_gives_up_after_its_window_and_hides_the_password() -> None:
    from hybridtune._core import StorageUnreachable
    from hybridtune._core._guard import Guard as _Guard

    guard = _Guard("postgresql+psycopg://ann:s3cret@db.example.org/studies", 0)
    with pytest.raises(StorageUnreachable) as info:
        guard.call(lambda: (_ for _ in ()).throw(_lost()))
    assert str(info.value) == ("database unreachable at postgresql+psycopg://ann:***@db.example.org/studies for 0 s; "
                               "gave up (re-run the same command to resume once it is back)")
    with pytest.raises(StorageUnreachable):  # and every later call gives up at once
        guard.call(lambda: "never run")


def test_optuna_storage_methods_are_all_guarded() -> None:
    """Every method of Optuna's storage interface, and every method that Optuna's cache
    (``storages/_cached_storage.py``) calls on its RDBStorage backend, private ones included, goes through the
    guard: a method Optuna adds or starts calling is guarded too, or this fails."""
    import inspect
    import re

    from optuna.storages import _cached_storage

    from hybridtune._core._guard import _UNGUARDED, guarded_class as _guarded_class

    cls = _guarded_class()
    public = {n for n in dir(optuna.storages.BaseStorage) if not n.startswith("_")}
    backend = set(re.findall(r"_backend\.(\w+)", inspect.getsource(_cached_storage)))
    assert "_get_trials" in backend  # the cache still reads through its backend's private methods
    for name in sorted((public | backend) - _UNGUARDED) + ["record_heartbeat", "_get_stale_trial_ids"]:
        assert name in vars(cls), f"{name} of Optuna {optuna.__version__}'s storage is not guarded"


def test_storage_retry_must_be_a_non_negative_number(capsys) -> None:
    from hybridtune.cli import main

    with pytest.raises(SystemExit) as info:
        main(["worker", "--name", "s", "--storage", "postgresql://u:pw@127.0.0.1:1/db", "--storage-retry", "-5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--storage-retry" in err and "-5" in err and "pw" not in err


def test_a_full_disk_under_a_sqlite_storage_is_one_line_naming_the_file(tmp_path) -> None:
    import sqlite3

    import sqlalchemy.exc

    from hybridtune._core import StorageError, guarded

    url = f"sqlite:///{tmp_path / 'full.db'}"
    storage = open_storage(url)

    def write() -> None:
        try:
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))
        except sqlalchemy.exc.OperationalError as exc:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc

    with pytest.raises(StorageError) as info:
        guarded(storage, write)
    assert str(info.value) == (f"a SQLite storage must be writable, but writing {url!r} failed: database or disk is "
                               f"full (free space or fix the folder's permissions, then re-run the same command to "
                               f"resume).")


@pytest.mark.parametrize("message, waited", [
    ('connection failed: connection to server at "127.0.0.1", port 5433 failed: Connection refused\n\tIs the server '
     'running on that host and accepting TCP/IP connections?', True),
    ('connection is bad: connection to server on socket "/run/pg/.s.PGSQL.5432" failed: No such file or directory\n'
     '\tIs the server running locally and accepting connections on that socket?', True),
    ('connection failed: connection to server at "127.0.0.1", port 5433 failed: FATAL:  the database system is '
     'starting up', True),
    ('connection failed: connection to server at "db", port 5432 failed: FATAL:  sorry, too many clients already',
     True),
    ('connection failed: connection to server at "db", port 5432 failed: timeout expired', True),
    ('connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "studeis" does not '
     'exist', False),
    ('connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "ann" does not exist',
     False),
    ('connection failed: connection to server at "db", port 5432 failed: FATAL:  password authentication failed for '
     'user "ann"', False),
    ("failed to resolve host 'nosuchhost.invalid': [Errno -2] Name or service not known", False),
])
def test_a_database_not_up_yet_is_told_from_a_wrong_url(message: str, waited: bool) -> None:
    """At start, a refused or starting server is waited for (as one that goes away later); a wrong URL is not:
    connection errors carry no SQLSTATE, so the driver's text decides."""
    import sqlalchemy.exc

    from hybridtune._core import is_unreachable

    class DriverError(Exception):
        sqlstate = None

    assert is_unreachable(sqlalchemy.exc.OperationalError(None, None, DriverError(message))) is waited


def test_a_database_not_up_yet_at_start_is_waited_for_with_one_line(monkeypatch, caplog) -> None:
    """open_storage retries its first connection while the server refuses it, then returns the storage."""
    import sqlalchemy.exc

    from hybridtune._core import _guard

    class DriverError(Exception):
        sqlstate = None

    real, calls = _guard.guarded_class(), []

    def refused_twice(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise sqlalchemy.exc.OperationalError(None, None, DriverError(
                'connection failed: connection to server at "127.0.0.1", port 5433 failed: Connection refused'))
        return real("sqlite:///:memory:")

    monkeypatch.setattr("hybridtune._core._storage.guarded_class", lambda: refused_twice)
    url = "postgresql+psycopg://ann:s3cret@127.0.0.1:5433/studies"
    with caplog.at_level("WARNING", logger="hybridtune.storage"):
        storage = open_storage(url, retry_seconds=30)
    assert len(calls) == 3 and storage.__dict__["_hybridtune_guard"].down_since is None
    assert [r.getMessage() for r in caplog.records] == [
        "database unreachable at postgresql+psycopg://ann:***@127.0.0.1:5433/studies, retrying for up to 30 s"]


# ----------------------------------------------------------------------------------------------
# Writes that are not idempotent


def test_optuna_trial_creation_hook_is_where_prepare_once_reads_it() -> None:
    """``_prepare_once`` makes Optuna's trial insert safe to retry through its private hook: the insert
    (``_get_prepared_new_trial(study_id, template_trial, session)``, called for each of ``_create_new_trial``'s
    attempts) and the attribute write inside its transaction (``_set_trial_attr_without_commit``)."""
    import inspect

    from optuna.storages import RDBStorage

    where = ("hybridtune._core._guard._prepare_once and GuardedRDBStorage.create_new_trial rely on it to create a "
             "trial once when a retried insert had committed; find Optuna's new hook")
    assert "self._get_prepared_new_trial(" in inspect.getsource(RDBStorage._create_new_trial), where
    assert list(inspect.signature(RDBStorage._get_prepared_new_trial).parameters) == [
        "self", "study_id", "template_trial", "session"], where
    assert list(inspect.signature(RDBStorage._set_trial_attr_without_commit).parameters) == [
        "self", "session", "model_cls", "trial_id", "key", "value"], where


@pytest.mark.parametrize("who_retries", ["guard", "optuna"])
@pytest.mark.parametrize("how", ["ask", "enqueue"])
def test_a_trial_whose_insert_committed_before_the_connection_dropped_is_created_once(tmp_path, monkeypatch,
                                                                                       how: str, who_retries) -> None:
    """The insert reaches the database, then the connection drops before the client hears so. The call runs
    again (the guard's retry of a lost connection; or Optuna's own, which retries trial creation on any
    StorageInternalError) and finds the trial its first attempt made instead of creating a second one: a grid
    cell queued twice would run twice, a search trial made twice would count twice."""
    import contextlib

    import sqlalchemy.exc
    from optuna.storages._rdb import storage as rdb

    from hybridtune._core._guard import CREATED_BY_KEY, guarded_class

    class DriverError(Exception):
        sqlstate = None

    cls = guarded_class()
    real_scope, real_prepare = rdb._create_scoped_session, cls._get_prepared_new_trial
    inserts = []

    def prepare(self, study_id, template_trial, session):
        inserts.append(1)
        return real_prepare(self, study_id, template_trial, session)

    @contextlib.contextmanager
    def scope(scoped_session, ignore_integrity_error=False):
        n = len(inserts)
        with real_scope(scoped_session, ignore_integrity_error) as session:
            yield session
        if n == 0 and len(inserts) == 1:  # the first insert committed ... and the answer never came back
            lost = sqlalchemy.exc.OperationalError("COMMIT", {}, DriverError("server closed the connection"))
            if who_retries == "guard":
                raise lost
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from lost

    storage = open_storage(f"sqlite:///{tmp_path / 'c.db'}", retry_seconds=30)
    study = optuna.create_study(study_name="s", storage=storage)
    monkeypatch.setattr(cls, "_get_prepared_new_trial", prepare)
    monkeypatch.setattr(rdb, "_create_scoped_session", scope)
    if how == "ask":
        assert study.ask().number == 0
    else:
        study.enqueue_trial({"x": 1.0})
    assert len(inserts) == 2  # it ran again
    trials = optuna.load_study(study_name="s", storage=storage).get_trials(deepcopy=False)
    assert [(t.number, t.state) for t in trials] == [(0, TrialState.RUNNING if how == "ask" else TrialState.WAITING)]
    assert len(trials[0].system_attrs[CREATED_BY_KEY]) == 32
    if how == "enqueue":
        assert trials[0].system_attrs["fixed_params"] == {"x": 1.0}
    study.enqueue_trial({"x": 2.0})  # and every call is a trial of its own
    assert len(study.get_trials(deepcopy=False)) == 2


def test_processes_that_open_a_fresh_database_at_once_do_not_fail_on_the_race_to_create_its_tables(
        tmp_path, monkeypatch) -> None:
    """A coordinator and a worker that waited for the same database connect together once it is up, and both
    create Optuna's tables: PostgreSQL fails the loser's CREATE with a duplicate in its catalog (SQLSTATE 23505
    on pg_type_typname_nsp_index). The tables exist then; opening looks again instead of exit 2."""
    import psycopg.errors
    import sqlalchemy.exc

    from hybridtune._core import _guard

    real, calls = _guard.guarded_class(), []

    def lost_the_race_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sqlalchemy.exc.IntegrityError("CREATE TABLE studies", {}, psycopg.errors.UniqueViolation(
                'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'))
        return real(f"sqlite:///{tmp_path / 'r.db'}")

    monkeypatch.setattr("hybridtune._core._storage.guarded_class", lambda: lost_the_race_once)
    storage = open_storage("postgresql+psycopg://ann:s3cret@127.0.0.1:5433/studies", retry_seconds=30)
    assert len(calls) == 2 and isinstance(storage, real)
