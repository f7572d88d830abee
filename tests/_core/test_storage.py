"""A storage URL never leaves hybridtune with its password: in the ``user:password@`` part or in the query."""

from __future__ import annotations

import pytest

import hybridtune as ht
from hybridtune._core._redact import scrub as _scrub


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://ann:s3cret@db.example.org/studies", "postgresql://ann:***@db.example.org/studies"),
    ("postgresql://db/studies?password=s3cret", "postgresql://db/studies?password=***"),
    ("mysql+pymysql://db/s?charset=utf8&PASSWD=s3cret&user=ann",
     "mysql+pymysql://db/s?PASSWD=***&charset=utf8&user=ann"),  # SQLAlchemy sorts the query
    ("mssql+pyodbc://db/s?Pwd=s3cret;driver=x", "mssql+pyodbc://db/s?Pwd=***"),
    ("sqlite:///file:/tmp/s.db?password=s3cret&uri=true", "sqlite:///file%3A/tmp/s.db?password=***&uri=true"),
    ("not a url ?pwd=s3cret&x=1", "not a url ?pwd=***&x=1"),
    ("postgresql://db/studies?passwords_file=x", "postgresql://db/studies?passwords_file=x"),  # not a password
])
def test_redact_masks_passwords_in_the_userinfo_and_the_query(url: str, shown: str) -> None:
    assert ht.redact(url) == shown and "s3cret" not in ht.redact(url)


def test_driver_messages_are_scrubbed_of_query_passwords() -> None:
    url = "postgresql://db/studies?Password=s3cret"
    assert _scrub(f"connection to {url} failed: s3cret rejected", url) == \
        "connection to postgresql://db/studies?Password=*** failed: *** rejected"
