"""Which low fidelity predicts the full run (issue 20, part 1)? Spearman correlations, over 30 configurations per
task, between each candidate cheap score and the full-length run's test accuracy.

For each task (seed 0 only: seeds 0-2 are the tuning seeds, 3-5 stay held out), the study's probes run once
(the study's settings: batch 64, momenta 0.95 and 0.9, one epoch each) and 30 configurations are drawn: 15 from
the search's space (the priors' band, ``hybridtune.search_space``) and 15 from the random baseline's wide space
(``hybridtune.wide_space``), so the set holds both what the search must tell apart and the spread a wide
search sees. Each configuration is trained

- once at the study's full length ``E`` (1cycle), scored on the test split: the truth;
- as complete shorter 1cycle runs of ``E/4`` and ``E/2`` epochs (the ladder's rungs), and their validation
  accuracy is the candidate score;

and from the full run's own curve, its validation accuracy after ``E/4`` and ``E/2`` epochs: what a pruner
(ASHA, median, Hyperband) sees when it stops a long 1cycle there, at or near its peak LR.

    python benchmarks/fidelity.py                       # cnn-mnist5k, cnn1d-momentum, cnn1d-adam
    python benchmarks/fidelity.py --tasks cnn-mnist5k --configs 10

Writes ``benchmarks/results/fidelity.json``: per task, every configuration's scores, and the Spearman
correlation of each candidate with the full run's test accuracy (over all 30 and within the search's 15).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"cnn-mnist5k": ("cnn", "mnist5k", "momentum"), "cnn1d-momentum": ("cnn1d", "mnist1d", "momentum"),
         "cnn1d-adam": ("cnn1d", "mnist1d", "adam"), "resnet-mnist5k": ("resnet", "mnist5k", "momentum")}
PROBE_BS = 64
CHANCE = 0.1


def _spearman(x: list[float], y: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3:
        return None
    r = spearmanr(x, y).statistic
    return None if r != r else float(r)  # NaN (a constant column) -> None


def _draw(space: Any, n: int, seed: int) -> list[Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        t = study.ask()
        out.append(space.suggest(t))
        study.tell(t, 0.0)
    return out


def run_task(name: str, n_configs: int, seed: int = 0) -> dict[str, Any]:
    import hybridtune as ht
    from hybridtune.study import StudyConfig, ladder_epochs
    from hybridtune.train import train_and_test

    model, data, optimizer = TASKS[name]
    task = ht.Task(model=model, data=data, optimizer=optimizer, device="cpu")
    E = int(StudyConfig(probe_batch_size=PROBE_BS).for_task(task).epochs)  # type: ignore[arg-type]
    rungs = ladder_epochs(E)
    priors = ht.find_priors(task, batch_size=PROBE_BS, momentum_epochs=1, momenta=(0.95, 0.9), seed=seed,
                            range_extend="no_band")
    sizes = ht.batch_sizes(task, ref_batch_size=PROBE_BS, epochs=E)
    narrow = ht.search_space(priors, sizes)
    wide = ht.wide_space(task.optimizer, narrow.batch_sizes)
    configs = [("search", hp) for hp in _draw(narrow, n_configs // 2, seed)] + \
        [("wide", hp) for hp in _draw(wide, n_configs - n_configs // 2, seed + 1)]
    rows = []
    for i, (origin, hp) in enumerate(configs):
        t0 = time.perf_counter()
        full = train_and_test(task, hp.train_config(optimizer=task.optimizer, epochs=E, seed=seed))
        curve = [e.val_acc for e in full.result.epochs]
        row: dict[str, Any] = {"origin": origin, "hyperparams": hp.to_dict(),
                               "test_full": CHANCE if full.test_accuracy is None else full.test_accuracy,
                               "val_full": CHANCE if full.result.diverged or full.result.val_acc is None
                               else full.result.val_acc}
        for e in rungs[:-1]:
            short = ht.train(task, hp.train_config(optimizer=task.optimizer, epochs=e, seed=seed))
            row[f"complete_{e}"] = CHANCE if short.diverged or short.val_acc is None else short.val_acc
            v = curve[e - 1] if len(curve) >= e else None
            row[f"cut_{e}"] = CHANCE if v is None else v
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"{name} {i + 1}/{len(configs)} {origin} test {row['test_full']:.3f} "
              + " ".join(f"{k} {v:.3f}" for k, v in row.items() if k.startswith(("complete", "cut"))),
              file=sys.stderr, flush=True)
    candidates = [k for k in rows[0] if k.startswith(("complete_", "cut_"))] + ["val_full"]
    corr = {}
    for subset, rs in (("all", rows), ("search", [r for r in rows if r["origin"] == "search"])):
        corr[subset] = {c: _spearman([r[c] for r in rs], [r["test_full"] for r in rs]) for c in candidates}
    return {"task": name, "epochs": E, "rungs": list(rungs), "seed": seed,
            "priors": {"lr_min": priors.lr_min, "lr_max": priors.lr_max, "momentum": priors.momentum},
            "spearman_vs_full_test": corr, "configs": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="cnn-mnist5k,cnn1d-momentum,cnn1d-adam")
    p.add_argument("--configs", type=int, default=30)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fidelity.json"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # a shared 2-core machine: one thread each is faster than oversubscribed cores
    started = now()
    results = []
    for name in args.tasks.split(","):
        results.append(run_task(name, args.configs))
        write_json(args.out, {**stamp("fidelity", started), "tasks": results})
    for r in results:
        print(r["task"], "E =", r["epochs"], {s: {k: None if v is None else round(v, 3) for k, v in c.items()}
                                              for s, c in r["spearman_vs_full_test"].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
