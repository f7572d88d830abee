"""One way to write a file: atomically, with the user's permissions, and one clear error when it cannot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import hybridtune as ht
from hybridtune._core._files import check_writable, write_text


def test_write_text_creates_the_folder_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "r.json"
    assert write_text(target, "{}\n") == target
    assert target.read_text() == "{}\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_path_under_a_file_is_one_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    bad = tmp_path / "f" / "r.json"
    message = (f"report must be a path in a folder that can be created and written, but {str(bad)!r} cannot be "
               f"written (Not a directory).")
    with pytest.raises(ht.ConfigError) as err:
        write_text(bad, "x", what="report")
    assert str(err.value) == message
    with pytest.raises(ht.ConfigError, match="cannot be written"):
        check_writable(bad, what="report")
