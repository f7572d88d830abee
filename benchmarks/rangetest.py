"""Range-test benchmark (issue 3): speed against torch-lr-finder, suggestion quality against brute force.

(a) Wall time of ``hybridtune.lr_range_test`` against torch-lr-finder's ``LRFinder.range_test`` (+ its
    ``reset()``, which restores the model as ours does), on the same model, data, optimizer, batch size
    and LR schedule (both sweep ``start * (end / start) ** (i / (n - 1))``), interleaved repeats, one
    thread. torch-lr-finder is fed two ways: a standard ``DataLoader`` over a ``TensorDataset`` (how its
    README uses it) and a batched loader (one index per batch, its fastest reasonable input).
(b) Suggestion quality: a small version of the optimizer x LR sweep. For each of sgd, momentum and adam, the
    ``cnn`` on ``mnist5k`` is trained at 16 log-spaced constant LRs (1e-4..10) until 97% train accuracy
    or 20 epochs, batch 32, seed 0. The successful band is the longest run of consecutive successful LRs.
    Then the range test runs with seeds 0..4 (initialisation and data order), at its default length (one
    epoch = 109 steps at batch 32, re-run with 436 steps when the loss falls less than 15% in it) and at
    400 steps, and each rule's suggestion is placed on the sweep.
    hybridtune's ``lr_max`` is then trained *with the sweep's own recipe* (constant LR, batch 32, seed 0,
    97% target, 20-epoch cap), so its epochs compare apples to apples with the sweep's fastest LR.
    The other rules are placed by interpolating the sweep's epochs in log-LR between grid points.

Batch 32 and 20 epochs (2,180 steps) because plain SGD needs that many steps to reach 97% with this
3,400-weight CNN; at batch 128 and 15 epochs its successful band is one grid point.

torch-lr-finder is never a project dependency. Install it beside the project for part (a):

    .venv/bin/python -m pip install --target /tmp/tlf --no-deps torch-lr-finder

(it imports matplotlib, tqdm and packaging, which must be importable); ``--tlf-path`` (default /tmp/tlf)
is put on ``sys.path`` when it exists. Without it, the torch-lr-finder parts are skipped with a message.

Run (about 8 minutes on 2 CPU cores):

    .venv/bin/python benchmarks/rangetest.py            # writes benchmarks/results/rangetest.json
    .venv/bin/python benchmarks/rangetest.py --quick    # a smoke run in about a minute
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hybridtune._core import finite_json
import hybridtune as ht

OPTIMIZERS = ("sgd", "momentum", "adam")
TARGET = 0.97


def _load_tlf(path: str) -> Any:
    if os.path.isdir(path) and path not in sys.path:
        sys.path.insert(0, path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        from torch_lr_finder import LRFinder
    except ImportError as exc:
        print(f"torch-lr-finder not importable ({exc}); its parts are skipped. Install it with:\n"
              f"  .venv/bin/python -m pip install --target {path} --no-deps torch-lr-finder")
        return None
    return LRFinder


class _BatchedTensors(torch.utils.data.Dataset):
    """One item per batch: the fast way to feed in-memory tensors through a DataLoader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[idx], self.y[idx]


def _loader(task: ht.Task, batch_size: int, kind: str, seed: int) -> torch.utils.data.DataLoader:
    x, y = task.data.train.x, task.data.train.y
    g = torch.Generator().manual_seed(seed)
    if kind == "dataloader":
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                           shuffle=True, drop_last=True, generator=g)
    sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(x, generator=g), batch_size,
                                            drop_last=True)
    return torch.utils.data.DataLoader(_BatchedTensors(x, y), sampler=sampler, batch_size=None)


def _optimizer(name: str, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def tlf_range_test(LRFinder: Any, task: ht.Task, optimizer: str, *, steps: int, batch_size: int, seed: int,
                   kind: str = "batched", start_lr: float = 1e-7, end_lr: float = 10.0) -> dict[str, Any]:
    """torch-lr-finder's range test and its suggestion (steepest gradient, skip 10 / 5, as ``plot()``)."""
    model = task.build_model(seed=seed)
    finder = LRFinder(model, _optimizer(optimizer, model, start_lr), torch.nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(_loader(task, batch_size, kind, seed), start_lr=start_lr, end_lr=end_lr,
                          num_iter=steps, step_mode="exp")
        finder.reset()
        suggestion = None
        if len(finder.history["lr"]) >= 17:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots()
            _, suggestion = finder.plot(ax=ax, suggest_lr=True)
            plt.close(fig)
    return {"lrs": list(finder.history["lr"]), "losses": list(finder.history["loss"]), "suggestion": suggestion}


def fastai_valley(lrs: list[float], losses: list[float], beta: float = 0.98) -> float | None:
    """fastai's ``valley`` as fastai applies it: on its beta-0.98 smoothed losses, the first 10% and last 5
    points dropped, the longest decreasing subsequence, and the point a half of its length past its start
    (fastai takes the start as ``end - length``)."""
    avg, smooth = 0.0, []
    for i, v in enumerate(losses):
        avg = beta * avg + (1 - beta) * v
        smooth.append(avg / (1 - beta ** (i + 1)))
    n_it = len(losses)
    xs, ys = lrs[n_it // 10:-5], smooth[n_it // 10:-5]
    n = len(ys)
    if n < 3:
        return None
    length = [1] * n
    end = 0
    for i in range(1, n):
        for j in range(i):
            if ys[i] < ys[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end = i
    start = end - length[end]
    third = (end - start) / 3
    return float(xs[start + int(third) + int(third / 2)])


# ----------------------------------------------------------------------------------------------
# (a) wall time


def bench_time(task: ht.Task, LRFinder: Any, *, steps: int, batch_size: int, repeats: int) -> dict[str, Any]:
    contenders: dict[str, Any] = {
        # a model passed in: snapshot and exact restore, as torch-lr-finder's reset() does
        "hybridtune": lambda s: ht.lr_range_test(task, optimizer="momentum", model=task.build_model(seed=s),
                                                 steps=steps, batch_size=batch_size, seed=s),
    }
    if LRFinder is not None:
        contenders["torch-lr-finder (batched loader)"] = lambda s: tlf_range_test(
            LRFinder, task, "momentum", steps=steps, batch_size=batch_size, seed=s, kind="batched")
        contenders["torch-lr-finder (DataLoader)"] = lambda s: tlf_range_test(
            LRFinder, task, "momentum", steps=steps, batch_size=batch_size, seed=s, kind="dataloader")
    for fn in contenders.values():  # warm-up
        fn(0)
    times: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:  # interleaved, rotated order
            t0 = time.perf_counter()
            contenders[name](r)
            times[name].append(time.perf_counter() - t0)
    out: dict[str, Any] = {"steps": steps, "batch_size": batch_size, "optimizer": "momentum", "repeats": repeats,
                           "seconds": {k: {"median": statistics.median(v), "min": min(v), "all": v}
                                       for k, v in times.items()}}
    ours = statistics.median(times["hybridtune"])
    out["ratio"] = {k: ours / statistics.median(v) for k, v in times.items() if k != "hybridtune"}
    return out


# ----------------------------------------------------------------------------------------------
# (b) quality against brute force


def brute_force(task: ht.Task, lrs: list[float], *, batch_size: int, max_epochs: int) -> dict[str, Any]:
    out = {}
    for opt in OPTIMIZERS:
        runs = []
        for lr in lrs:
            r = ht.train(task, ht.TrainConfig(optimizer=opt, lr=lr, epochs=max_epochs, batch_size=batch_size,
                                              target=TARGET, eval_every=0, seed=0))
            runs.append({"lr": lr, "success": r.status == "target_reached",
                         "epochs": r.target.epoch if r.target else None, "status": r.status})
            print(f"  sweep {opt:8s} lr {lr:<9.3g} {r.status:15s} {len(r.epochs):3d} epochs", flush=True)
        band = ht.successful_band([x["lr"] for x in runs], [x["success"] for x in runs])
        ok = [x for x in runs if x["success"]]
        fastest = min(ok, key=lambda x: (x["epochs"], -x["lr"])) if ok else None
        out[opt] = {"runs": runs, "band": band, "fastest_lr": fastest["lr"] if fastest else None,
                    "fastest_epochs": fastest["epochs"] if fastest else None}
    return out


def place(sweep: dict[str, Any], lr: float | None) -> dict[str, Any]:
    """Where an LR falls on one optimizer's sweep, with epochs interpolated in log-LR between grid points."""
    if lr is None:
        return {"lr": None, "where": "no suggestion", "epochs_interp": None}
    band = sweep["band"]
    where = "no band" if band is None else ("inside" if band[0] <= lr <= band[1] else
                                            ("below" if lr < band[0] else "above"))
    runs = sweep["runs"]
    xs = [math.log10(r["lr"]) for r in runs]
    x = math.log10(lr)
    ep: float | None = None
    j = int(np.searchsorted(xs, x))
    if 0 < j < len(xs):
        a, b = runs[j - 1], runs[j]
        if a["success"] and b["success"]:
            t = (x - xs[j - 1]) / (xs[j] - xs[j - 1])
            ep = a["epochs"] + t * (b["epochs"] - a["epochs"])
    elif j == 0 and x == xs[0] and runs[0]["success"]:
        ep = runs[0]["epochs"]
    return {"lr": lr, "where": where, "epochs_interp": ep}


def bench_quality(task: ht.Task, LRFinder: Any, *, batch_size: int, max_epochs: int, lrs: list[float],
                  seeds: list[int], step_settings: list[int | None]) -> dict[str, Any]:
    print("brute-force sweep", flush=True)
    t0 = time.perf_counter()
    sweep = brute_force(task, lrs, batch_size=batch_size, max_epochs=max_epochs)
    sweep_seconds = time.perf_counter() - t0
    results: dict[str, Any] = {"sweep": sweep, "sweep_seconds": sweep_seconds, "settings": {}}
    for steps in step_settings:
        label = "default" if steps is None else f"{steps} steps"
        setting: dict[str, Any] = {}
        for opt in OPTIMIZERS:
            rows = []
            for seed in seeds:
                rt = ht.lr_range_test(task, optimizer=opt, batch_size=batch_size, steps=steps, seed=seed)
                row: dict[str, Any] = {"seed": seed, "steps": len(rt.lrs), "sweep_steps": rt.steps,
                                       "extended": rt.extended, "stopped": rt.stopped,
                                       "range_test_examples": rt.cost.examples,
                                       "suggestion_error": rt.suggestion_error}
                for rule in ("hybridtune", "steepest", "valley", "min_div10"):
                    row[rule] = place(sweep[opt], rt.suggestions.get(rule))
                row["fastai_valley (as fastai)"] = place(sweep[opt], fastai_valley(list(rt.lrs), list(rt.losses)))
                if LRFinder is not None:
                    t = tlf_range_test(LRFinder, task, opt, steps=rt.steps,
                                       batch_size=batch_size, seed=seed)
                    row["torch-lr-finder"] = place(sweep[opt], t["suggestion"])
                lr_max = rt.suggestions.get("hybridtune")
                if lr_max is not None:
                    # the sweep's own recipe at lr_max: constant LR, same batch, seed, target and cap
                    r = ht.train(task, ht.TrainConfig(optimizer=opt, lr=lr_max, epochs=max_epochs,
                                                      batch_size=batch_size, target=TARGET, eval_every=0, seed=0))
                    row["hybridtune"]["trained_epochs"] = r.target.epoch if r.target else None
                    row["hybridtune"]["trained_status"] = r.status
                rows.append(row)
                h = row["hybridtune"]
                shown = "-" if h["lr"] is None else f"{h['lr']:.3g}"
                print(f"  {label:9s} {opt:8s} seed {seed}: {rt.steps} steps"
                      + (" (extended)" if rt.extended else "") + f", lr_max {shown} {h['where']}, trained "
                      f"{h.get('trained_epochs')} epochs (fastest {sweep[opt]['fastest_epochs']})", flush=True)
            setting[opt] = {"rows": rows, "summary": summarise(rows, sweep[opt]),
                            "extended": sum(r["extended"] is not None for r in rows),
                            "range_test_examples": [r["range_test_examples"] for r in rows]}
        results["settings"][label] = setting
    return results


def summarise(rows: list[dict[str, Any]], sweep: dict[str, Any]) -> dict[str, Any]:
    fastest = sweep["fastest_epochs"]
    out: dict[str, Any] = {}
    for rule in [k for k in rows[0] if isinstance(rows[0][k], dict)]:
        vals = [r[rule]["lr"] for r in rows]
        finite = [math.log10(v) for v in vals if v is not None]
        s: dict[str, Any] = {
            "median_lr": 10 ** statistics.median(finite) if finite else None,
            "spread_decades": (max(finite) - min(finite)) if finite else None,
            "inside_band": sum(r[rule]["where"] == "inside" for r in rows), "of": len(rows),
            "no_suggestion": sum(v is None for v in vals),
        }
        if rule == "hybridtune":
            eps = [r[rule].get("trained_epochs") for r in rows]
            s["trained_epochs"] = eps
            s["within_1.5x_fastest"] = sum(e is not None and fastest is not None and e <= 1.5 * fastest for e in eps)
        else:
            eps_i = [r[rule]["epochs_interp"] for r in rows]
            s["within_1.5x_fastest_interp"] = sum(e is not None and fastest is not None and e <= 1.5 * fastest
                                                  for e in eps_i)
        out[rule] = s
    return out




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: fewer LRs, seeds and epochs")
    p.add_argument("--tlf-path", default="/tmp/tlf", help="where torch-lr-finder was pip-installed with --target")
    p.add_argument("--out", default="benchmarks/results/rangetest.json")
    p.add_argument("--repeats", type=int, default=11)
    args = p.parse_args()
    # one thread: a tiny CNN gains nothing from a second one, and on a shared 2-core machine a busy
    # neighbour makes two threads many times slower and the timings meaningless
    torch.set_num_threads(1)
    LRFinder = _load_tlf(args.tlf_path)
    task = ht.Task(model="cnn", data="mnist5k", device="cpu")
    t_start = time.perf_counter()

    print("(a) wall time", flush=True)
    timing = bench_time(task, LRFinder, steps=100, batch_size=128, repeats=2 if args.quick else args.repeats)
    for k, v in timing["seconds"].items():
        print(f"  {k:34s} median {v['median']:.3f}s  min {v['min']:.3f}s")
    for k, v in timing["ratio"].items():
        print(f"  hybridtune / {k}: {v:.2f}x")

    print("(b) suggestion quality", flush=True)
    lrs = [float(f"{v:.4g}") for v in np.logspace(-4, 1, 6 if args.quick else 16)]
    quality = bench_quality(task, LRFinder, batch_size=32, max_epochs=5 if args.quick else 20, lrs=lrs,
                            seeds=[0, 1] if args.quick else [0, 1, 2, 3, 4],
                            step_settings=[None] if args.quick else [None, 400])
    for label, setting in quality["settings"].items():
        for opt, res in setting.items():
            sw = quality["sweep"][opt]
            print(f"  [{label}] {opt}: band {sw['band']}, fastest {sw['fastest_lr']} ({sw['fastest_epochs']} epochs); "
                  f"range test re-run longer {res['extended']}/{len(res['rows'])}, examples {res['range_test_examples']}")
            for rule, s in res["summary"].items():
                med = s["median_lr"]
                print(f"      {rule:26s} median {'-' if med is None else f'{med:.3g}':>8s}  spread "
                      f"{'-' if s['spread_decades'] is None else format(s['spread_decades'], '.2f')} dec  "
                      f"inside {s['inside_band']}/{s['of']}  "
                      + (f"trained epochs {s['trained_epochs']}, <=1.5x fastest {s['within_1.5x_fastest']}/{s['of']}"
                         if rule == "hybridtune" else f"<=1.5x fastest (interp.) {s['within_1.5x_fastest_interp']}/{s['of']}"))

    payload = {
        "benchmark": "rangetest", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "gpu": None},
        "command": "python benchmarks/rangetest.py" + (" --quick" if args.quick else ""),
        "torch_lr_finder": LRFinder is not None, "total_seconds": time.perf_counter() - t_start,
        "targets": {"time_ratio": "<= 1.0", "lr_max": "inside the successful band, <= 1.5x the fastest LR's epochs"},
        "timing": timing, "quality": quality,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(finite_json(payload), indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out} ({payload['total_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
