"""Writing files: atomically (a reader never sees half a file) and with one clear error when a path cannot
be written. Every file hybridtune writes (JSON results, reports, recipes, checkpoints, caches) goes through
here."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ._errors import ConfigError


def _unwritable(path: Path, exc: OSError, what: str) -> ConfigError:
    # mkdir on a path whose folder is a file says "File exists": the rule broken is "not a directory"
    reason = os.strerror(errno.ENOTDIR) if isinstance(exc, FileExistsError) else (exc.strerror or str(exc))
    return ConfigError(f"{what} must be a path in a folder that can be created and written, but {str(path)!r} "
                       f"cannot be written ({reason}).")


def check_writable(path: Path, *, what: str = "file") -> None:
    """Fail fast, before any work: create ``path``'s folder and check that a file can be written in it.

    Raises:
        ConfigError: naming the path and the system's reason.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise _unwritable(path, exc, what) from None


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any], *, what: str = "file") -> Path:
    """Write ``path`` through ``write(binary file)`` into a temporary file beside it (a reader never sees half a file); an ``OSError``
    (a folder that cannot be created or written, a full disk) is one :class:`ConfigError` naming the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _unwritable(path, exc, what) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        # mkstemp makes the file private (0600); what we write is an ordinary file of the user's
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _unwritable(path, exc, what) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str, *, what: str = "file") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    data = text.encode("utf-8")
    return atomic_write(Path(path), lambda f: f.write(data), what=what)


def report_file(path: str | Path) -> Path:
    """The report file a path names: itself when it ends in ``.html`` (or ``.htm``), else ``report.html`` in
    that folder. The run puts its recipe and weights in that file's folder; the report stage writes the file.

    Example:
        >>> str(report_file("runs/a/")), str(report_file("out/summary.html"))
        ('runs/a/report.html', 'out/summary.html')
    """
    target = Path(path)
    return target if target.suffix.lower() in (".html", ".htm") else target / "report.html"
