"""Hybrid search vs grid search (issue 4): does the range-test-primed search match the grid's best validation
accuracy at <= 1/10 of the grid's cost, probes included, without losing test accuracy?

For each model (``resnet``, ``cnn``) on the embedded mnist5k and each seed, one full study runs with both
baselines (``grid`` and ``random`` without priors), exactly as ``hybridtune study --spec studies/<...>.toml
--seed S --baseline grid,random`` would. Every study is kept in a SQLite file, so an interrupted benchmark
resumes where it stopped and a finished one only re-reads its numbers.

    python benchmarks/hybrid_vs_grid.py                     # 3 seeds x (resnet, cnn)
    python benchmarks/hybrid_vs_grid.py --seeds 2 --models resnet cnn
    python benchmarks/hybrid_vs_grid.py --quick --seeds 1   # smoke size, minutes

Writes ``benchmarks/results/hybrid_vs_grid.json`` (per run and per model: cost ratios, whether the
target was met, test accuracies with their binomial standard errors).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPECS = {"resnet": ROOT / "studies" / "default.toml", "cnn": ROOT / "studies" / "cnn-mnist5k.toml"}
TARGET_RATIO = 0.1


def _binomial_se(p: float | None, n: int) -> float | None:
    return None if p is None else math.sqrt(max(p * (1 - p), 1e-12) / n)


def run_one(model: str, seed: int, *, quick: bool, storage: str) -> dict[str, Any]:
    import hybridtune as ht

    spec = ht.load_spec(SPECS[model])
    task = ht.Task(**spec.task)
    study_kw = {**spec.study, "seed": seed, "baselines": ("grid", "random"),
                "name": f"bench-{model}-seed{seed}" + ("-quick" if quick else "")}
    config = ht.StudyConfig.quick(**{k: v for k, v in study_kw.items() if k not in ("trials", "epochs", "grid")}) \
        if quick else ht.StudyConfig(**study_kw)
    t0 = time.perf_counter()
    result = ht.run_study(task, config, storage=storage)
    wall = time.perf_counter() - t0
    c = result.comparison
    n_test = len(task.data.test)
    row: dict[str, Any] = {"model": model, "seed": seed, "study": result.name, "wall_seconds_this_call": wall,
                           "grid_best_value": c.grid_best_value, "target": c.target,
                           "grid_cells": result.grid.n_trials if result.grid else None,
                           "priors": {"lr_min": result.priors.lr_min, "lr_max": result.priors.lr_max,
                                      "momentum": result.priors.momentum,
                                      "momentum_band": result.priors.momentum_band,
                                      "batch_size": result.priors.batch_size,
                                      "cost_examples": result.priors.cost.examples}}
    for role, o in result.outcomes.items():
        m = c.rows[role]
        row[role] = {"best_value": o.best_value, "best_config": o.best_config, "n_trials": o.n_trials,
                     "n_pruned": o.n_pruned, "n_diverged": o.n_diverged,
                     "cost_examples": o.cost.examples, "cost_seconds": o.cost.seconds, "cost_epochs": o.cost.epochs,
                     "matched": m.matched, "trials_to_match": m.trials_to_match,
                     "cost_to_match_examples": m.cost_to_match.examples if m.cost_to_match else None,
                     "cost_ratio_to_match_grid": m.cost_ratio, "seconds_ratio_to_match_grid": m.seconds_ratio,
                     "test_accuracy": o.test_accuracy, "test_se": _binomial_se(o.test_accuracy, n_test)}
    s, g = row["search"], row["grid"]
    row["search_meets_cost_target"] = s["cost_ratio_to_match_grid"] is not None and \
        s["cost_ratio_to_match_grid"] <= TARGET_RATIO
    if s["test_accuracy"] is not None and g["test_accuracy"] is not None:
        diff = s["test_accuracy"] - g["test_accuracy"]
        se = math.hypot(s["test_se"], g["test_se"])
        row["test_diff_search_minus_grid"] = diff
        row["test_diff_se"] = se
        row["search_test_within_noise"] = diff >= -2 * se
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in sorted({r["model"] for r in rows}):
        rs = [r for r in rows if r["model"] == model]

        def col(role: str, key: str) -> list[float]:
            return [r[role][key] for r in rs if r.get(role) and r[role].get(key) is not None]

        def med(xs: list[float]) -> float | None:
            return statistics.median(xs) if xs else None

        out[model] = {
            "runs": len(rs),
            "search_matched": sum(r["search"]["matched"] for r in rs),
            "search_meets_cost_target": sum(r["search_meets_cost_target"] for r in rs),
            "random_matched": sum(r["random"]["matched"] for r in rs if r.get("random")),
            "median_search_cost_ratio": med(col("search", "cost_ratio_to_match_grid")),
            "median_random_cost_ratio": med(col("random", "cost_ratio_to_match_grid")),
            "median_search_seconds_ratio": med(col("search", "seconds_ratio_to_match_grid")),
            "mean_best_val": {role: statistics.fmean(col(role, "best_value")) for role in ("search", "grid", "random")
                              if col(role, "best_value")},
            "mean_test": {role: statistics.fmean(col(role, "test_accuracy")) for role in ("search", "grid", "random")
                          if col(role, "test_accuracy")},
            "search_test_within_noise": sum(bool(r.get("search_test_within_noise")) for r in rs),
            "mean_cost_examples": {role: statistics.fmean(col(role, "cost_examples"))
                                   for role in ("search", "grid", "random") if col(role, "cost_examples")},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["resnet", "cnn"], choices=sorted(SPECS))
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the --quick preset (smoke size)")
    ap.add_argument("--storage", default=f"sqlite:///{ROOT / 'benchmarks' / 'results' / 'hybrid_vs_grid.db'}")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "hybrid_vs_grid.json"))
    args = ap.parse_args(argv)
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[dict[str, Any]] = []
    started = dt.datetime.now().isoformat(timespec="seconds")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for model in args.models:
            t0 = time.perf_counter()
            row = run_one(model, seed, quick=args.quick, storage=args.storage)
            rows.append(row)
            s = row["search"]
            print(f"{model} seed {seed}: grid best {row['grid_best_value']:.4f}; search best {s['best_value']:.4f}, "
                  f"ratio {s['cost_ratio_to_match_grid']}, test {s['test_accuracy']} vs grid "
                  f"{row['grid']['test_accuracy']} ({time.perf_counter() - t0:.0f}s)", flush=True)
            payload = {"benchmark": "hybrid_vs_grid", "started": started,
                       "finished": dt.datetime.now().isoformat(timespec="seconds"),
                       "command": " ".join([Path(sys.executable).name, *sys.argv]),
                       "machine": {"platform": platform.platform(), "processor": platform.processor(),
                                   "cpus": os.cpu_count(), "torch": torch.__version__,
                                   "torch_threads": torch.get_num_threads(),
                                   "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
                       "target_ratio": TARGET_RATIO, "quick": args.quick, "summary": summarize(rows), "runs": rows}
            tmp = out.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(payload, indent=2, allow_nan=False, default=float) + "\n")
            os.replace(tmp, out)
    print(json.dumps(summarize(rows), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
