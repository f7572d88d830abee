"""Workers on PostgreSQL (issue 5): trials per minute with one process against two, on one machine.

The same 16 trials run each time: the grid baseline of a study, a 16-cell grid of the default ResNet-8 on
the embedded mnist5k (4 LRs x 2 momenta x 2 weight decays, batch 64, one 1cycle epoch each, so every
trial is the same size whatever process runs it). The search is one trial and the test retraining is
off, so the grid is almost all the work.

- **1 worker**: ``hybridtune study`` alone (the coordinator takes trials from the queue like a worker),
  one torch thread;
- **2 workers**: the same command plus one ``hybridtune worker`` started beside it, one thread each
  (the one-worker-per-device pattern, a CPU core being the device here);
- **1 worker, 2 threads** (reference): what one process gets from both cores through torch's threads.

Throughput is grid trials / (last grid trial's end - first grid trial's start), from the trials' own
timestamps in storage, so the probes and process start-up are outside the window; the two-worker window
includes the second worker's late start. Configurations alternate within each repeat, because these
cores are shared and noisy; the ratio is taken per repeat, and its median reported.

    python benchmarks/workers.py                    # PostgreSQL from $HYBRIDTUNE_TEST_POSTGRES_URL
    python benchmarks/workers.py --storage postgresql+psycopg://postgres@127.0.0.1:5432/test --repeats 3

Writes ``benchmarks/results/workers.json``. Target: 2 workers >= 1.7x the trials per minute of 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
[task]
model = "resnet"
dataset = "mnist5k"
optimizer = "momentum"

[study]
trials = 1
epochs = 1
baselines = ["grid"]
test = false

[probes]
batch_size = 64
momenta = [0.9]

[grid]
lr = [0.01, 0.03, 0.1, 0.3]
momentum = [0.9, 0.95]
weight_decay = [0.0, 5e-4]
batch_size = [64]
"""
CELLS = 16
TARGET = 1.7


def _hybridtune(*args: str, log: Path, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return subprocess.Popen([sys.executable, "-m", "hybridtune", *args], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def run_config(kind: str, storage: str, spec: Path, logs: Path) -> dict[str, Any]:
    import optuna

    name = f"bench-workers-{kind}-{uuid.uuid4().hex[:8]}"
    threads = 2 if kind == "1x2threads" else 1
    procs = []
    if kind == "2workers":
        procs.append(_hybridtune("worker", "--name", name, "--storage", storage, "--threads", "1", "--quiet",
                                 log=logs / f"{name}-worker.log", threads=1))
    t0 = time.perf_counter()
    coordinator = _hybridtune("study", "--spec", str(spec), "--name", name, "--storage", storage, "--threads",
                              str(threads), "--quiet", "--out", str(logs / f"{name}.html"),
                              log=logs / f"{name}.log", threads=threads)
    rc = coordinator.wait()
    wall = time.perf_counter() - t0
    for p in procs:
        p.wait(timeout=120)
    if rc != 0:
        raise SystemExit(f"{kind}: hybridtune study failed (exit {rc}); see {logs / (name + '.log')}")
    trials = optuna.load_study(study_name=f"{name}-grid", storage=storage).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == CELLS, f"{kind}: {len(done)} grid trials, expected {CELLS}"
    start = min(t.datetime_start for t in done)
    end = max(t.datetime_complete for t in done)
    window = (end - start).total_seconds()
    by_worker: dict[str, int] = {}
    for t in done:
        by_worker[t.user_attrs["worker"]] = by_worker.get(t.user_attrs["worker"], 0) + 1
    examples = sum(t.user_attrs["cost"]["examples"] for t in done)
    return {"kind": kind, "study": name, "grid_trials": len(done), "window_seconds": window,
            "trials_per_minute": 60 * len(done) / window, "examples_per_second": examples / window,
            "trials_by_process": sorted(by_worker.values(), reverse=True), "command_wall_seconds": wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--storage", default=os.environ.get("HYBRIDTUNE_TEST_POSTGRES_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "workers.json"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from hybridtune import redact

    kinds = ("1worker", "2workers", "1x2threads")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "workers.toml"
        spec.write_text(SPEC)
        for r in range(args.repeats):
            for kind in (kinds if r % 2 == 0 else tuple(reversed(kinds))):
                row = run_config(kind, args.storage, spec, Path(tmp))
                row["repeat"] = r
                runs.append(row)
                print(f"repeat {r} {kind:>10}: {row['trials_per_minute']:6.2f} trials/min "
                      f"({row['window_seconds']:.1f}s window, trials per process {row['trials_by_process']})",
                      flush=True)
    per = {k: [x for x in runs if x["kind"] == k] for k in kinds}
    ratios = [b["trials_per_minute"] / a["trials_per_minute"] for a, b in zip(per["1worker"], per["2workers"])]
    ratios_threads = [b["trials_per_minute"] / a["trials_per_minute"]
                      for a, b in zip(per["1worker"], per["1x2threads"])]
    summary = {k: {"trials_per_minute_median": statistics.median(x["trials_per_minute"] for x in v),
                   "examples_per_second_median": statistics.median(x["examples_per_second"] for x in v)}
               for k, v in per.items()}
    payload = {
        "benchmark": "workers", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "python benchmarks/workers.py " + " ".join(a if "://" not in a else redact(a) for a in
                                                            (argv if argv is not None else sys.argv[1:])),
        "storage": redact(args.storage), "cells": CELLS, "target": f">= {TARGET}x",
        "summary": summary, "ratio_2workers_per_repeat": ratios, "ratio_2workers_median": statistics.median(ratios),
        "ratio_1worker_2threads_per_repeat": ratios_threads,
        "ratio_1worker_2threads_median": statistics.median(ratios_threads),
        "target_met": statistics.median(ratios) >= TARGET, "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"2 workers / 1 worker: median {payload['ratio_2workers_median']:.2f}x per repeat {[round(x, 2) for x in ratios]} "
          f"(target >= {TARGET}x: {'met' if payload['target_met'] else 'NOT met'}); 1 worker with 2 threads: "
          f"{payload['ratio_1worker_2threads_median']:.2f}x")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
