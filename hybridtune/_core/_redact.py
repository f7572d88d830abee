"""Passwords never leave hybridtune: a storage URL as it may be printed, and a driver's error message with the
URL's secrets masked."""

from __future__ import annotations

import re

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


def scrub(text: str, url: str) -> str:
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


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    line = re.sub(r"^\((?:[\w.]+)\)\s*", "", line)  # sqlalchemy's "(sqlite3.OperationalError) " prefix
    return line.rstrip(".") + "."
