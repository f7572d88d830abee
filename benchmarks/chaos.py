"""Chaos (issue 23, C): a study with a coordinator and two workers on a throw-away PostgreSQL cluster, faults
injected on a seeded schedule, what died re-run until the study ends, then its invariants checked.

Each schedule gets its own cluster (``benchmarks/_cluster.py``: ``initdb`` in a temporary folder, a free port;
never the shared server), a coordinator (``hybridtune study``) and two workers (``hybridtune worker``), the
second started late. Its faults, in an order and with delays drawn from the schedule's seed, each fired when
the study is in the state it needs:

- ``db_restart_immediate``: the server crashes (``pg_ctl stop -m immediate``) and is started again at once;
- ``db_restart_fast``: a graceful shutdown (``-m fast``), started again at once;
- ``db_outage``: the server stopped for ``--outage`` seconds (30 by default); the harness goes on meanwhile,
  so a process that dies is started again, and the late worker may start, while the server is away (a
  process that starts during an outage waits for the database as one that saw it go);
- ``kill_worker_mid_trial``: SIGKILL of a worker while it holds a RUNNING trial (it is started again);
- ``die_before_heartbeat``: a process takes a queued trial and dies before its first heartbeat (the harness
  takes it with ``study.ask()``, which records no heartbeat, and walks away: the state such a death leaves);
- ``sigterm_coordinator_mid_grid``: SIGTERM of the coordinator while a grid trial runs (it is re-run).

Invariants, checked from storage and the outputs once the coordinator exits 0: every grid cell completed
exactly once; the search finished exactly ``--trials`` trials; nothing RUNNING or WAITING; every test retrain
present (each study's best retrained on every test seed); the report written; no traceback in any output; no
process ended with exit code 2 (bad input: a database that was down when a process started is waited for,
not refused).

    python benchmarks/chaos.py                          # 20 schedules, 30 s outages
    python benchmarks/chaos.py --schedules 2 --outage 3 --out /tmp/chaos.json   # the short version

Writes ``benchmarks/results/chaos.json``: the faults injected and the invariants held, per schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from _cluster import Cluster, why_unavailable  # noqa: E402
from _common import now, stamp, write_json  # noqa: E402

FAULTS = ("db_restart_immediate", "db_restart_fast", "db_outage", "kill_worker_mid_trial", "die_before_heartbeat",
          "sigterm_coordinator_mid_grid")
NAME = "chaos"


class Run:
    """One schedule: the cluster, the processes, the faults as they fired."""

    def __init__(self, seed: int, args: argparse.Namespace, work: Path) -> None:
        self.seed, self.args, self.work = seed, args, work
        self.rng = random.Random(seed)
        self.cluster = Cluster()
        self.cluster.start()
        self.url = self.cluster.url
        self.procs: dict[str, subprocess.Popen[str] | None] = {"coordinator": None, "worker1": None, "worker2": None}
        self.runs: dict[str, int] = {k: 0 for k in self.procs}
        self.exits: list[dict[str, Any]] = []
        self.injected: list[dict[str, Any]] = []
        self.t0 = time.monotonic()
        self.outage_ends: float | None = None  # while db_outage runs: when the server starts again
        self._storage: Any = None

    # processes ------------------------------------------------------------------------------
    def common(self) -> list[str]:
        a = self.args
        return ["--storage", self.url, "--threads", "1", "--heartbeat-interval", "1", "--grace-period",
                str(a.grace), "--storage-retry", str(a.retry), "--quiet"]

    def start(self, who: str) -> None:
        a = self.args
        if who == "coordinator":
            argv = ["study", "--name", NAME, "--model", a.model, "--dataset", a.dataset, "--baseline", "grid",
                    "--trials", str(a.trials), "--epochs", str(a.epochs), "--out", str(self.work / "report.html")]
        else:
            argv = ["worker", "--name", NAME, "--wait", "600"]
        self.runs[who] += 1
        log = open(self.work / f"{who}.{self.runs[who]}.log", "w")  # noqa: SIM115 - closed with the process
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
        self.procs[who] = subprocess.Popen([sys.executable, "-m", "hybridtune", *argv, *self.common()],
                                           cwd=self.work, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)

    def at(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    # the study, as the harness sees it ------------------------------------------------------
    def storage(self) -> Any:
        import optuna

        if self._storage is None:
            self._storage = optuna.storages.RDBStorage(self.url, engine_kwargs={"pool_pre_ping": True})
        return self._storage

    def trials(self, role: str) -> list[Any]:
        """The trials of the search (``""``) or the grid (``"grid"``); empty while the database is away."""
        import optuna

        try:
            name = NAME if not role else f"{NAME}-{role}"
            return optuna.load_study(study_name=name, storage=self.storage()).get_trials(deepcopy=False)
        except Exception:
            return []

    def running(self, role: str | None = None, worker: str | None = None) -> list[Any]:
        roles = ("", "grid") if role is None else (role,)
        return [t for r in roles for t in self.trials(r) if t.state.name == "RUNNING"
                and (worker is None or t.user_attrs.get("worker", "").endswith(f":{worker}"))]

    # faults ----------------------------------------------------------------------------------
    def ready(self, fault: str) -> bool:
        if fault == "kill_worker_mid_trial":
            return any(self.running(worker=str(p.pid)) for k, p in self.procs.items()
                       if k != "coordinator" and p is not None and p.poll() is None)
        if fault == "die_before_heartbeat":
            return any(t.state.name == "WAITING" for r in ("", "grid") for t in self.trials(r))
        if fault == "sigterm_coordinator_mid_grid":
            p = self.procs["coordinator"]
            return p is not None and p.poll() is None and bool(self.running("grid"))
        return bool(self.running())  # the database faults: while trials run

    def inject(self, fault: str) -> dict[str, Any]:
        record: dict[str, Any] = {"fault": fault, "at_s": self.at()}
        if fault in ("db_restart_immediate", "db_restart_fast", "db_outage"):
            self.cluster.stop("fast" if fault == "db_restart_fast" else "immediate")
            if fault == "db_outage":  # started again by the run's loop (go), which goes on meanwhile
                self.outage_ends = time.monotonic() + self.args.outage
                record["seconds"] = self.args.outage
            else:
                self.cluster.start()
        elif fault == "kill_worker_mid_trial":
            for who in ("worker1", "worker2"):
                p = self.procs[who]
                held = self.running(worker=str(p.pid)) if p is not None and p.poll() is None else []
                if held:
                    p.kill()
                    record.update(worker=who, trial=held[0].number)
                    break
        elif fault == "die_before_heartbeat":
            from optuna.trial import TrialState

            # what a process does when it takes a queued trial (one WAITING -> RUNNING update, which fails when
            # another process took it first), and then nothing: no heartbeat, no result
            storage = self.storage()
            for role in ("grid", ""):
                name = NAME if not role else f"{NAME}-{role}"
                try:
                    study_id = storage.get_study_id_from_name(name)
                    waiting = [t for t in self.trials(role) if t.state == TrialState.WAITING]
                    for t in waiting:
                        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
                        if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                            record.update(study=name, trial=t.number)
                            break
                except Exception as exc:  # the database is away, or the trial finished meanwhile
                    record["error"] = repr(exc)
                if "trial" in record:
                    break
        elif fault == "sigterm_coordinator_mid_grid":
            p = self.procs["coordinator"]
            assert p is not None
            p.send_signal(signal.SIGTERM)
            record["pid"] = p.pid
        return record

    # the run -----------------------------------------------------------------------------------
    def go(self) -> dict[str, Any]:
        a = self.args
        order = list(FAULTS)
        self.rng.shuffle(order)
        delays = [round(self.rng.uniform(0.2, 1.0), 2) for _ in order]
        late = round(self.rng.uniform(2.0, 8.0), 1)
        self.start("coordinator")
        self.start("worker1")
        pending = list(zip(order, delays))
        finished: set[str] = set()
        next_after = time.monotonic() + pending[0][1]
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline:
            if self.outage_ends is not None and time.monotonic() >= self.outage_ends:
                self.cluster.start()
                self.outage_ends = None
                next(r for r in reversed(self.injected) if r["fault"] == "db_outage")["back_at_s"] = self.at()
            if self.procs["worker2"] is None and time.monotonic() - self.t0 >= late:
                self.start("worker2")
                self.injected.append({"fault": "worker_started_late", "at_s": self.at()})
            if pending and self.outage_ends is None and time.monotonic() >= next_after and self.ready(pending[0][0]):
                self.injected.append(self.inject(pending.pop(0)[0]))
                if pending:
                    next_after = time.monotonic() + pending[0][1]
            for who, p in self.procs.items():
                if p is None or who in finished or p.poll() is None:
                    continue
                self.exits.append({"process": who, "run": self.runs[who], "exit": p.returncode, "at_s": self.at()})
                if p.returncode == 0:
                    if who == "coordinator":
                        return self.finish(pending, ended=True)
                    finished.add(who)  # a worker whose queues were empty
                    continue
                time.sleep(1.0)  # what died runs again
                self.start(who)
            time.sleep(0.05)
        return self.finish(pending, ended=False)

    def finish(self, pending: list[tuple[str, float]], *, ended: bool) -> dict[str, Any]:
        for p in self.procs.values():
            if p is not None and p.poll() is None:
                try:
                    p.wait(timeout=60)  # workers end once the queues are empty
                except subprocess.TimeoutExpired:
                    p.kill()
        self.grid_detail: dict[str, Any] = {}
        self.search_detail: list[Any] = []
        checks = self.invariants(ended)
        if self._storage is not None:
            self._storage.engine.dispose()
        return {"seed": self.seed, "seconds": self.at(), "faults": self.injected,
                "not_injected": [f for f, _ in pending], "exits": self.exits, "invariants": checks,
                **({"grid": self.grid_detail} if not checks.get("grid_cells_completed_once", True) else {}),
                # (number, state, rung, source, promoted_from, outcome, retried) of each search trial
                **({"search": self.search_detail} if not checks.get("search_trials_counted_once", True) else {}),
                "held": all(checks.values())}

    def invariants(self, ended: bool) -> dict[str, bool]:
        import optuna

        from hybridtune.space import GridSpace
        from hybridtune.study import keys

        logs = "".join(p.read_text() for p in sorted(self.work.glob("*.log")))
        search, grid = self.trials(""), self.trials("grid")
        try:
            gstudy = optuna.load_study(study_name=f"{NAME}-grid", storage=self.storage())
            cells = GridSpace.from_dict(gstudy.user_attrs[keys.GRID_SPACE]).cells
            sstudy = optuna.load_study(study_name=NAME, storage=self.storage())
            tests = [s.user_attrs.get(keys.TEST) or {} for s in (sstudy, gstudy)]
            seeds = int(sstudy.user_attrs[keys.CONFIG].get("test_seeds", 3))
        except Exception:
            cells, tests, seeds = -1, [], 0
        done: dict[str, list[int]] = {}
        for t in grid:
            if t.state.name == "COMPLETE":
                done.setdefault(json.dumps(t.params, sort_keys=True), []).append(t.number)
        self.grid_detail = {"cells": cells, "completed": len(done),
                            "twice": {k: [(n, grid[n].system_attrs.get("retry_history"),
                                           grid[n].user_attrs.get("worker")) for n in v]
                                      for k, v in done.items() if len(v) > 1}}
        self.search_detail = [(t.number, t.state.name, t.user_attrs.get("rung"), t.user_attrs.get("source"),
                               t.user_attrs.get("promoted_from"), t.user_attrs.get("outcome"),
                               bool(t.system_attrs.get("retry_history"))) for t in search]
        return {
            "study_ended": ended,
            "grid_cells_completed_once": len(done) == cells and all(len(n) == 1 for n in done.values()),
            "search_trials_counted_once": sum(t.state.name in ("COMPLETE", "PRUNED") for t in search) == self.args.trials,
            "nothing_running_or_waiting": not [t for t in search + grid if t.state.name in ("RUNNING", "WAITING")],
            "test_retrains_present": len(tests) == 2 and all(len(r.get("runs") or ()) == seeds for r in tests),
            "report_written": (self.work / "report.html").is_file(),
            "no_traceback": "Traceback" not in logs,
            "no_exit_2": not [e for e in self.exits if e["exit"] == 2],
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--schedules", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="schedule k uses seed SEED + k")
    p.add_argument("--outage", type=float, default=30.0, help="seconds the database is away in db_outage")
    p.add_argument("--grace", type=int, default=10, help="the processes' --grace-period")
    p.add_argument("--retry", type=float, default=120.0, help="the processes' --storage-retry")
    p.add_argument("--model", default="mlp")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one schedule may take")
    p.add_argument("--out", default=str(HERE / "results" / "chaos.json"))
    args = p.parse_args(argv)
    why = why_unavailable()
    if why is not None:
        print(f"chaos: no throw-away PostgreSQL cluster: {why}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as for Ctrl-C
    started = now()
    schedules: list[dict[str, Any]] = []
    for k in range(args.schedules):
        with tempfile.TemporaryDirectory(prefix="hybridtune-chaos-") as tmp:
            run = Run(args.seed + k, args, Path(tmp))
            try:
                result = run.go()
            finally:  # stopped (Ctrl-C, SIGTERM) or done: no process and no cluster left behind
                for proc in run.procs.values():
                    if proc is not None and proc.poll() is None:
                        proc.kill()
                        proc.wait()
                run.cluster.destroy()
            if not result["held"]:
                result["logs"] = {p.name: p.read_text()[-3000:] for p in sorted(Path(tmp).glob("*.log"))}
        schedules.append(result)
        failed = [k for k, v in result["invariants"].items() if not v]
        print(f"schedule {k} (seed {result['seed']}): {len(result['faults'])} faults in {result['seconds']:.0f}s, "
              f"{'every invariant held' if not failed else 'FAILED ' + ', '.join(failed)}", flush=True)
        write_json(args.out, {**stamp("chaos", started), "settings": vars(args), "faults": list(FAULTS),
                              "schedules_run": len(schedules),
                              "schedules_held": sum(s["held"] for s in schedules), "schedules": schedules})
    return 0 if all(s["held"] for s in schedules) else 1


if __name__ == "__main__":
    sys.exit(main())
