"""Priors as evidence, not walls (issue 14): does the prior-guided search (``--space prior``) recover when
the range test reads its curve wrong, where the narrow band (``--space narrow``) cannot?

For each task (ResNet-8 and the sweep's small CNN on mnist5k, ``cnn1d`` on mnist1d; momentum SGD) and seed, the
probes run once, exactly as a study's (batch 64, momenta 0.95 and 0.9). Then their priors are distorted:
the LR band (``lr_min``, ``lr_max``) multiplied by 1/10, 1/3, 1, 3 or 10, or the momentum moved to a wrong
value (0.6, band 0.55-0.65) with the LR untouched; the confidences the probes measured are kept, so a wrong
prior is also a confident one. Each distorted prior is searched with ``narrow`` and with ``prior`` side by
side, at issue 13's budget (0.1 of the textbook grid's cost in training examples, the probes included), and
each chosen configuration is retrained on 3 test seeds and scored on the test split. Every study is kept in
a SQLite file: an interrupted run resumes.

    python benchmarks/misleading_priors.py                          # 3 tasks x seeds 3, 4, 5
    python benchmarks/misleading_priors.py --tasks cnn1d --seeds 3 --variants x1 x10
    python benchmarks/misleading_priors.py --trials 20 --variants x1 --out benchmarks/results/space_trials20.json

``--trials N`` runs each study for N trials instead of the budget (the default study's 20): with the range
test's own priors (x1), that is the question of which space should be the default.

Seeds 3-5 are held out: the sampler's constants were set on synthetic objectives (seeds 0-23 of
tests/study/test_prior_sampler.py's bowls) and nothing was tuned on these tasks or seeds.

Writes ``benchmarks/results/misleading_priors.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"cnn1d": ("cnn1d-mnist1d.toml", None), "cnn": ("cnn-mnist5k.toml", None),
         "resnet": ("default.toml", None)}
#: variant -> (LR factor, wrong momentum or None)
VARIANTS = {"x1": (1.0, None), "x10": (10.0, None), "x0.1": (0.1, None), "x3": (3.0, None),
            "x1/3": (1 / 3, None), "momentum": (1.0, 0.6)}
SPACES = ("narrow", "prior")
BUDGET = 0.1


def distort(priors: Any, factor: float, momentum: float | None) -> Any:
    """The priors with their LR band times ``factor`` and, given, the momentum moved to ``momentum``; the
    measured confidences are kept."""
    changes: dict[str, Any] = {"lr_min": priors.lr_min * factor, "lr_max": priors.lr_max * factor,
                               "lr_confidence": priors.lr_confidence,
                               "momentum_confidence": priors.momentum_confidence}
    if momentum is not None and priors.momentum is not None:
        changes.update(momentum=momentum, momentum_band=(momentum - 0.05, momentum + 0.05))
    return dataclasses.replace(priors, **changes)


def run_task_seed(task_name: str, seed: int, variants: list[str], *, storage: str,
                  test_seeds: int, trials: int | None = None) -> list[dict[str, Any]]:
    import optuna

    import hybridtune as ht

    spec_file, optimizer = TASKS[task_name]
    task_kw, config = ht.load_spec(ROOT / "studies" / spec_file).build(optimizer=optimizer, seed=seed)
    task = ht.Task(**task_kw)
    config = config.for_task(task)
    t0 = time.perf_counter()
    from hybridtune.space import dataset_batch_ceiling

    probe_bs = min(config.probe_batch_size, dataset_batch_ceiling(len(task.data.train)))
    priors = ht.find_priors(task, batch_size=probe_bs,
                            momentum_epochs=config.probe_momentum_epochs, momenta=config.probe_momenta,
                            seed=seed, range_extend=config.probe_range_extend)
    probe_seconds = time.perf_counter() - t0
    # issue 13's budget: 0.1 of the textbook grid's cost (the grid itself is not run here), probes included
    from hybridtune.study import grid_examples

    grid = ht.grid_space(task, overrides=config.grid)
    budget = round(BUDGET * grid_examples(grid, n_train=len(task.data.train), epochs=int(config.epochs)))
    rows = []
    for variant in variants:
        factor, momentum = VARIANTS[variant]
        p = distort(priors, factor, momentum)
        for space in SPACES:
            name = f"mp-{task_name}-seed{seed}-{variant.replace('/', '_')}-{space}" + (f"-t{trials}" if trials else "")
            t1 = time.perf_counter()
            r = ht.tune(task, priors=p, storage=storage, name=name, seed=seed, epochs=config.epochs,
                        **({"trials": trials} if trials else {"budget_examples": budget}), space=space,
                        test_seeds=test_seeds, grid=config.grid,
                        probe_momenta=config.probe_momenta, dashboard=False)
            search = r.result.search
            d = search.to_dict()
            rows.append({
                "task": task_name, "seed": seed, "variant": variant, "space": space, "study": name,
                "lr_factor": factor, "momentum_prior": p.momentum, "lr_max": p.lr_max,
                "lr_confidence": p.lr_confidence, "momentum_confidence": p.momentum_confidence,
                "best_value": search.best_value, "best_config": search.best_config,
                "test_accuracy": d["test_accuracy"], "examples": search.cost.examples,
                "budget_examples": (r.result.budget or {}).get("examples"), "n_trials": search.n_trials,
                "trials": [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                            "source": t.user_attrs.get("source_draw") or t.user_attrs.get("source"),
                            "move": t.user_attrs.get("suggestion_move"), "loss_rise": t.user_attrs.get("loss_rise"),
                            "outcome": t.user_attrs.get("outcome")}
                           for t in optuna.load_study(study_name=name, storage=storage).get_trials()],
                "n_pruned": search.n_pruned, "n_diverged": search.n_diverged, "warnings": list(r.warnings),
                "found_nothing": r.result.found_nothing, "wall_seconds": time.perf_counter() - t1,
                "probe_seconds": probe_seconds})
            t = d["test_accuracy"]
            shown = "-" if not t else f"{100 * t['mean']:.2f}"
            print(f"{task_name} seed {seed} {variant:8s} {space:6s}: test {shown} ({search.n_trials} trials, {search.n_diverged} "
                  f"diverged, {search.cost.examples:,} examples, {time.perf_counter() - t1:.0f}s)", flush=True)
    return rows


def _mean_se(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"mean": None, "se": None, "n": 0}
    return {"mean": statistics.fmean(xs), "se": statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else None,
            "n": len(xs)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task and variant: each space's test accuracy (mean over seeds of each run's mean over test seeds;
    a study that found nothing counts at chance, 0.1) with its SE over seeds, and its cost; the paired
    difference prior - narrow; and the issue's targets."""
    out: dict[str, Any] = {}

    def acc(r: dict[str, Any]) -> float:
        return r["test_accuracy"]["mean"] if r["test_accuracy"] else 0.1

    for task in TASKS:
        per: dict[str, Any] = {}
        for variant in VARIANTS:
            runs = {sp: {r["seed"]: r for r in rows if r["task"] == task and r["variant"] == variant
                         and r["space"] == sp} for sp in SPACES}
            seeds = sorted(set(runs["narrow"]) & set(runs["prior"]))
            if not seeds:
                continue
            per[variant] = {
                "seeds": seeds,
                **{sp: {"test_accuracy": _mean_se([acc(runs[sp][s]) for s in seeds]),
                        "examples": statistics.fmean(runs[sp][s]["examples"] for s in seeds),
                        "found_nothing": sum(runs[sp][s]["found_nothing"] for s in seeds),
                        "diverged_trials": sum(runs[sp][s]["n_diverged"] for s in seeds)} for sp in SPACES},
                "prior_minus_narrow": _mean_se([acc(runs["prior"][s]) - acc(runs["narrow"][s]) for s in seeds])}
        if "x1" in per:
            base = per["x1"]
            d = base["prior_minus_narrow"]
            per["targets"] = {"x1_prior_no_worse_than_narrow_beyond_1se":
                              d["mean"] is not None and d["mean"] >= -(d["se"] or 0.0)}
            for v in ("x10", "x0.1"):
                if v in per:
                    gap = per[v]["prior"]["test_accuracy"]["mean"] - base["prior"]["test_accuracy"]["mean"]
                    ratio = per[v]["prior"]["examples"] / base["prior"]["examples"]
                    per["targets"][f"{v}_prior_within_0.5_points_of_x1"] = {
                        "points": 100 * gap, "cost_ratio_to_x1": ratio, "met": gap >= -0.005 and ratio <= 1.5}
        if per:
            out[task] = per
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[3, 4, 5])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--test-seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=None, help="N trials per study instead of the budget")
    ap.add_argument("--storage", default=f"sqlite:///{ROOT / 'benchmarks' / 'results' / 'misleading_priors.db'}")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "misleading_priors.json"))
    args = ap.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = now()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for task in args.tasks:
        for seed in args.seeds:
            rows += run_task_seed(task, seed, args.variants, storage=args.storage, test_seeds=args.test_seeds,
                                  trials=args.trials)
            write_json(out, {**stamp("misleading_priors (issue 14)", started), "budget": None if args.trials else BUDGET, "trials": args.trials,
                             "held_out_seeds": args.seeds, "test_seeds": args.test_seeds,
                             "summary": summarize(rows), "runs": rows})
    print(json.dumps(summarize(rows), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
