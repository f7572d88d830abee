"""Which first trials should the study queue (issue 4)? Candidate "range test suggestions", each trained
alone, against the grid targets of a finished ``hybrid_vs_grid`` run.

The cost budget of the hybrid-vs-grid target (0.1 of the grid's examples, probes included) leaves room for
the probes and about two full trials, so the first two trials decide it. This trains each candidate once
per (model, seed) with that run's priors (its ``lr_max``, momentum, weight decay), exactly as the study
would (1cycle, ``E`` epochs, the seed's model and data order), and says whether it reaches the run's target
(the grid's best validation accuracy minus the tolerance). A candidate is ``NAME:MULT:BATCH:WD``: the peak
LR is ``MULT x lr_max`` at the probes' batch size, scaled to ``BATCH`` by the study's rule.

    python benchmarks/first_trials.py --runs benchmarks/results/hybrid_vs_grid_seeds0-2.json

Writes ``benchmarks/results/first_trials.json`` (one row per model, seed and candidate, and each
candidate's and each candidate pair's hit count). Choosing on these seeds and scoring on the same seeds
is in-sample: the held-out check is ``hybrid_vs_grid.py`` on other seeds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPECS = {"resnet": ROOT / "studies" / "default.toml", "cnn": ROOT / "studies" / "cnn-mnist5k.toml"}
CANDIDATES = ("A:3.1623:64:0", "B:3.1623:32:0", "C:5.6234:32:0", "D:10:32:0", "E:3.1623:32:5e-4",
              "F:5.6234:32:5e-4", "G:10:32:5e-4", "H:5.6234:64:0", "I:10:64:0", "J:5.6234:64:5e-4",
              "K:10:64:5e-4")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="a hybrid_vs_grid JSON: its priors and grid targets")
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), metavar="NAME:MULT:BATCH:WD")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "first_trials.json"))
    args = ap.parse_args(argv)

    import torch

    import hybridtune as ht
    from hybridtune.space import scale_lr

    runs = json.loads(Path(args.runs).read_text())["runs"]
    cands = [c.split(":") for c in args.candidates]
    started = dt.datetime.now().isoformat(timespec="seconds")
    rows: list[dict[str, Any]] = []
    tasks: dict[str, ht.Task] = {}
    for run in runs:
        model, seed, pri = run["model"], run["seed"], run["priors"]
        spec = ht.load_spec(SPECS[model])
        task = tasks.setdefault(model, ht.Task(**spec.task))
        epochs = int(spec.study.get("epochs", 4))
        for name, mult, bs, wd in cands:
            b = int(bs)
            lr = scale_lr(pri["lr_max"] * float(mult), b, pri["batch_size"], task.optimizer)
            hp = ht.Hyperparams(lr=lr, momentum=pri["momentum"], weight_decay=float(wd), batch_size=b)
            t0 = time.perf_counter()
            r = ht.train(task, hp.train_config(optimizer=task.optimizer, epochs=epochs, seed=seed))
            row = {"model": model, "seed": seed, "candidate": name, "mult": float(mult), "batch_size": b,
                   "weight_decay": float(wd), "lr": lr, "val_acc": r.val_acc, "target": run["target"],
                   "hit": r.val_acc is not None and r.val_acc >= run["target"] - 1e-12,
                   "curve": [e.val_acc for e in r.epochs], "examples": r.cost.examples,
                   "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(f"{model} seed {seed} {name} (x{float(mult):.3g}, batch {b}, wd {float(wd):g}): "
                  f"{100 * (r.val_acc or 0):.2f}% vs target {100 * run['target']:.2f}%"
                  + ("  HIT" if row["hit"] else ""), flush=True)

    names = [c[0] for c in cands]
    keys = sorted({(r["model"], r["seed"]) for r in rows})
    hit = {(r["model"], r["seed"], r["candidate"]): r["hit"] for r in rows}
    single = {n: sum(hit[(m, s, n)] for m, s in keys) for n in names}
    pairs = {f"{a}+{b}": sum(hit[(m, s, a)] or hit[(m, s, b)] for m, s in keys)
             for a, b in itertools.combinations(names, 2)}
    payload = {"benchmark": "first_trials", "started": started,
               "finished": dt.datetime.now().isoformat(timespec="seconds"),
               "command": " ".join(["python", *sys.argv]), "runs_from": str(args.runs), "n_runs": len(keys),
               "machine": {"platform": platform.platform(), "torch": torch.__version__,
                           "torch_threads": torch.get_num_threads()},
               "hits_single": single, "hits_pair": dict(sorted(pairs.items(), key=lambda kv: -kv[1])),
               "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1))
    print("hits per candidate:", single)
    print("best pairs:", list(payload["hits_pair"].items())[:5])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
