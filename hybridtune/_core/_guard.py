"""A database that blinks is waited for, not fatal: one guard under every Optuna storage call of a process (the
coordinator, the workers, the report; Optuna's heartbeat thread and a trial's final write included) tells a lost
connection from a real error and runs the call again, with backoff, for a configurable window."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from ._errors import StorageError
from ._redact import first_line, redact, scrub

_log = logging.getLogger(__name__)

#: How long (seconds) a storage waits for a database that went away before giving up, by default.
STORAGE_RETRY_SECONDS = 300

#: The logger of the one line a storage prints while it waits (the CLI prints it as it is).
wait_log = logging.getLogger("hybridtune.storage")

#: PostgreSQL error classes that mean the connection, not the statement, failed: 08 connection exception,
#: 53 insufficient resources (too many connections), 57P operator intervention (shutdown, starting up).
_LOST_SQLSTATES = ("08", "53", "57P")


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it wraps (its cause, else its context), each once: how Optuna's
    ``StorageInternalError`` around SQLAlchemy's error around the driver's is read from the outside in.

    Example:
        >>> try:
        ...     try:
        ...         raise KeyError("inner")
        ...     except KeyError as inner:
        ...         raise ValueError("outer") from inner
        ... except ValueError as e:
        ...     [type(x).__name__ for x in exception_chain(e)]
        ['ValueError', 'KeyError']
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def sqlstates(exc: BaseException) -> Iterator[str]:
    """The SQLSTATE of every error in ``exc``'s chain (:func:`exception_chain`) and of the driver's error
    each wraps (SQLAlchemy's ``orig``), psycopg 3's ``sqlstate`` or psycopg 2's ``pgcode``."""
    for e in exception_chain(exc):
        for candidate in (e, getattr(e, "orig", None)):
            state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if state is not None:
                yield str(state)


def is_connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: Optuna turns every SQLAlchemy error into a ``StorageInternalError``
    "raised during the commit") says the database connection was lost rather than that a statement was
    wrong: a server restart or shutdown, a network drop, too many connections. Such a call can run again
    once the database is back; any other error is real.

    Example:
        >>> is_connection_lost(ValueError("x"))
        False
    """
    import sqlalchemy.exc as sa

    for e in exception_chain(exc):
        if isinstance(e, sa.DBAPIError):
            if e.connection_invalidated:
                return True
            orig = e.orig
            sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
            if e.__class__.__module__.startswith("sqlalchemy") and isinstance(e, (sa.OperationalError,
                                                                                 sa.InterfaceError)):
                if type(orig).__module__.startswith("sqlite3"):  # a local file: only a held lock passes
                    return "locked" in str(orig) or "busy" in str(orig)
                if sqlstate is None:  # raised by the client library: no answer from the server at all
                    return True
                return str(sqlstate).startswith(_LOST_SQLSTATES)
            return sqlstate is not None and str(sqlstate).startswith(_LOST_SQLSTATES)
    return False


#: SQLSTATE of a statement cancelled on the client's request (or by statement_timeout).
_QUERY_CANCELED = "57014"


def is_query_canceled(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: Optuna's ``StorageInternalError`` around SQLAlchemy's error around
    the driver's) is PostgreSQL's ``QueryCanceled``. psycopg cancels the running statement when Ctrl-C or
    SIGTERM lands inside it, so a process being interrupted may see this instead of the interrupt.

    Example:
        >>> is_query_canceled(ValueError("x"))
        False
    """
    return _QUERY_CANCELED in sqlstates(exc)


#: What a client library says when no server answers at an address that may be right: nothing listens there
#: (yet), the server is starting, shutting down or recovering, or it has no connection slot free. Connection
#: errors carry no SQLSTATE (libpq reports them before any exchange), so their text is all there is. A wrong
#: URL says something else: an unknown host, a role or database that does not exist, a password refused.
_UNREACHABLE = ("connection refused", "is the server running", "timeout expired", "timed out",
                "the database system is starting up", "the database system is shutting down",
                "the database system is in recovery mode", "the database system is not yet accepting connections",
                "the database system is not accepting connections", "too many clients", "too many connections",
                "connection slots are reserved", "server closed the connection unexpectedly", "connection reset",
                "no route to host", "network is unreachable", "can't connect to mysql server")


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc``, raised while connecting for the first time, says that no server answers at the URL's
    address yet (refused, timed out, starting up, too many connections): worth waiting for, like a database
    that went away later. A URL that is wrong (an unknown host, a role or database that does not exist, a
    refused password, a bad scheme) is not: waiting would not mend it.

    Example:
        >>> is_unreachable(OSError("connection to server at 127.0.0.1, port 5432 failed: Connection refused"))
        True
        >>> is_unreachable(OSError('FATAL:  database "studeis" does not exist'))
        False
    """
    if any(state.startswith(_LOST_SQLSTATES) for state in sqlstates(exc)):
        return True
    return any(m in str(c).lower() for e in exception_chain(exc) for c in (e, getattr(e, "orig", None))
               if c is not None for m in _UNREACHABLE)


#: What SQLite says when its file cannot be written: a full disk, a read-only file or folder, a failing disk.
_DISK_TROUBLE = ("database or disk is full", "readonly database", "disk i/o error", "unable to open database file")


def _disk_trouble(exc: BaseException) -> str | None:
    """SQLite's message when ``exc`` (or what it wraps) says the database file cannot be written."""
    import sqlite3

    e: BaseException | None = exc
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        orig = getattr(e, "orig", None)
        for candidate in (e, orig):
            if isinstance(candidate, sqlite3.Error) and any(m in str(candidate).lower() for m in _DISK_TROUBLE):
                return str(candidate)
        e = e.__cause__ or e.__context__
    return None


def _window(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


class Guard:
    """One storage's waiting: a call that lost the database runs again, with backoff, until the database is
    back or ``seconds`` passed since it went away (every thread and call of the process shares one outage,
    and the line saying so is printed once per outage)."""

    def __init__(self, url: str, seconds: float) -> None:
        import threading

        self.url, self.seconds = redact(url), float(seconds)
        self.lock = threading.Lock()
        self.local = threading.local()
        self.down_since: float | None = None
        self.back_at: float | None = None
        self.gave_up = False

    def settled(self, seconds: float) -> bool:
        """Whether the database has been reachable for at least ``seconds`` (or never went away) in this
        process: until then, other processes' heartbeats stopped for the same reason as ours did."""
        import time

        return self.down_since is None and (self.back_at is None or time.monotonic() - self.back_at >= seconds)

    def message(self) -> str:
        return (f"database unreachable at {self.url} for {_window(self.seconds)}; gave up (re-run the same "
                f"command to resume once it is back)")

    def retried(self) -> bool:
        """Whether this thread's last guarded call ran more than once."""
        return bool(getattr(self.local, "retried", False))

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, run again while it loses the database (:func:`is_connection_lost`)."""
        return self._retry(fn, args, kwargs, is_connection_lost)

    def connect(self, fn: Any) -> Any:
        """``fn()``, the first connection of a process: run again while the database is not up yet
        (:func:`is_unreachable`), as for a database that went away later; a wrong URL raises at once."""
        return self._retry(fn, (), {}, is_unreachable)

    def _retry(self, fn: Any, args: Any, kwargs: Any, lost: Any) -> Any:
        import time

        from ._errors import StorageUnreachable

        if getattr(self.local, "inside", False):  # Optuna's own calls inside a guarded one: the outer retries
            return fn(*args, **kwargs)
        delay = 0.25
        self.local.inside, self.local.retried = True, False
        try:
            while True:
                if self.gave_up:
                    raise StorageUnreachable(self.message())
                try:
                    result = fn(*args, **kwargs)
                except Exception as exc:
                    if not lost(exc):
                        full = _disk_trouble(exc)
                        if full is not None:
                            raise StorageError(f"a SQLite storage must be writable, but writing {self.url!r} failed: "
                                               f"{full} (free space or fix the folder's permissions, then re-run "
                                               f"the same command to resume).") from None
                        raise
                    now = time.monotonic()
                    with self.lock:
                        if self.down_since is None:
                            self.down_since = now
                            wait_log.warning("database unreachable at %s, retrying for up to %s", self.url,
                                             _window(self.seconds))
                        left = self.down_since + self.seconds - now
                        if left <= 0:
                            self.gave_up = True
                            raise StorageUnreachable(self.message()) from None
                    _log.debug("storage call %s lost the database (%s); retrying", getattr(fn, "__name__", fn),
                               first_line(scrub(str(exc), self.url)))
                    self.local.retried = True
                    time.sleep(min(delay, left))
                    delay = min(2 * delay, 5.0)
                    continue
                if self.down_since is not None:
                    with self.lock:
                        if self.down_since is not None:
                            _log.info("database at %s back after %.0fs", self.url,
                                      time.monotonic() - self.down_since)
                            self.down_since, self.back_at = None, time.monotonic()
                return result
        finally:
            self.local.inside = False


def guarded(storage: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` through ``storage``'s guard: a call that lost the database is run again once
    it is back (see :func:`open_storage`'s ``retry_seconds``). For code that talks to the storage's engine
    directly; every Optuna storage call of an opened storage is guarded already.

    Raises:
        StorageUnreachable: the database stayed away for the whole retry window.
    """
    guard = getattr(_backend(storage), "_hybridtune_guard", None)
    return fn(*args, **kwargs) if guard is None else guard.call(fn, *args, **kwargs)


def _backend(storage: Any) -> Any:
    return getattr(storage, "_backend", storage)


#: Trial system attribute: the token of the ``create_new_trial`` call that made the trial (see
#: :func:`_prepare_once`).
CREATED_BY_KEY = "hybridtune:created_by"


def _prepare_once(storage: Any, study_id: int, template: Any, session: Any, token: str, first: bool) -> Any:
    """Optuna's ``RDBStorage._get_prepared_new_trial`` (the insert of a new trial, in the session whose
    transaction holds the study's row lock), made safe to run again: the new trial carries ``token`` (a
    system attribute, written in the same transaction), and an attempt after the ``first`` returns the
    trial with that token when an earlier attempt's commit had reached the database before its connection
    dropped, instead of inserting a second one.

    The one place that reads Optuna's private trial-creation hook and its ORM models (a trial's insert has no
    public way to be made idempotent); tests/_core/test_faults.py fails loudly if Optuna changes them.
    """
    import copy
    import json

    from optuna.storages import RDBStorage
    from optuna.storages._rdb import models

    attrs, trials = models.TrialSystemAttributeModel, models.TrialModel
    if not first:  # looked up on a retry only: the attribute table is not indexed by value
        found = (session.query(trials).join(attrs, attrs.trial_id == trials.trial_id)
                 .filter(trials.study_id == study_id, attrs.key == CREATED_BY_KEY,
                         attrs.value_json == json.dumps(token)).one_or_none())
        if found is not None:
            _log.info("trial %s was created before the connection dropped; not created twice", found.number)
            return found
    if template is None:  # a fresh RUNNING trial (study.ask): stamped while it can still be updated
        trial = RDBStorage._get_prepared_new_trial(storage, study_id, None, session)
        storage._set_trial_attr_without_commit(session, attrs, trial.trial_id, CREATED_BY_KEY, token)
        return trial
    stamped = copy.deepcopy(template)  # a queued or finished trial: the token goes in with its attributes
    stamped.system_attrs = {**template.system_attrs, CREATED_BY_KEY: token}
    return RDBStorage._get_prepared_new_trial(storage, study_id, stamped, session)


#: Storage methods that need no database (not guarded).
_UNGUARDED = frozenset({"check_trial_is_updatable", "get_heartbeat_interval", "get_heartbeat_stale_trial_callback",
                        "get_failed_trial_callback", "remove_session", "is_heartbeat_enabled"})
_GUARDED_CLASS: Any = None


def guarded_class() -> Any:
    """``RDBStorage`` with every storage call through the storage's :class:`Guard`: the one guard of every
    process (coordinator, workers, report), below Optuna, so ``study.optimize``, its heartbeat thread and
    the final write of a trial's result all wait for a database that blinks."""
    global _GUARDED_CLASS
    if _GUARDED_CLASS is not None:
        return _GUARDED_CLASS
    import functools
    import inspect
    import uuid

    import optuna
    from optuna.storages import BaseStorage, RDBStorage

    def wrap(name: str) -> Any:
        method = getattr(RDBStorage, name)

        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            guard = self.__dict__.get("_hybridtune_guard")
            return method(self, *args, **kwargs) if guard is None else guard.call(method, self, *args, **kwargs)

        return call

    # every method RDBStorage defines (Optuna's cache calls private ones, such as _get_trials, on it), and the
    # storage interface's; not static ones (called without an instance) nor dunders
    names = {n for n, v in vars(RDBStorage).items() if inspect.isfunction(v) and not n.startswith("__")}
    names |= {n for n in dir(BaseStorage) if not n.startswith("_") and callable(getattr(BaseStorage, n))}
    body: dict[str, Any] = {n: wrap(n) for n in sorted(names - _UNGUARDED)
                            if inspect.isfunction(inspect.getattr_static(RDBStorage, n, None))}

    def set_trial_state_values(self: Any, trial_id: int, state: Any, values: Any = None) -> bool:
        # A write whose commit reached the database just before the connection dropped is finished
        # already: its retry finds the trial finished, which is this call's own result, not an error.
        try:
            return body["_set_state"](self, trial_id, state, values)
        except optuna.exceptions.UpdateFinishedTrialError:
            guard = self.__dict__.get("_hybridtune_guard")
            if guard is None or not guard.retried():
                raise
            stored = self.get_trial(trial_id)
            if stored.state != state or (values is not None and list(stored.values or ()) != list(values)):
                raise
            return True

    def once(name: str) -> Any:
        # Creating a trial is not idempotent: a retried insert whose first commit reached the database before
        # the connection dropped would make a second trial (a grid cell queued twice, a search trial counted
        # twice). The outermost call gets a token, kept across the guard's retries and Optuna's own
        # (_create_new_trial retries any StorageInternalError); _prepare_once stores it on the trial in the
        # insert's transaction and, on a retry, finds the trial an earlier attempt made. Both entry points:
        # Optuna's cache calls _create_new_trial, RDBStorage.create_new_trial calls it too.
        def create(self: Any, study_id: int, template_trial: Any = None) -> Any:
            guard = self.__dict__.get("_hybridtune_guard")
            if guard is None or getattr(guard.local, "create_token", None) is not None:
                return body[f"_guarded{name}"](self, study_id, template_trial)
            guard.local.create_token, guard.local.create_attempts = uuid.uuid4().hex, 0
            try:
                return body[f"_guarded{name}"](self, study_id, template_trial)
            finally:
                guard.local.create_token = None

        return create

    def _get_prepared_new_trial(self: Any, study_id: int, template_trial: Any, session: Any) -> Any:
        guard = self.__dict__.get("_hybridtune_guard")
        token = None if guard is None else getattr(guard.local, "create_token", None)
        if token is None:
            return RDBStorage._get_prepared_new_trial(self, study_id, template_trial, session)
        guard.local.create_attempts += 1
        return _prepare_once(self, study_id, template_trial, session, token, guard.local.create_attempts == 1)

    def _get_stale_trial_ids(self: Any, study_id: int) -> list[int]:
        # After an outage every heartbeat is as old as the outage: no trial is judged stale until the
        # processes had a grace period to beat again (their trials are alive; the database was not)
        guard = self.__dict__.get("_hybridtune_guard")
        if guard is not None and not guard.settled(self.grace_period or 0):
            return []
        return body["_stale"](self, study_id)

    def record_heartbeat(self: Any, trial_id: int) -> None:
        # runs in Optuna's heartbeat thread: after giving up, the main thread says so; a thread's traceback
        # would only repeat it
        from ._errors import StorageUnreachable

        with contextlib.suppress(StorageUnreachable):
            body["_record_heartbeat"](self, trial_id)

    body["_set_state"], body["set_trial_state_values"] = body["set_trial_state_values"], set_trial_state_values
    body["_record_heartbeat"], body["record_heartbeat"] = body["record_heartbeat"], record_heartbeat
    body["_stale"], body["_get_stale_trial_ids"] = body["_get_stale_trial_ids"], _get_stale_trial_ids
    for name in ("create_new_trial", "_create_new_trial"):
        body[f"_guarded{name}"], body[name] = body[name], once(name)
    body["_get_prepared_new_trial"] = _get_prepared_new_trial
    _GUARDED_CLASS = type("GuardedRDBStorage", (RDBStorage,), body)
    return _GUARDED_CLASS
