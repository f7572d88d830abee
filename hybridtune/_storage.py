"""Where studies live: Optuna storage URLs, opened once, printed only with the password hidden.

The default is a SQLite file, ``runs/hybridtune.db`` (its folder is created). Any SQLAlchemy URL Optuna
accepts works (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``). A URL is never printed, logged or
written with its password: :func:`redact` is applied wherever one leaves this module.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import warnings
from pathlib import Path
from typing import Any

from ._errors import StorageError

_log = logging.getLogger(__name__)

#: The default storage: one SQLite file for every study, under ``runs/``.
DEFAULT_STORAGE = "sqlite:///runs/hybridtune.db"
#: Heartbeats let a resumed study fail (and so retry) the trial a killed process left RUNNING.
HEARTBEAT_SECONDS = 60
GRACE_SECONDS = 180


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (unparseable text is returned with any
    ``user:password@`` part masked the same way).

    Example:
        >>> redact("postgresql://ann:s3cret@db.example.org/studies")
        'postgresql://ann:***@db.example.org/studies'
    """
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", str(url))


def _scrub(text: str, url: str) -> str:
    """An error message from a driver, with the URL's password masked wherever it appears."""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:
        password = None
    text = text.replace(url, redact(url))
    if password:
        text = text.replace(str(password), "***")
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


def open_storage(url: str | None = None, *, must_exist: bool = False) -> Any:
    """Open an Optuna :class:`~optuna.storages.RDBStorage` (with heartbeats) for ``url``.

    Args:
        url: a database URL; ``None`` means :data:`DEFAULT_STORAGE`.
        must_exist: for commands that only read (``report``, ``dashboard``): a SQLite file that does not
            exist is an error instead of a new, empty database.

    Raises:
        StorageError: a malformed URL, a missing driver, or a database that cannot be reached; one line,
            password hidden.

    Example:
        >>> storage = open_storage("sqlite:///:memory:")
        >>> type(storage).__name__
        'RDBStorage'
    """
    import optuna

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
            storage = optuna.storages.RDBStorage(resolved, engine_kwargs=engine_kwargs,
                                                 heartbeat_interval=HEARTBEAT_SECONDS,
                                                 grace_period=GRACE_SECONDS)
    except ImportError as exc:
        raise StorageError(f"storage {redact(resolved)!r} needs a database driver that is not installed "
                           f"({_first_line(_scrub(str(exc.__cause__ or exc), resolved))}).") from None
    except Exception as exc:  # sqlalchemy's OperationalError, ArgumentError, a driver's own errors...
        msg = _first_line(_scrub(str(exc), resolved))
        raise StorageError(f"storage must be a reachable database, but connecting to {redact(resolved)!r} "
                           f"failed: {msg}") from None
    _log.debug("opened storage %s", redact(resolved))
    return storage


def study_names(storage: Any) -> list[str]:
    """The names of the studies in an open storage."""
    import optuna

    return optuna.study.get_all_study_names(storage)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    line = re.sub(r"^\((?:[\w.]+)\)\s*", "", line)  # sqlalchemy's "(sqlite3.OperationalError) " prefix
    return line.rstrip(".") + "."
