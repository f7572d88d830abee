"""Where the prior-guided search's second suggestion should go (issue 14): the data behind
``hybridtune.study._prior_sampler.WARM_RISE`` and ``SUGGESTION_STEP``.

At issue 13's budget (0.1 of the textbook grid) a search holds the probes and two trials: the range test's two
suggestions. When the range test read its curve a decade too low or too high, only the second trial can
recover, and only if the first trial's evidence says which way to go. This benchmark maps, for each task
(ResNet-8 and the sweep's small CNN on mnist5k, ``cnn1d`` on mnist1d; momentum SGD, 1cycle, the study's epochs, batch
32 as the suggestions train) and seed, single trials at peak LRs from 1/10 to 316 x the range test's
``lr_max`` (at the probes' batch size, scaled by the batch-size rule as the study scales it). Each run records
its validation accuracy and how far its training loss climbed back at its peak LR
(:meth:`hybridtune.StepTrace.loss_rise`). Then it replays candidate rules for the second suggestion on the map,
for a first trial at 1/10, 1 and 10 x the x1 suggestion (10**0.5 x lr_max), against the narrow search's two
trials (10**0.5 and 10**0.75 x lr_max) with the range test's own priors.

Seeds 0-2 only: the constants were set here; misleading_priors.py measures them on held-out seeds 3-5.

    python benchmarks/suggestion_steps.py                 # 3 tasks x seeds 0, 1, 2 (about 10 minutes on 2 cores)

Writes ``benchmarks/results/suggestion_steps.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from _common import now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"cnn1d": "cnn1d-mnist1d.toml", "cnn": "cnn-mnist5k.toml", "resnet": "default.toml"}
#: peak LRs in multiples of lr_max, a quarter decade apart (rounded as the map stores them)
MULTS = (0.1, 0.178, 0.316, 0.562, 1.0, 1.78, 3.16, 5.62, 10.0, 17.8, 31.6, 56.2, 100.0, 178.0, 316.0)
#: the narrow search's two suggestions, and where a first trial starts for a range test that read x1/10, x1, x10
NARROW, STARTS = (3.16, 5.62), {"x0.1": 0.316, "x1": 3.16, "x10": 31.6}


def map_task_seed(task_name: str, seed: int) -> list[dict[str, Any]]:
    import hybridtune as ht
    from hybridtune.space import dataset_batch_ceiling

    task_kw, config = ht.load_spec(ROOT / "studies" / TASKS[task_name]).build(seed=seed)
    task = ht.Task(**task_kw)
    config = config.for_task(task)
    probe_bs = min(config.probe_batch_size, dataset_batch_ceiling(len(task.data.train)))
    priors = ht.find_priors(task, batch_size=probe_bs, momentum_epochs=config.probe_momentum_epochs,
                            momenta=config.probe_momenta, seed=seed, range_extend=config.probe_range_extend)
    sizes = ht.batch_sizes(task, ref_batch_size=probe_bs, epochs=config.epochs)
    space = ht.search_space(priors, sizes, lr_range=(0.01, 1000.0))  # wide enough to hold every multiple
    rows = []
    for m in MULTS:
        p = space.params_for(lr=priors.lr_max * m, momentum=priors.momentum,
                             weight_decay=priors.weight_decay or 0.0, batch_size=min(space.batch_sizes))
        hp = space.hyperparams(p)
        t0 = time.perf_counter()
        r = ht.train(task, hp.train_config(optimizer=task.optimizer, epochs=config.epochs, seed=seed,
                                           record_steps=True))
        val = r.val_acc if (r.val_acc is not None and math.isfinite(r.val_acc) and not r.diverged) else None
        rows.append({"task": task_name, "seed": seed, "mult": m, "lr_max": priors.lr_max, "peak_lr": hp.lr,
                     "batch_size": hp.batch_size, "val_acc": val, "diverged": r.diverged,
                     "loss_rise": r.trace.loss_rise() if r.trace is not None else None,
                     "curve": [{"epoch": e.epoch, "train_loss": e.train_loss, "val_acc": e.val_acc} for e in r.epochs],
                     "seconds": time.perf_counter() - t0})
        print(f"{task_name} seed {seed} x{m:<6g} val {val if val is None else round(100 * val, 2)} "
              f"rise {rows[-1]['loss_rise'] if rows[-1]['loss_rise'] is None else round(rows[-1]['loss_rise'], 3)}",
              flush=True)
    return rows


def replay(rows: list[dict[str, Any]], *, up: float, warm: float | None, down: float,
           chance: float = 0.13) -> dict[str, Any]:
    """A rule for the second suggestion replayed on the map: after a first trial at ``m0``, go ``down`` x lower
    if it diverged, ended at chance or (``warm`` given) its loss climbed more than ``warm``, else ``up`` x
    higher. The result is the better validation accuracy of the two, minus the narrow search's (the better of
    its two suggestions with the range test's own priors), in points; per start (x0.1, x1, x10) and task."""
    data = {(r["task"], r["seed"], r["mult"]): r for r in rows}

    def at(task: str, seed: int, m: float) -> dict[str, Any]:
        m = min(MULTS, key=lambda x: abs(math.log10(x) - math.log10(min(max(m, MULTS[0]), MULTS[-1]))))
        return data[(task, seed, m)]

    def val(r: dict[str, Any]) -> float:
        return r["val_acc"] if r["val_acc"] is not None else 0.1

    out: dict[str, Any] = {}
    for task in sorted({r["task"] for r in rows}):
        per: dict[str, list[float]] = {v: [] for v in STARTS}
        for seed in sorted({r["seed"] for r in rows if r["task"] == task}):
            narrow = max(val(at(task, seed, m)) for m in NARROW)
            for variant, m0 in STARTS.items():
                first = at(task, seed, m0)
                bad = first["val_acc"] is None or first["val_acc"] <= chance
                rise = first["loss_rise"] if first["loss_rise"] is not None else math.inf
                hot = bad or (warm is not None and rise > warm)
                second = at(task, seed, m0 / down if hot else m0 * up)
                per[variant].append(100 * (max(val(first), val(second)) - narrow))
        out[task] = {v: {"mean": sum(xs) / len(xs), "per_seed": xs} for v, xs in per.items()}
    return out


def rises(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task, the range of the loss rise a decade below the x1 suggestions, at them, and a decade above
    (where the run still trained above chance)."""
    regions = {"decade_below": (0.316, 0.562), "x1": NARROW, "decade_above": (31.6, 56.2)}
    out: dict[str, Any] = {}
    for task in sorted({r["task"] for r in rows}):
        out[task] = {}
        for name, ms in regions.items():
            xs = [r["loss_rise"] for r in rows if r["task"] == task and r["mult"] in ms
                  and r["loss_rise"] is not None and r["val_acc"] is not None and r["val_acc"] > 0.13]
            out[task][name] = [min(xs), max(xs)] if xs else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "suggestion_steps.json"))
    args = ap.parse_args(argv)
    started = now()
    rows: list[dict[str, Any]] = []
    for task in args.tasks:
        for seed in args.seeds:
            rows += map_task_seed(task, seed)
    rules = {f"up {up:g}, warm {warm}, down {down:g}": replay(rows, up=up, warm=warm, down=down)
             for up in (1.78, 3.16, 10.0) for warm in (None, 0.15, 0.2) for down in (3.16, 10.0)}
    payload = {**stamp("suggestion_steps (issue 14)", started), "seeds": args.seeds, "loss_rise": rises(rows),
               "rules": rules, "runs": rows}
    write_json(args.out, payload)
    print(json.dumps({"loss_rise": payload["loss_rise"],
                      "rules": {k: {t: {v: round(x["mean"], 2) for v, x in d.items()} for t, d in r.items()}
                                for k, r in rules.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
