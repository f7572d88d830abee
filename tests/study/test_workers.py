"""Scaling out (issue 5): workers on PostgreSQL, killed and interrupted trials, resume, and SQLite's one-process
rule.

The PostgreSQL tests read the server's URL from ``HYBRIDTUNE_TEST_POSTGRES_URL`` (``.ci/run`` sets it to the
local server) and skip, saying why, where it is unset or unreachable. Every test uses its own study names, so
they never see each other's trials.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from torch import nn

import hybridtune as ht
from conftest import cli

ENV = {"OMP_NUM_THREADS": "1", "COLUMNS": "200"}
DATA = "synthetic:n=1200,classes=4,noise=1.5"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _spawn(*args: str, cwd: Path, log: Path) -> subprocess.Popen[str]:
    """``hybridtune ARGS`` in the background, as a user would start it in a terminal; output goes to ``log``.

    SIGINT is reset to its default in the child: a shell's background jobs (a CI runner's too) inherit it
    ignored, and Python then never turns Ctrl-C into KeyboardInterrupt."""
    fh = open(log, "w")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen([sys.executable, "-m", "hybridtune", *args], cwd=cwd, env={**os.environ, **ENV},
                            stdout=fh, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def _cells(trials) -> list[tuple]:
    return [tuple(sorted(t.params.items())) for t in trials if t.state == TrialState.COMPLETE]


def _study_args(name: str, url: str, *extra: str) -> list[str]:
    return ["study", "--name", name, "--storage", url, "--model", "cnn", "--dataset", DATA, "--quick",
            "--threads", "1", "--no-test", "--quiet", *extra]


@pytest.mark.slow  # real processes: a coordinator and its workers
# its own limit, honest: the waits below add up to 540 s (the study to be ready 120, the coordinator 300, the
# workers 120) besides this process's own trials
@pytest.mark.timeout(600)
@pytest.mark.parametrize("n_workers, space", [(2, "narrow"), (4, "narrow"), (2, "prior")])
def test_workers_share_one_study_with_exact_counts(pg: str, tmp_path: Path, monkeypatch, n_workers: int,
                                                   space: str) -> None:
    """The coordinator and its workers run the exact global number of trials, each grid cell once, and a
    worker reads the priors from the study instead of probing (this process is one of the workers). With
    ``--space prior`` every process builds the same prior-guided sampler from the study."""
    name = _name("workers")
    trials = 10
    workers = [_spawn("worker", "--name", name, "--storage", pg, "--threads", "1", "--quiet",
                      cwd=tmp_path, log=tmp_path / f"worker{i}.log") for i in range(n_workers - 1)]
    coordinator = _spawn(*_study_args(name, pg, "--trials", str(trials), "--baseline", "grid,random",
                                      "--space", space), cwd=tmp_path, log=tmp_path / "study.log")

    import hybridtune.probes._priors as priors_module

    def no_probes(*a, **k):
        raise AssertionError("a worker must never run the probes")

    # find_priors runs the range test through this name: any caller, any door
    monkeypatch.setattr(priors_module, "lr_range_test", no_probes)
    torch.set_num_threads(1)
    mine = ht.run_worker(name, storage=pg, device="cpu", wait_seconds=120, poll_seconds=0.2)
    assert coordinator.wait(timeout=300) == 0, (tmp_path / "study.log").read_text()[-3000:]
    deadline = time.monotonic() + 120  # the workers run side by side: one 120 s wait for all of them
    for w in workers:
        assert w.wait(timeout=max(deadline - time.monotonic(), 1)) == 0, [p.read_text()[-2000:]
                                                                          for p in tmp_path.glob("worker*.log")]

    search, grid, rand = (_trials(pg, n) for n in (name, f"{name}-grid", f"{name}-random"))
    # the global cap, across every process: exactly `trials` for random; for the search's ladder exactly its
    # plan (`trials` at most), the probes' momentum runs on its first rung besides
    assert len(rand) == trials and sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in rand) == trials
    plan = optuna.load_study(study_name=name, storage=pg).user_attrs["ladder"]
    probes = [t for t in search if t.user_attrs.get("source") == "momentum probe"]
    search = [t for t in search if t not in probes]
    assert len(search) == sum(plan["counts"]) <= trials and len(probes) <= 2
    assert all(t.state == TrialState.COMPLETE for t in search)
    trials = len(search)
    assert len(grid) == 4 and len(set(_cells(grid))) == 4  # each cell once, none twice
    workers_seen = {t.user_attrs["worker"] for t in search + grid + rand}
    assert mine.worker in workers_seen and mine.total >= 1
    assert len(workers_seen) >= 2
    assert sum(t.user_attrs["worker"] == mine.worker for t in search + grid + rand) == mine.total
    # the comparison rebuilt from storage counts every process's trials
    result = ht.load_result(name, storage=pg)
    assert result.search.n_trials == trials and result.grid.n_trials == 4
    if space == "prior":  # every sampled trial records its source; the suggestions are the first two
        assert result.prior_sampler is not None and result.space["source"] == "prior-guided"
        sampled = [t for t in search if not t.user_attrs.get("source") and "promoted_from" not in t.user_attrs]
        assert len(sampled) == plan["counts"][0] - 2
        assert {t.user_attrs["source_draw"] for t in sampled} <= {"prior", "wide", "incumbent"}


def test_worker_trials_cap_and_a_study_it_cannot_rebuild(pg: str, tiny_task: ht.Task) -> None:
    name = _name("cap")
    # a study made from Python objects cannot be rebuilt by a worker: one clear error
    task = ht.Task(model=lambda shape, classes: nn.Sequential(nn.Flatten(), nn.Linear(64, classes)),
                   data="synthetic:n=300,classes=4", device="cpu")
    cfg = ht.StudyConfig(name=name, trials=2, epochs=1, probe_batch_size=32, baselines=(), test=False,
                         dashboard=False)
    ht.run_study(task, cfg, storage=pg)
    with pytest.raises(ht.ConfigError, match="rebuilds the study's task from names"):
        ht.run_worker(name, storage=pg, wait_seconds=0)
    with pytest.raises(ht.ConfigError, match="not ready after 0s"):
        ht.run_worker(_name("nosuch"), storage=pg, wait_seconds=0)
    # --trials K: a worker runs at most K trials of a queue that holds more
    name2 = _name("cap")
    store = ht.open_storage(pg)
    s = optuna.create_study(study_name=name2, storage=store, direction="maximize")
    s.set_user_attr("ready", True)
    recipe_task = ht.Task(model="cnn", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")
    cfg2 = ht.StudyConfig(name=name2, trials=6, epochs=1, probe_batch_size=32, baselines=(), test=False,
                          dashboard=False)
    from hybridtune.study._queue import queue_search
    from hybridtune.study import identity, probe_identity

    s.set_user_attr("identity", identity(recipe_task, cfg2, "search", probe_identity(cfg2, 32)))
    s.set_user_attr("config", cfg2.to_dict())
    s.set_user_attr("recipe", recipe_task.recipe())
    s.set_user_attr("space", ht.SearchSpace(optimizer="momentum", lr=(0.01, 0.1), ref_batch_size=32,
                                            momentum=(0.85, 0.95), batch_sizes=(32,)).to_dict())
    queue_search(s, 6, None)
    r = ht.run_worker(name2, storage=pg, device="cpu", trials=2, wait_seconds=5)
    assert r.trials == {"search": 2}
    states = [t.state for t in _trials(pg, name2)]
    assert states.count(TrialState.WAITING) == 4 and len(states) == 6


def _worker_mid_trial(name: str, pg: str, tmp_path: Path, *extra: str) -> tuple:
    """Start a worker, then its coordinator on trials long enough to catch (6 epochs, 6 search trials and a
    4-cell grid), and wait until the worker runs a trial. Returns (worker, coordinator, the worker's id)."""
    worker = _spawn("worker", "--name", name, "--storage", pg, "--threads", "1", *extra, cwd=tmp_path,
                    log=tmp_path / "worker.log")
    coordinator = _spawn(*_study_args(name, pg, "--trials", "6", "--epochs", "6", "--pruner", "none",
                                      "--dataset", "synthetic:n=2400,classes=4,noise=1.5", *extra),
                         cwd=tmp_path, log=tmp_path / "study.log")
    wid = f"{os.uname().nodename}:{worker.pid}"

    def running() -> bool:
        try:
            ts = _trials(pg, name) + _trials(pg, f"{name}-grid")
        except KeyError:
            return False
        return any(t.state == TrialState.RUNNING and t.user_attrs.get("worker") == wid for t in ts)

    _wait_for(running, 120, "the worker to run a trial")
    return worker, coordinator, wid


@pytest.mark.slow  # real processes: a worker is SIGKILLed mid-trial
@pytest.mark.timeout(600)  # its waits add up to 450 s (a running trial 120, the victim 30, the coordinator 300)
def test_killed_worker_trial_is_failed_retried_and_nothing_is_lost(pg: str, tmp_path: Path) -> None:
    """SIGKILL a worker mid-trial: after the grace period its trial is FAIL, a copy with the same values
    runs again, the study completes with the requested number of trials, and no completed trial is lost."""
    name = _name("kill")
    trials = 6
    victim, coordinator, victim_id = _worker_mid_trial(name, pg, tmp_path, "--quiet", "--heartbeat-interval", "1",
                                                       "--grace-period", "3")
    completed_before = {t.number for t in _trials(pg, name) if t.state == TrialState.COMPLETE}
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert coordinator.wait(timeout=300) == 0, (tmp_path / "study.log").read_text()[-3000:]

    search, grid = _trials(pg, name), _trials(pg, f"{name}-grid")
    killed = [t for t in search + grid if t.user_attrs.get("worker") == victim_id and t.state == TrialState.FAIL]
    assert len(killed) == 1, [(t.number, t.state, t.user_attrs.get("worker")) for t in search + grid]
    k = killed[0]
    retried = [t for t in search + grid if t.system_attrs.get("failed_trial") == k.number
               and t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(retried) == 1 and retried[0].params == k.params
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in search) == trials
    assert len(set(_cells(grid))) == len(_cells(grid)) == 4
    assert completed_before <= {t.number for t in search if t.state == TrialState.COMPLETE}


@pytest.mark.slow  # real processes: a worker is stopped by SIGTERM mid-trial
@pytest.mark.timeout(600)  # its waits add up to 480 s (a running trial 120, the worker 60, the coordinator 300)
def test_stopped_worker_marks_its_trial_and_the_coordinator_runs_it_again(pg: str, tmp_path: Path) -> None:
    """SIGTERM (a scheduler preempting the job; Ctrl-C takes the same path) stops a worker cleanly (exit
    143) with its running trial marked failed; the coordinator queues that trial's share again, so the
    study still ends with the exact counts."""
    name = _name("sigint")
    trials = 6
    worker, coordinator, worker_id = _worker_mid_trial(name, pg, tmp_path)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 143
    log = (tmp_path / "worker.log").read_text()
    assert "stopped (SIGTERM); its running trial is marked failed" in log and "Traceback" not in log
    assert coordinator.wait(timeout=300) == 0, (tmp_path / "study.log").read_text()[-3000:]
    search, grid = _trials(pg, name), _trials(pg, f"{name}-grid")
    marked = [t for t in search + grid if t.user_attrs.get("worker") == worker_id and t.state == TrialState.FAIL]
    assert len(marked) == 1 and marked[0].user_attrs["outcome"] == "interrupted"
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in search) == trials
    assert len(set(_cells(grid))) == len(_cells(grid)) == 4


@pytest.mark.slow  # a real process: the study is interrupted by SIGINT (Ctrl-C); the resume runs in-process
def test_interrupted_study_marks_its_trial_and_resumes(pg: str, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) stops `study` cleanly, exit 130, its running trial marked; the same command resumes
    without probing again and ends with the exact counts."""
    name = _name("resume")
    args = _study_args(name, pg, "--trials", "6", "--epochs", "4", "--pruner", "none")
    first = _spawn(*args, cwd=tmp_path, log=tmp_path / "first.log")

    def two_done() -> bool:
        try:
            return sum(t.state == TrialState.COMPLETE for t in _trials(pg, name)) >= 2
        except KeyError:
            return False

    _wait_for(two_done, 120, "two finished trials")
    priors = optuna.load_study(study_name=name, storage=pg).user_attrs["priors"]
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=60) == 130
    log = (tmp_path / "first.log").read_text()
    assert "interrupted" in log and "re-run the same command to resume" in log and "Traceback" not in log
    interrupted = [t for t in _trials(pg, name) if t.state == TrialState.FAIL]
    assert len(interrupted) <= 1 and all(t.user_attrs.get("outcome") == "interrupted" for t in interrupted)

    again = cli(*[a for a in args if a != "--quiet"], cwd=tmp_path, env=ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "probes (cached)" in again.stdout
    study = optuna.load_study(study_name=name, storage=pg)
    assert study.user_attrs["priors"] == priors
    ts = study.get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in ts) == 6
    assert len(set(_cells(_trials(pg, f"{name}-grid")))) == 4


def test_a_second_coordinator_of_the_same_study_is_refused(pg: str, tiny_task: ht.Task) -> None:
    from hybridtune._core import coordinator_lock

    store = ht.open_storage(pg)
    name = _name("lock")
    with coordinator_lock(store, name):
        with pytest.raises(ht.StorageError, match="already has one running"):
            ht.run_study(tiny_task, ht.StudyConfig(name=name, trials=1), storage=pg)
    with coordinator_lock(store, name):  # released: free again
        pass


# ----------------------------------------------------------------------------------------------
# SQLite: one process (no server needed)


def test_sqlite_serves_one_process_and_refuses_a_second(tmp_path: Path) -> None:
    from hybridtune._core import coordinator_lock

    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    store = ht.open_storage(url)
    # in-process is still a second holder: flock locks belong to an open file, not to a process, so the CLI's
    # own open of <file>.lock is refused exactly as another process's would be
    with coordinator_lock(store, "anything"):
        p = cli("study", "--model", "mlp", "--dataset", "synthetic:n=200", "--quick", "--storage", url,
                cwd=tmp_path, env=ENV)
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "serves one hybridtune process at a time" in err and f"pid {os.getpid()}" in err
    assert "postgresql+psycopg://" in err
    assert not db.exists() or db.stat().st_size == 0 or _integrity_ok(db)
    w = cli("worker", "--name", "s", "--storage", url, cwd=tmp_path, env=ENV)
    assert w.returncode == 2 and "a worker must share the study's storage" in w.stderr
    assert "postgresql" in w.stderr and "Traceback" not in w.stderr


def _integrity_ok(db: Path) -> bool:
    import sqlite3

    return sqlite3.connect(db).execute("pragma integrity_check").fetchone()[0] == "ok"


def test_out_of_memory_is_a_failed_trial_and_the_study_goes_on(tmp_path: Path) -> None:
    """A trial that runs out of memory (simulated: the model raises torch's OutOfMemoryError above batch 16)
    is recorded as FAIL with the reason; the other trials and cells run."""

    class Hungry(nn.Module):
        def __init__(self, shape, classes):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(shape[0] * shape[1] * shape[2], classes))

        def forward(self, x):
            if x.shape[0] > 16 and self.training:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.net(x)

    task = ht.Task(model=Hungry, data="synthetic:n=400,classes=4,noise=1.5", device="cpu")
    cfg = ht.StudyConfig(name="oom", trials=4, epochs=1, probe_batch_size=16, baselines=("grid",), test=False,
                         dashboard=False, batch_size_floor=16, batch_size_ceiling=16,
                         grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [16, 32]})
    url = f"sqlite:///{tmp_path / 'oom.db'}"
    result = ht.run_study(task, cfg, storage=url)
    grid = _trials(url, "oom-grid")
    failed = [t for t in grid if t.state == TrialState.FAIL]
    assert len(failed) == 1 and failed[0].params["batch_size"] == 32
    assert failed[0].user_attrs["outcome"] == "failed"
    assert "out of memory at batch size 32" in failed[0].user_attrs["fail_reason"]
    assert result.grid.n_failed == 1 and result.grid.n_complete == 1
    assert result.search.n_trials == 4  # the search (batch 16) was not affected
