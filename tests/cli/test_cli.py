from __future__ import annotations

import json

import pytest

import hybridtune as ht
from conftest import cli, run_cli


def test_train_cli_writes_json(tmp_path) -> None:
    out = tmp_path / "r.json"
    p = cli("train", "--model", "cnn", "--dataset", "synthetic:n=300", "--epochs", "2",
            "--batch-size", "32", "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "epochs" in p.stdout and "test acc" in p.stdout
    data = json.loads(out.read_text())
    assert data["status"] == "completed"
    assert data["cost"]["examples"] == 2 * (210 // 32) * 32
    assert set(data["cost"]) >= {"examples", "steps", "seconds", "eval_examples"}
    assert 0 <= data["test_accuracy"] <= 1 and data["test_loss"] > 0


def test_train_cli_user_model_file(tmp_path) -> None:
    f = tmp_path / "net.py"
    f.write_text("import torch\n"
                 "def build(input_shape, num_classes):\n"
                 "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, num_classes))\n")
    p = cli("train", "--model", f"{f}:build", "--dataset", "digits", "--epochs", "1")
    assert p.returncode == 0, p.stderr
    assert "status completed" in p.stdout


def test_cli_bad_input_is_one_line_exit_2() -> None:
    p = cli("train", "--model", "resnett", "--dataset", "synthetic:n=100")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0
    assert "Did you mean 'resnet'" in p.stderr and "Traceback" not in p.stderr
    p = cli("train", "--epochs", "0")
    assert p.returncode == 2 and "must be a positive integer, but got 0" in p.stderr
    assert p.stderr.strip().count("\n") == 0


def test_list_cli() -> None:
    p = cli("list")
    assert p.returncode == 0 and "resnet" in p.stdout and "mnist5k" in p.stdout


@pytest.mark.slow
def test_the_entry_point_runs_as_a_process() -> None:
    """The one smoke test of ``python -m hybridtune`` itself (every other CLI test calls ``main`` in-process):
    the version, and a bad input as the process's exit code 2 with one line on stderr."""
    p = run_cli("--version")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"hybridtune {ht.__version__}"
    p = run_cli("train", "--epochs", "0")
    assert p.returncode == 2 and "must be a positive integer, but got 0" in p.stderr
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr


@pytest.mark.parametrize(("signal_exc", "code", "line"), [("Terminated", 143, "stopped (SIGTERM)"),
                                                           ("KeyboardInterrupt", 130, "interrupted")])
def test_an_error_raised_while_an_interrupt_unwinds_is_still_the_interrupt(monkeypatch, signal_exc, code,
                                                                            line) -> None:
    """Optuna's _run_trial raises UnboundLocalError from its ``finally`` when SIGTERM lands inside ``tell``:
    one line and the signal's exit code, never a traceback."""
    from hybridtune.cli import _main, _train

    def interrupted_then_broken(self, args):
        try:
            raise _main.Terminated() if signal_exc == "Terminated" else KeyboardInterrupt
        finally:
            raise UnboundLocalError("cannot access local variable 'updated_state'")

    monkeypatch.setattr(_train.ListCommand, "take_action", interrupted_then_broken)
    r = cli("list")
    assert r.returncode == code and r.stderr.strip() == f"hybridtune list: {line}" and "Traceback" not in r.stderr


def _canceled_by_the_server() -> Exception:
    """What psycopg, SQLAlchemy and Optuna raise when a statement was cancelled: Optuna's StorageInternalError
    around SQLAlchemy's OperationalError around psycopg's QueryCanceled (SQLSTATE 57014)."""
    import optuna
    import psycopg.errors
    import sqlalchemy.exc

    try:
        try:
            raise sqlalchemy.exc.OperationalError("SELECT", {}, psycopg.errors.QueryCanceled(
                "canceling statement due to user request"))
        except sqlalchemy.exc.OperationalError as exc:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc
    except optuna.exceptions.StorageInternalError as exc:
        return exc


@pytest.mark.parametrize(("signum", "code", "line"), [("SIGTERM", 143, "stopped (SIGTERM)"),
                                                      ("SIGINT", 130, "interrupted")])
def test_a_statement_cancelled_by_the_interrupt_is_the_interrupt(monkeypatch, tmp_path, signum, code, line) -> None:
    """SIGTERM or Ctrl-C inside a statement: psycopg cancels it and Optuna raises the QueryCanceled, wrapped,
    with no interrupt in its chain. The signal arrived, so it is the interrupt: one line and its exit code."""
    import signal

    from hybridtune._core._guard import guarded_class

    url = f"sqlite:///{tmp_path / 's.db'}"
    ht.open_storage(url)  # the file exists: doctor reads it

    def cancelled(self, *args, **kwargs):
        try:  # the signal lands in the statement; psycopg's wait catches it and cancels the statement
            signal.raise_signal(getattr(signal, signum))
        except KeyboardInterrupt:
            pass
        raise _canceled_by_the_server()

    monkeypatch.setattr(guarded_class(), "get_all_studies", cancelled)
    # a background job (nohup, some CI runners) inherits SIGINT ignored: Ctrl-C must reach the CLI here
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        r = cli("doctor", "--storage", url)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (r.returncode, r.stderr.strip()) == (code, f"hybridtune doctor: {line}")


def test_a_statement_cancelled_without_a_signal_is_a_real_error(monkeypatch, tmp_path) -> None:
    """The same QueryCanceled with no signal received (a statement_timeout, an administrator's cancel) is not
    an interrupt: it stays an unexpected error (exit 1, the traceback)."""
    from hybridtune._core._guard import guarded_class

    url = f"sqlite:///{tmp_path / 's.db'}"
    ht.open_storage(url)
    monkeypatch.setattr(guarded_class(), "get_all_studies", lambda self, *a, **k: (_ for _ in ()).throw(
        _canceled_by_the_server()))
    r = cli("doctor", "--storage", url)
    assert r.returncode == 1 and "QueryCanceled" in r.stderr and "interrupted" not in r.stderr
