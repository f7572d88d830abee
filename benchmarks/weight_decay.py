"""A weight-decay prior from the LR (issue 20, part 3): which rule holds on the benchmark tasks?

At the range test's first suggestion (the study's: its 1cycle peak at the log-middle of the band, the priors'
momentum, the smallest searched batch size, ``E`` epochs), sweep the weight decay over
0, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2 and 3e-2 and record the validation accuracy (seeds 0 and 1: tuning
seeds; 3-5 stay held out). Then compare the best measured weight decay with what each candidate rule says:

- the timescale rule of Wang & Aitchison (2024): the EMA timescale of the weights, ``1 / (lr x wd)`` steps,
  is a fixed fraction ``c`` of the run's ``T`` steps, so ``wd = 1 / (c x T x lr)`` (``lr`` the 1cycle peak);
  ``c`` is fitted here (the one value over all runs closest, on a log scale, to the measured bests) and
  reported with its spread;
- Smith's (2018): larger LR, smaller weight decay, one significant figure, ``1e-4`` to ``5e-4`` as the usual
  range (we read it as ``wd = 5e-4 x (0.1 / lr)`` clipped to [1e-5, 1e-3] for SGD; for Adam ``1e-4``);
- the textbook constant ``5e-4`` and ``0``.

    python benchmarks/weight_decay.py          # -> benchmarks/results/weight_decay.json
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from _common import now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"cnn-mnist5k": ("cnn", "mnist5k", "momentum"), "cnn1d-momentum": ("cnn1d", "mnist1d", "momentum"),
         "cnn1d-adam": ("cnn1d", "mnist1d", "adam")}
DECAYS = (0.0, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
PROBE_BS = 64


def smith(lr: float, optimizer: str) -> float:
    if optimizer == "adam":
        return 1e-4
    wd = 5e-4 * (0.1 / lr)
    return float(f"{min(max(wd, 1e-5), 1e-3):.0e}")


def run(name: str, seed: int) -> dict[str, Any]:
    import hybridtune as ht
    from hybridtune.space import Hyperparams, suggested_peak
    from hybridtune.study import StudyConfig
    from hybridtune.train import steps_per_epoch

    model, data, optimizer = TASKS[name]
    task = ht.Task(model=model, data=data, optimizer=optimizer, device="cpu")
    cfg = StudyConfig(probe_batch_size=PROBE_BS).for_task(task)
    E = int(cfg.epochs)  # type: ignore[arg-type]
    priors = ht.find_priors(task, batch_size=PROBE_BS, momentum_epochs=1, momenta=(0.95, 0.9), seed=seed,
                            range_extend="no_band")
    space = ht.search_space(priors, ht.batch_sizes(task, ref_batch_size=PROBE_BS, epochs=E))
    bs = min(space.batch_sizes)
    params = space.params_for(lr=suggested_peak(priors.lr_max, cfg.lr_range, cfg.suggestions[0]),
                              momentum=priors.momentum, weight_decay=0.0, batch_size=bs)
    hp0 = space.hyperparams(params)
    steps = E * steps_per_epoch(len(task.data.train), bs)  # type: ignore[arg-type]
    accs = {}
    for wd in DECAYS:
        hp = Hyperparams(lr=hp0.lr, momentum=hp0.momentum, weight_decay=wd, batch_size=bs)
        r = ht.train(task, hp.train_config(optimizer=optimizer, epochs=E, seed=seed))
        accs[wd] = 0.1 if r.diverged or r.val_acc is None else float(r.val_acc)
        print(f"{name} seed {seed} lr {hp0.lr:.3g} wd {wd:g}: {accs[wd]:.4f}", file=sys.stderr, flush=True)
    best = max(accs, key=lambda w: (accs[w], -w))
    return {"task": name, "seed": seed, "epochs": E, "lr": hp0.lr, "momentum": hp0.momentum, "batch_size": bs,
            "steps": steps, "val_acc": {f"{k:g}": v for k, v in accs.items()}, "best_wd": best,
            "smith": smith(hp0.lr, optimizer),
            # the timescale fraction c = 1 / (T x lr x wd) the best weight decay implies (none for 0)
            "implied_c": None if best == 0 else 1.0 / (steps * hp0.lr * best)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "weight_decay.json"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # a shared 2-core machine: one thread each is faster than oversubscribed cores
    started = now()
    rows = []
    for name in args.tasks.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(run(name, seed))
            write_json(args.out, {**stamp("weight_decay", started), "runs": rows})
    cs = [r["implied_c"] for r in rows if r["implied_c"]]
    c = math.exp(statistics.median(math.log(v) for v in cs)) if cs else None
    summary = []
    for r in rows:
        acc = {float(k): v for k, v in r["val_acc"].items()}

        def at(wd: float) -> float:  # the measured accuracy at the swept decay nearest (log) to wd
            if wd <= 0:
                return acc[0.0]
            return acc[min((w for w in acc if w > 0), key=lambda w: abs(math.log(w / wd)))]

        timescale = None if c is None else 1.0 / (c * r["steps"] * r["lr"])
        summary.append({"task": r["task"], "seed": r["seed"], "best_wd": r["best_wd"], "best": acc[r["best_wd"]],
                        "timescale_wd": timescale, "timescale": None if timescale is None else at(timescale),
                        "smith_wd": r["smith"], "smith": at(r["smith"]), "5e-4": acc[5e-4], "0": acc[0.0]})
    write_json(args.out, {**stamp("weight_decay", started), "fitted_c": c, "runs": rows, "summary": summary})
    for s in summary:
        print(s)
    print("fitted c", c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
