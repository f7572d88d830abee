from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import hybridtune as ht

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread for torch, here and in every child process (``OMP_NUM_THREADS=1``). Every model in
    the suite is tiny and gains nothing from threads, while on a small machine that is busy with other work
    torch's default of one thread per core makes them many times slower (tests/probes/test_rangetest.py on
    two shared cores: 108 s with two threads, 10 s with one). No test depends on the thread count."""
    import torch

    previous = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # one cache for the whole session (the parsed mnist5k arrays), never the user's
    monkeypatch.setenv("HYBRIDTUNE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def pg() -> str:
    """The test PostgreSQL server's URL (``HYBRIDTUNE_TEST_POSTGRES_URL``, which ``.ci/run`` sets); the test
    skips, saying why, where it is unset or does not answer."""
    import os

    url = os.environ.get("HYBRIDTUNE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL: set HYBRIDTUNE_TEST_POSTGRES_URL (.ci/run sets the local server's URL)")
    try:
        ht.open_storage(url)
    except ht.StorageError as exc:
        pytest.skip(f"PostgreSQL at HYBRIDTUNE_TEST_POSTGRES_URL is not reachable: {exc}")
    return url


@pytest.fixture(scope="session")
def tiny_task() -> ht.Task:
    """A seeded 4-class 1x8x8 task that trains in well under a second."""
    return ht.Task(model="cnn", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")


# ----------------------------------------------------------------------------------------------
# The command line, in-process (Click's CliRunner, for argparse): most CLI tests


@dataclass(frozen=True)
class Result:
    """What ``hybridtune ARGS`` returned and printed; the attribute names of ``subprocess.CompletedProcess``."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``hybridtune ARGS`` in this process through ``hybridtune.cli.main(argv)``, as ``python -m hybridtune
    ARGS`` would run in ``cwd`` (default: the repository) with ``env`` added to the environment, and return its
    exit code, stdout and stderr.

    What a fresh process would start without is set up for the call and put back afterwards: the environment
    (with ``COLUMNS=200``), the working directory, the root logger (``main``'s ``logging.basicConfig`` then
    installs its handler on the captured stderr), every logger's level, the log handlers that write to the
    terminal's stderr (optuna's), Python's default warning filters with warnings printed to stderr, torch's
    thread count (``OMP_NUM_THREADS`` in ``env`` sets it, as in a child process) and the modules imported from
    a user's files. An argparse exit (``--help``, a usage error) is its exit code; an unexpected exception is a
    traceback on stderr and exit code 1, as the interpreter would print it.
    """
    import torch

    from hybridtune.cli import main

    out, err = io.StringIO(), io.StringIO()
    full_env = {"COLUMNS": "200", **(env or {})}
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    root_handlers = root.handlers[:]
    terminal = {id(sys.stderr), id(sys.__stderr__)}
    retargeted = [(h, h.stream) for lg in loggers for h in lg.handlers
                  if type(h) is logging.StreamHandler and id(h.stream) in terminal]
    threads = torch.get_num_threads()
    modules = set(sys.modules)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        for key, value in full_env.items():
            mp.setenv(key, value)
        mp.chdir(cwd or ROOT)
        if "OMP_NUM_THREADS" in full_env:
            torch.set_num_threads(int(full_env["OMP_NUM_THREADS"]))
        # a fresh interpreter's filters (no -W): pytest's own, and its recording, are not what a user sees
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
        warnings.showwarning = _show_warning
        root.handlers = []
        for handler, _ in retargeted:
            handler.setStream(err)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse: --help, --version, a usage error
                    if exc.code is None or isinstance(exc.code, int):
                        code = exc.code or 0
                    else:
                        print(exc.code, file=sys.stderr)
                        code = 1
                except Exception:
                    traceback.print_exc()
                    code = 1
        finally:
            for handler in root.handlers:
                if handler not in root_handlers:
                    handler.close()
            root.handlers = root_handlers
            for handler, stream in retargeted:
                handler.setStream(stream)
            for lg, level in levels.items():
                lg.setLevel(level)
            torch.set_num_threads(threads)
            for name in set(sys.modules) - modules:
                if _user_module(sys.modules[name]):
                    del sys.modules[name]
    return Result(tuple(args), int(code), out.getvalue(), err.getvalue())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _user_module(module: object) -> bool:
    """A module imported from a user's file that a test wrote (``--model net.py:build``, and a ``layers.py``
    that it imports from its folder): a fresh process would not have it, and a later call must import the file
    again. Never the package's or an installed library's modules."""
    if (getattr(module, "__name__", "") or "").startswith("_hybridtune_user_"):
        return True
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    return path.is_relative_to(_TEMP) and not any(path.is_relative_to(p) for p in _KEEP)


_TEMP = Path(tempfile.gettempdir()).resolve()
_KEEP = (ROOT, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve())


# ----------------------------------------------------------------------------------------------
# The command line as a real process: only the smoke tests (entry point, signals, workers, servers)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hybridtune ARGS`` as a subprocess, as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "hybridtune", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
