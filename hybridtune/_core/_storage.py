"""Where studies live: Optuna storage URLs, opened once, printed only with the password hidden.

The default is a SQLite file, ``runs/hybridtune.db`` (its folder is created). Any SQLAlchemy URL Optuna
accepts works (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``). A URL is never printed, logged or
written with its password: :func:`redact` is applied wherever one leaves this module.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import socket
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._checks import is_positive_int
from ._errors import StorageError

_log = logging.getLogger(__name__)

#: The default storage: one SQLite file for every study, under ``runs/``.
DEFAULT_STORAGE = "sqlite:///runs/hybridtune.db"
#: Heartbeats: every running trial's process records one every ``HEARTBEAT_SECONDS``; a trial without one
#: for ``GRACE_SECONDS`` belonged to a killed process: it is failed and queued again (up to ``MAX_RETRY``
#: times), by whichever process of the study looks next.
HEARTBEAT_SECONDS = 60
GRACE_SECONDS = 180
MAX_RETRY = 3


#: Query parameters that carry a password (``...?password=...``, as some drivers accept), any case.
_SECRET_PARAMS = ("password", "passwd", "pwd")
_SECRET_QUERY = re.compile(rf"([?&;](?:{'|'.join(_SECRET_PARAMS)})=)[^&;#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``: the ``user:password@`` part and password-like query
    parameters (``password=``, ``passwd=``, ``pwd=``, any case). Unparseable text is masked the same way.

    Example:
        >>> redact("postgresql://ann:s3cret@db.example.org/studies")
        'postgresql://ann:***@db.example.org/studies'
        >>> redact("mysql+pymysql://db/studies?charset=utf8&PASSWORD=s3cret&user=ann")
        'mysql+pymysql://db/studies?PASSWORD=***&charset=utf8&user=ann'
    """
    try:
        from sqlalchemy.engine import make_url

        text = make_url(url).render_as_string(hide_password=True)
    except Exception:
        text = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", str(url))
    return _SECRET_QUERY.sub(r"\1***", text)


def _scrub(text: str, url: str) -> str:
    """An error message from a driver, with the URL's passwords masked wherever they appear."""
    secrets: list[str] = []
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        secrets.append(str(parsed.password or ""))
        for key, value in parsed.query.items():
            if key.lower() in _SECRET_PARAMS:
                secrets.extend([value] if isinstance(value, str) else list(value))
    except Exception:
        pass
    text = text.replace(url, redact(url))
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text


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
                 grace_period: int | None = None) -> Any:
    """Open an Optuna :class:`~optuna.storages.RDBStorage` (with heartbeats) for ``url``: the one place
    where ``None | str | BaseStorage`` becomes a storage (optuna's ``get_storage`` pattern).

    Every process of a study (the ``study`` command and its ``worker`` processes) records a heartbeat for
    its running trial. A trial whose process was killed stops beating; after ``grace_period`` seconds the
    next process that looks fails it and queues it again with Optuna's
    :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` (same parameters, at most
    :data:`MAX_RETRY` times).

    Args:
        url: a database URL; ``None`` means :data:`DEFAULT_STORAGE`; an open Optuna storage is returned
            as it is (the other options do not apply to it).
        must_exist: for commands that only read (``report``, ``dashboard``): a SQLite file that does not
            exist is an error instead of a new, empty database.
        heartbeat_interval / grace_period: seconds (default :data:`HEARTBEAT_SECONDS` and
            :data:`GRACE_SECONDS`); the grace period must exceed the interval.

    Raises:
        StorageError: a malformed URL, a missing driver, or a database that cannot be reached; one line,
            password hidden.
        ConfigError: a heartbeat interval or grace period that is not a positive whole number of seconds,
            or a grace period not above the interval.

    Example:
        >>> storage = open_storage("sqlite:///:memory:")
        >>> type(storage).__name__
        'RDBStorage'
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
    resolved = resolve_storage_url(url)
    path = sqlite_path(resolved)
    if must_exist and path is not None and not path.is_file():
        raise StorageError(f"storage must be an existing database (run `hybridtune study` first), but got "
                           f"{redact(resolved)!r}, which does not exist.")
    engine_kwargs: dict[str, Any] = {}
    if path is not None:
        # The dashboard may read while a study writes: wait for SQLite's lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
            storage = optuna.storages.RDBStorage(resolved, engine_kwargs=engine_kwargs,
                                                 heartbeat_interval=interval, grace_period=grace,
                                                 heartbeat_stale_trial_callback=retry)
    except ImportError as exc:
        raise StorageError(f"storage {redact(resolved)!r} needs a database driver that is not installed "
                           f"({_first_line(_scrub(str(exc.__cause__ or exc), resolved))}).") from None
    except Exception as exc:  # sqlalchemy's OperationalError, ArgumentError, a driver's own errors...
        msg = _first_line(_scrub(str(exc), resolved))
        raise StorageError(f"storage must be a reachable database, but connecting to {redact(resolved)!r} "
                           f"failed: {msg}") from None
    _log.debug("opened storage %s", redact(resolved))
    return storage


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
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if not got:
            raise StorageError(f"a study has one coordinator, but {name!r} on {redact(url)!r} already has one "
                               f"running (another `hybridtune study`); join it with `hybridtune worker --name "
                               f"{name}`.")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def study_names(storage: Any) -> list[str]:
    """The names of the studies in an open storage."""
    import optuna

    return optuna.study.get_all_study_names(storage)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    line = re.sub(r"^\((?:[\w.]+)\)\s*", "", line)  # sqlalchemy's "(sqlite3.OperationalError) " prefix
    return line.rstrip(".") + "."
