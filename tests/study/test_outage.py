"""A database that blinks (issue 23, B): a coordinator and a worker on a throw-away PostgreSQL cluster of their
own (``benchmarks/_cluster.py``, never the shared server), stopped under them.

Skipped, saying why, where ``initdb`` / ``pg_ctl`` are not available.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import _cluster  # noqa: E402

ENV = {"OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
DATA = "synthetic:n=1200,classes=4,noise=1.5"


@pytest.fixture
def cluster():
    why = _cluster.why_unavailable()
    if why is not None:
        pytest.skip(f"no throw-away PostgreSQL cluster: {why}")
    c = _cluster.Cluster()
    c.start()
    yield c
    c.destroy()


def _spawn(*args: str, cwd: Path, log: Path) -> subprocess.Popen[str]:
    fh = open(log, "w")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen([sys.executable, "-m", "hybridtune", *args], cwd=cwd, env={**os.environ, **ENV},
                            stdout=fh, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _study_and_worker(url: str, tmp_path: Path, retry: str) -> tuple[subprocess.Popen[str], subprocess.Popen[str]]:
    common = ["--storage", url, "--threads", "1", "--heartbeat-interval", "1", "--grace-period", "30",
              "--storage-retry", retry]
    study = _spawn("study", "--name", "o", "--model", "mlp", "--dataset", DATA, "--quick", "--trials", "6",
                   "--epochs", "20", "--no-test", "--out", str(tmp_path / "report.html"), *common,
                   cwd=tmp_path, log=tmp_path / "study.log")
    worker = _spawn("worker", "--name", "o", *common, cwd=tmp_path, log=tmp_path / "worker.log")
    storage = optuna.storages.RDBStorage(url)
    deadline = time.monotonic() + 180
    try:  # stop the database while the grid runs: both processes hold trials then (20 epochs: a grid trial
        # lasts several polls, however fast the machine)
        while time.monotonic() < deadline:
            try:
                grid = optuna.load_study(study_name="o-grid", storage=storage)
                if any(t.state == TrialState.RUNNING for t in grid.get_trials(deepcopy=False)):
                    return study, worker
            except KeyError:
                pass
            if study.poll() is not None:
                pytest.fail(f"the study ended before its grid ran: {(tmp_path / 'study.log').read_text()}")
            time.sleep(0.2)
    finally:
        storage.engine.dispose()
    pytest.fail("the grid never started")


def test_a_database_restart_is_waited_for_and_the_study_completes(cluster, tmp_path) -> None:
    study, worker = _study_and_worker(cluster.url, tmp_path, "120")
    cluster.stop("immediate")  # a crash: every connection dropped
    time.sleep(4)
    cluster.start()
    assert (study.wait(240), worker.wait(240)) == (0, 0)
    for who in ("study", "worker"):
        log = (tmp_path / f"{who}.log").read_text()
        assert "Traceback" not in log and "StorageInternalError" not in log, log
        assert log.count(f"hybridtune {who}: database unreachable at {cluster.url}, retrying for up to 2 min") == 1, log
    storage = optuna.storages.RDBStorage(cluster.url)
    for role, n in (("o", 6), ("o-grid", 4)):
        trials = optuna.load_study(study_name=role, storage=storage).get_trials(deepcopy=False)
        assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
        assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == n
    assert (tmp_path / "report.html").is_file()
    storage.engine.dispose()


def test_a_database_gone_for_longer_than_the_window_ends_with_one_line_and_exit_code_4(cluster, tmp_path) -> None:
    study, worker = _study_and_worker(cluster.url, tmp_path, "3")
    cluster.stop("fast")
    assert (study.wait(120), worker.wait(120)) == (4, 4)
    for who in ("study", "worker"):
        log = (tmp_path / f"{who}.log").read_text()
        assert "Traceback" not in log, log
        assert log.rstrip().splitlines()[-1] == (f"hybridtune {who}: error: database unreachable at {cluster.url} "
                                                 f"for 3 s; gave up (re-run the same command to resume once it is "
                                                 f"back)"), log


def test_a_database_not_up_yet_at_start_is_waited_for_and_a_wrong_one_is_not(tmp_path) -> None:
    """A coordinator and a worker started during an outage (the server refuses connections) print the one wait
    line and run the study once it is up; a URL that is wrong (no such database) is exit 2 at once."""
    why = _cluster.why_unavailable()
    if why is not None:
        pytest.skip(f"no throw-away PostgreSQL cluster: {why}")
    c = _cluster.Cluster()  # made, not started: nothing listens on its port yet
    try:
        common = ["--storage", c.url, "--threads", "1", "--heartbeat-interval", "1", "--grace-period", "30",
                  "--storage-retry", "120"]
        study = _spawn("study", "--name", "late", "--model", "mlp", "--dataset", DATA, "--quick", "--trials", "2",
                       "--epochs", "2", "--no-test", "--out", str(tmp_path / "report.html"), *common, cwd=tmp_path,
                       log=tmp_path / "study.log")
        worker = _spawn("worker", "--name", "late", *common, cwd=tmp_path, log=tmp_path / "worker.log")
        line = f"database unreachable at {c.url}, retrying for up to 2 min"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                line in (tmp_path / f"{who}.log").read_text() for who in ("study", "worker")):
            assert study.poll() is None and worker.poll() is None, (tmp_path / "study.log").read_text()
            time.sleep(0.2)
        time.sleep(2)
        c.start()
        assert (study.wait(240), worker.wait(240)) == (0, 0), (tmp_path / "study.log").read_text()
        for who in ("study", "worker"):
            log = (tmp_path / f"{who}.log").read_text()
            assert "Traceback" not in log, log
            assert log.count(f"hybridtune {who}: {line}") == 1, log
        assert (tmp_path / "report.html").is_file()
        wrong = c.url.rsplit("/", 1)[0] + "/nosuchdb"
        started = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "hybridtune", "worker", "--name", "late", "--storage", wrong],
                           cwd=tmp_path, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and time.monotonic() - started < 30, p.stderr
        assert p.stderr.strip().splitlines() == [
            f"hybridtune worker: error: storage must be a reachable database, but connecting to {wrong!r} failed: "
            f"connection failed: connection to server at \"127.0.0.1\", port {c.port} failed: FATAL:  database "
            f"\"nosuchdb\" does not exist."]
    finally:
        c.destroy()


def test_a_database_never_up_ends_with_one_line_and_exit_code_4(tmp_path) -> None:
    """Nothing ever listens (a cluster never started): the wait line, then exit 4 after the retry window."""
    url = f"postgresql+psycopg://ann:s3cret@127.0.0.1:{_cluster._free_port()}/studies"
    shown = url.replace("s3cret", "***")
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "hybridtune", "worker", "--name", "w", "--storage", url,
                        "--storage-retry", "2"], cwd=tmp_path, env={**os.environ, **ENV}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 4, p.stderr
    assert time.monotonic() - started >= 2
    assert p.stderr.strip().splitlines() == [
        f"hybridtune worker: database unreachable at {shown}, retrying for up to 2 s",
        f"hybridtune worker: error: database unreachable at {shown} for 2 s; gave up (re-run the same command to "
        f"resume once it is back)"]


def test_processes_opening_a_fresh_database_at_once_all_open_it(cluster) -> None:
    """What processes that waited for the same database do once it is up: open it together, each creating
    Optuna's tables. PostgreSQL fails the CREATEs that lose the race (a duplicate in its catalog); every
    process must still open the storage, not end with exit 2."""
    import threading

    from hybridtune._core import StorageError, open_storage

    fresh = cluster.url.rsplit("/", 1)[0] + "/fresh"
    import sqlalchemy

    engine = sqlalchemy.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE fresh")
    engine.dispose()
    start, errors, opened = threading.Barrier(6), [], []

    def open_at_once() -> None:
        start.wait()
        try:
            opened.append(open_storage(fresh, retry_seconds=30))
        except StorageError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=open_at_once) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(opened) == 6
    for s in opened:
        s.engine.dispose()
