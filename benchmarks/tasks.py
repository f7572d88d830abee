"""Any supervised task (issue 22): does the search hold up beyond image classification?

Two embedded sets: ``friedman`` (regression, RMSE minimised, ``mlp``) and ``tokens`` (token sequences whose
label is in their order alone, accuracy, ``seqcnn``). For each set, budget (0.1 and 0.3 of the grid's cost in
training examples, the search's probes included) and held-out seed, one study runs as

    hybridtune study --model mlp --dataset friedman --seed S --baseline grid,random --budget B --test-seeds 3

would: the textbook grid, the search at that budget and random search at the same budget. Each study's
chosen configuration is retrained on the same 3 test seeds, so the differences are paired. Every study is kept
in a SQLite file: an interrupted benchmark resumes where it stopped.

    nice python benchmarks/tasks.py                              # both sets x budgets 0.1 0.3 x seeds 3 4 5
    nice python benchmarks/tasks.py --sets friedman --budgets 0.3 --seeds 3

Targets: at 0.3, the search no worse than the grid beyond one paired SE on both sets (the SE of the mean
paired difference over the seeds); on friedman, the search's test RMSE at most half the mean predictor's.

Writes ``benchmarks/results/tasks.json``: per run each study's test metric (mean, SE, per seed) and the paired
differences; per set and budget, the same over seeds, and the targets.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from _common import mean_se, now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]
#: set -> (model, dataset spec)
SETS = {"friedman": ("mlp", "friedman"), "tokens": ("seqcnn", "tokens")}
ROLES = ("search", "grid", "random")


def run_one(set_name: str, budget: float, seed: int, *, storage: str, test_seeds: int) -> dict[str, Any]:
    import hybridtune as ht

    model, data = SETS[set_name]
    name = f"tasks-{set_name}-b{budget:g}-seed{seed}"
    task = ht.Task(model=model, data=data, device="cpu")
    config = ht.StudyConfig(seed=seed, baselines=("grid", "random"), budget=budget, test_seeds=test_seeds,
                            name=name, dashboard=False, artefacts=False)
    t0 = time.perf_counter()
    result = ht.run_study(task, config, storage=storage)
    rows = result.comparison.rows
    out: dict[str, Any] = {"set": set_name, "budget": budget, "seed": seed, "study": name,
                           "metric": result.metric_name, "direction": result.direction,
                           "nothing_learned": task.chance, "wall_seconds": time.perf_counter() - t0,
                           "verdict": result.verdict}
    for role in ROLES:
        m = rows.get(role)
        s = None if m is None else m.test_score
        d = None if m is None else m.difference_vs_grid
        out[role] = {"test_mean": None if s is None else s.mean, "test_se": None if s is None else s.se,
                     "test_by_seed": None if s is None else {str(k): v for k, v in s.by_seed().items()},
                     "difference_vs_grid": None if d is None else {"mean": d.mean, "se": d.se},
                     "cost_ratio": None if m is None else m.total_ratio}
    return out


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per set and budget, over seeds: each method's mean test metric +- SE, and the search's paired
    differences with the grid and with random (the per-seed differences of the test means)."""
    out = []
    for key in sorted({(r["set"], r["budget"]) for r in runs}):
        rs = [r for r in runs if (r["set"], r["budget"]) == key]
        sign = -1.0 if rs[0]["direction"] == "minimize" else 1.0
        row: dict[str, Any] = {"set": key[0], "budget": key[1], "metric": rs[0]["metric"],
                               "direction": rs[0]["direction"], "seeds": [r["seed"] for r in rs]}
        for role in ROLES:
            row[role] = mean_se([r[role]["test_mean"] for r in rs if r[role]["test_mean"] is not None])
        for other in ("grid", "random"):
            diffs = [r["search"]["test_mean"] - r[other]["test_mean"] for r in rs
                     if r["search"]["test_mean"] is not None and r[other]["test_mean"] is not None]
            row[f"search_minus_{other}"] = mean_se(diffs)
        d = row["search_minus_grid"]
        # "no worse than the grid beyond one paired SE": the search's disadvantage (signed by direction) <= 1 SE
        row["target_no_worse_than_grid"] = None if d["mean"] is None else \
            bool(-sign * d["mean"] <= (d["se"] or 0.0))
        if key[0] == "friedman":
            mean_pred = statistics.fmean(r["nothing_learned"] for r in rs)
            row["mean_predictor_rmse"] = mean_pred
            row["target_half_the_mean_predictor"] = None if row["search"]["mean"] is None else \
                bool(row["search"]["mean"] <= 0.5 * mean_pred)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", choices=sorted(SETS), default=sorted(SETS))
    ap.add_argument("--budgets", nargs="+", type=float, default=[0.1, 0.3])
    ap.add_argument("--seeds", nargs="+", type=int, default=[3, 4, 5], help="study seeds (default: 3 4 5, held out)")
    ap.add_argument("--test-seeds", type=int, default=3)
    ap.add_argument("--storage", default="sqlite:///runs/benchmark-tasks.db")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tasks.json"))
    args = ap.parse_args()
    Path("runs").mkdir(exist_ok=True)
    started = now()
    runs: list[dict[str, Any]] = []
    for set_name in args.sets:
        for budget in args.budgets:
            for seed in args.seeds:
                row = run_one(set_name, budget, seed, storage=args.storage, test_seeds=args.test_seeds)
                runs.append(row)
                s, g, r = row["search"], row["grid"], row["random"]
                print(f"{set_name} budget {budget:g} seed {seed}: test {row['metric']} search {s['test_mean']} "
                      f"grid {g['test_mean']} random {r['test_mean']} ({row['wall_seconds']:.0f}s)", flush=True)
                write_json(args.out, {**stamp("tasks (issue 22)", started), "runs": runs,
                                      "summary": summarise(runs)})
    for row in summarise(runs):
        print(row, flush=True)


if __name__ == "__main__":
    main()
