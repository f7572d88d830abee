"""Where studies live: Optuna storage URLs, opened once, printed only with the password hidden.

The default is a SQLite file, ``runs/hybridtune.db`` (its folder is created). Any SQLAlchemy URL Optuna
accepts works (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``). A URL is never printed, logged or
written with its password: :func:`redact` (``_redact``) is applied wherever one leaves this module. Every call
to the database goes through one guard (``_guard``) that waits for a database that blinks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._checks import is_positive_int
from ._errors import StorageError
from ._guard import STORAGE_RETRY_SECONDS, Guard, guarded, guarded_class, sqlstates
from ._redact import first_line, redact, scrub

_log = logging.getLogger(__name__)

#: The default storage: one SQLite file for every study, under ``runs/``.
DEFAULT_STORAGE = "sqlite:///runs/hybridtune.db"
#: Heartbeats: every running trial's process records one every ``HEARTBEAT_SECONDS``; a trial without one
#: for ``GRACE_SECONDS`` belonged to a killed process: it is failed and queued again (up to ``MAX_RETRY``
#: times), by whichever process of the study looks next.
HEARTBEAT_SECONDS = 60
GRACE_SECONDS = 180
MAX_RETRY = 3


def resolve_storage_url(url: str | None = None) -> str:
    """Check a storage URL and normalise it; ``None`` means :data:`DEFAULT_STORAGE`.

    A SQLite file's folder is created. ``postgresql://`` without a driver uses psycopg 3 when psycopg2
    is not installed (hybridtune depends on psycopg 3; SQLAlchemy's default is psycopg2).

    Raises:
        StorageError: the URL cannot be parsed or names no database.

    Example:
        >>> resolve_storage_url("sqlite:///:memory:")
        'sqlite:///:memory:'
    """
    from sqlalchemy.engine import make_url

    raw = DEFAULT_STORAGE if url is None else url
    if not isinstance(raw, str) or not raw.strip():
        raise StorageError(f"storage must be a database URL such as {DEFAULT_STORAGE}, but got {raw!r}.")
    try:
        parsed = make_url(raw.strip())
    except Exception:
        raise StorageError(f"storage must be a database URL such as {DEFAULT_STORAGE} or "
                           f"postgresql://user:password@host/db, but got {redact(raw)!r}.") from None
    if parsed.get_backend_name() == "sqlite":
        # kept as written: SQLAlchemy 2.1 renders ":memory:" and file names percent-escaped, which would
        # print as sqlite:///%3Amemory%3A (it parses back the same, but a user should read what they wrote)
        if not parsed.database:
            raise StorageError(f"a SQLite storage must name a file (sqlite:///path/to/file.db), but got "
                               f"{redact(raw)!r}.")
        if parsed.database != ":memory:":
            path = Path(parsed.database)
            if path.is_dir():
                raise StorageError(f"a SQLite storage must name a file, but got a directory: {redact(raw)!r}.")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"a SQLite storage's folder must be creatable, but got {redact(raw)!r} "
                                   f"({exc.strerror}).") from None
        return raw.strip()
    elif parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None \
            and importlib.util.find_spec("psycopg") is not None:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def open_storage(url: Any = None, *, must_exist: bool = False, heartbeat_interval: int | None = None,
                 grace_period: int | None = None, retry_seconds: float | None = None) -> Any:
    """Open an Optuna :class:`~optuna.storages.RDBStorage` (with heartbeats) for ``url``: the one place
    where ``None | str | BaseStorage`` becomes a storage (optuna's ``get_storage`` pattern).

    Every process of a study (the ``study`` command and its ``worker`` processes) records a heartbeat for
    its running trial. A trial whose process was killed stops beating; after ``grace_period`` seconds the
    next process that looks fails it and queues it again with Optuna's
    :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` (same parameters, at most
    :data:`MAX_RETRY` times). A trial that is RUNNING for longer than the grace period without ever beating
    (its process died before the first beat) is treated the same way (:func:`fail_silent_trials`).

    A database that was reachable and goes away (a server restart, a network drop, too many connections) is
    waited for: every storage call runs again, with backoff, until it is back or ``retry_seconds`` passed,
    and one line (logger ``hybridtune.storage``) says so, with the password hidden. A database that is not up
    yet when the storage is opened (connection refused, timed out, starting up, too many connections) is
    waited for the same way; a URL that is wrong (an unknown host, a database or role that does not exist, a
    refused password) is an error at once: waiting would not mend it.

    Args:
        url: a database URL; ``None`` means :data:`DEFAULT_STORAGE`; an open Optuna storage is returned
            as it is (the other options do not apply to it).
        must_exist: for commands that only read (``report``, ``dashboard``): a SQLite file that does not
            exist is an error instead of a new, empty database.
        heartbeat_interval / grace_period: seconds (default :data:`HEARTBEAT_SECONDS` and
            :data:`GRACE_SECONDS`); the grace period must exceed the interval.
        retry_seconds: how long to wait for a database that is not up yet or went away (default
            :data:`STORAGE_RETRY_SECONDS`; 0 gives up at once); then :class:`StorageUnreachable`.

    Raises:
        StorageError: a malformed URL, a missing driver, or a wrong URL (unknown host, database or role, a
            refused password); one line, password hidden.
        StorageUnreachable: the database did not answer, or went away, for ``retry_seconds``.
        ConfigError: a heartbeat interval or grace period that is not a positive whole number of seconds,
            or a grace period not above the interval.

    Example:
        >>> import optuna
        >>> storage = open_storage("sqlite:///:memory:")
        >>> isinstance(storage, optuna.storages.RDBStorage), type(storage).__name__  # every call guarded
        (True, 'GuardedRDBStorage')
    """
    import optuna

    from ._errors import ConfigError

    if isinstance(url, optuna.storages.BaseStorage):
        return url
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"storage must be a database URL or an Optuna storage, but got {type(url).__name__}.")
    interval = HEARTBEAT_SECONDS if heartbeat_interval is None else heartbeat_interval
    grace = max(GRACE_SECONDS, 3 * interval) if grace_period is None else grace_period
    for flag, v in (("heartbeat interval", interval), ("grace period", grace)):
        if not is_positive_int(v):
            raise ConfigError(f"the {flag} must be a positive whole number of seconds, but got {v!r}.")
    if grace <= interval:
        raise ConfigError(f"the grace period must be longer than the heartbeat interval, but got grace period "
                          f"{grace}s <= interval {interval}s.")
    retry = STORAGE_RETRY_SECONDS if retry_seconds is None else retry_seconds
    if isinstance(retry, bool) or not isinstance(retry, (int, float)) or not 0 <= retry < float("inf"):
        raise ConfigError(f"the storage retry window must be a number of seconds >= 0, but got {retry!r}.")
    resolved = resolve_storage_url(url)
    path = sqlite_path(resolved)
    if must_exist and path is not None and not path.is_file():
        raise StorageError(f"storage must be an existing database (run `hybridtune study` first), but got "
                           f"{redact(resolved)!r}, which does not exist.")
    engine_kwargs: dict[str, Any] = {}
    if path is not None:
        # The dashboard may read while a study writes: wait for SQLite's lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        # A pooled connection that a server restart closed is replaced when it is taken from the pool
        # (pool_pre_ping), not found dead by the statement that uses it.
        engine_kwargs["pool_pre_ping"] = True
        if resolved.split(":", 1)[0] in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
            # libpq's own options: give up a connection attempt after 10 s, and notice a dead peer (a network
            # drop, no RST) by TCP keepalives within about a minute instead of the kernel's two hours
            engine_kwargs["connect_args"] = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                                             "keepalives_interval": 10, "keepalives_count": 3}
    guard = Guard(resolved, retry)

    def connect() -> Any:
        import time

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
            for attempt in range(_SCHEMA_RACE_TRIES):
                try:
                    return guarded_class()(resolved, engine_kwargs=engine_kwargs, heartbeat_interval=interval,
                                           grace_period=grace, heartbeat_stale_trial_callback=callback)
                except Exception as exc:
                    # Processes that waited for the same database connect at the same moment once it is up,
                    # and each creates Optuna's tables on a fresh one: PostgreSQL lets one CREATE TABLE win
                    # and fails the others with a duplicate in its catalog. The tables exist then: look again.
                    if attempt + 1 == _SCHEMA_RACE_TRIES or not _lost_schema_race(exc):
                        raise
                    _log.debug("another process created the tables first (%s); opening again", type(exc).__name__)
                    time.sleep(0.2 * (attempt + 1))
            raise AssertionError("unreachable")  # pragma: no cover

    try:
        # a server that is not up yet (refused, starting) is waited for as one that goes away later; a wrong
        # URL (unknown host, database or role, a refused password) fails at once
        storage = guard.connect(connect)
    except StorageError:  # the guard gave up (StorageUnreachable), or a SQLite file that cannot be written
        raise
    except ImportError as exc:
        raise StorageError(f"storage {redact(resolved)!r} needs a database driver that is not installed "
                           f"({first_line(scrub(str(exc.__cause__ or exc), resolved))}).") from None
    except Exception as exc:  # sqlalchemy's OperationalError, ArgumentError, a driver's own errors...
        msg = first_line(scrub(str(exc), resolved))
        raise StorageError(f"storage must be a reachable database, but connecting to {redact(resolved)!r} "
                           f"failed: {msg}") from None
    storage.__dict__["_hybridtune_guard"] = guard
    _log.debug("opened storage %s", redact(resolved))
    return storage


#: How often opening a storage tries again after losing the race to create its tables (see open_storage).
_SCHEMA_RACE_TRIES = 5
#: SQLSTATEs of a CREATE that another session's CREATE beat: unique_violation (PostgreSQL's catalog, such as
#: pg_type_typname_nsp_index), duplicate_table, duplicate_object.
_SCHEMA_RACE_SQLSTATES = ("23505", "42P07", "42710")


def _lost_schema_race(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says that another process created the same table or type first."""
    return any(state in _SCHEMA_RACE_SQLSTATES for state in sqlstates(exc))


def storage_url(storage: Any) -> str | None:
    """The URL behind an open :class:`~optuna.storages.RDBStorage` (``None`` for other storages)."""
    url = getattr(storage, "url", None)
    return str(url) if url else None


def is_shared(storage: Any) -> bool:
    """Whether several processes may run trials of one study on ``storage`` (a client/server database).

    SQLite serves one writing process at a time; in-memory storages live in one process.
    """
    url = storage_url(storage)
    if url is None:
        return False
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).get_backend_name() not in ("sqlite",)
    except Exception:
        return False


SHARED_HINT = ("several processes need a database server: --storage postgresql+psycopg://user:password@host/db "
               "(see README, 'Scaling out')")


@contextlib.contextmanager
def coordinator_lock(storage: Any, name: str) -> Iterator[None]:
    """Hold the right to run study ``name``'s coordinator (the ``study`` command) for the ``with`` block.

    - a SQLite file: an exclusive lock on ``<file>.lock`` for the whole run. SQLite serves one process at a
      time, so a second ``study`` (any name) on the same file is refused with a pointer to PostgreSQL, and
      the file is never written by two processes at once;
    - PostgreSQL: a session advisory lock on the study's name, so a second coordinator of the same study is
      refused (workers join with ``hybridtune worker``; other studies run freely);
    - anything else (in-memory, MySQL): nothing to hold.

    Raises:
        StorageError: another process holds it.
    """
    url = storage_url(storage)
    path = sqlite_path(url) if url else None
    if path is not None:
        import fcntl

        lock_path = path.with_name(path.name + ".lock")
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the block
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise StorageError(f"a SQLite storage serves one hybridtune process at a time, but "
                                   f"{redact(url)!r} is in use by {holder}; wait for it to finish, or "
                                   f"{SHARED_HINT}.") from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
            fh.flush()
            yield
        finally:
            fh.close()  # releases the lock
        return
    engine = getattr(storage, "engine", None)
    if url is None or engine is None or engine.dialect.name != "postgresql":
        yield
        return
    from sqlalchemy import text

    key = zlib.crc32(f"hybridtune:{name}".encode()) - 2**31  # a signed 32-bit key per study name

    def acquire() -> tuple[Any, bool]:
        conn = engine.connect()
        try:
            return conn, bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        except BaseException:
            conn.close()
            raise

    conn, got = guarded(storage, acquire)
    try:
        if not got:
            raise StorageError(f"a study has one coordinator, but {name!r} on {redact(url)!r} already has one "
                               f"running (another `hybridtune study`); join it with `hybridtune worker --name "
                               f"{name}`.")
        try:
            yield
        finally:
            # a server restart released the lock with the connection: nothing left to unlock then
            with contextlib.suppress(Exception):
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def study_names(storage: Any) -> list[str]:
    """The names of the studies in an open storage."""
    import optuna

    return optuna.study.get_all_study_names(storage)


# ----------------------------------------------------------------------------------------------
# Trials whose process is gone


def heartbeat_ages(study: Any) -> tuple[dict[int, float], Any]:
    """Seconds since each trial of ``study`` last recorded a heartbeat (by trial number; a trial that never
    beat is absent), and the study's storage.

    This is the one place that reads Optuna internals: the storage behind a study (``Study._storage``) and
    the heartbeat table (``optuna.storages._rdb.models.TrialHeartbeatModel``). Optuna 5 has no public way to
    tell a trial that never beat from one that beats: its stale check (``fail_stale_trials``) skips trials
    without a heartbeat row, so a process killed between taking a trial and its first beat would leave that
    trial RUNNING forever. tests/_core/test_faults.py fails loudly if Optuna changes either.
    """
    storage = _storage_of(study)
    engine = getattr(storage, "engine", None)
    if engine is None:  # an in-memory storage: no heartbeats, nothing can be stale
        return {}, storage
    import sqlalchemy
    from optuna.storages._rdb import models

    beats, trials = models.TrialHeartbeatModel.__table__, models.TrialModel.__table__
    query = (sqlalchemy.select(trials.c.number, beats.c.heartbeat)
             .join(beats, beats.c.trial_id == trials.c.trial_id)
             .join(models.StudyModel.__table__, models.StudyModel.__table__.c.study_id == trials.c.study_id)
             .where(models.StudyModel.__table__.c.study_name == study.study_name))

    def read() -> tuple[Any, list[Any]]:
        with engine.connect() as conn:
            # the database's clock, as Optuna's own stale check uses (heartbeats are written with now())
            now = conn.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar_one()
            return now, list(conn.execute(query))

    now, rows = guarded(storage, read)
    now = now.replace(tzinfo=None) if hasattr(now, "replace") else now
    return {int(n): (now - beat).total_seconds() for n, beat in rows}, storage


def fail_silent_trials(study: Any) -> list[int]:
    """Fail the RUNNING trials of ``study`` that started more than the grace period ago and never recorded a
    heartbeat (their process died before its first beat), and queue each again with the storage's
    ``RetryHeartbeatStaleTrialCallback`` (so at most :data:`MAX_RETRY` times, like a trial whose heartbeat
    stopped). Returns the numbers of the trials failed here.

    The trial's start is the clock of the process that took it (Optuna stores ``datetime.now()``); machines
    whose clocks differ by more than the grace period would fail each other's trials early.
    """
    import copy
    from datetime import datetime

    import optuna
    from optuna.trial import TrialState

    storage = _storage_of(study)
    grace = getattr(storage, "grace_period", None)
    guard = storage.__dict__.get("_hybridtune_guard")
    if grace is None or storage.get_heartbeat_interval() is None or (guard is not None and not guard.settled(grace)):
        return []  # no heartbeats; or just after an outage, when trials could not beat (see _get_stale_trial_ids)
    ages, _ = heartbeat_ages(study)
    now = datetime.now()
    silent = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
              if t.number not in ages and t.datetime_start is not None
              and (now - t.datetime_start).total_seconds() > grace]
    if not silent:
        return []
    callback = storage.get_heartbeat_stale_trial_callback()
    study_id = storage.get_study_id_from_name(study.study_name)
    failed = []
    for t in silent:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:  # a row lock: when two processes look at once, one fails it and the other gets False or an error
            if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        _log.info("trial %d of %s never recorded a heartbeat in %ds: failed", t.number, study.study_name, grace)
        failed.append(t.number)
        if callback is not None:
            callback(study, copy.deepcopy(storage.get_trial(trial_id)))
    return failed


def _storage_of(study: Any) -> Any:
    """The storage behind ``study`` (Optuna wraps an RDBStorage in a private cache, ``_CachedStorage``,
    whose backend is ``_backend``); see :func:`heartbeat_ages`."""
    storage = study._storage
    return getattr(storage, "_backend", storage)
