"""Does ``hybridtune train`` train well with its defaults (issue 15, point 3)? The two target commands, run
as a user runs them (the CLI as a subprocess), each with an empty probe cache so the probe's cost is paid:

- ``hybridtune train --model resnet --epochs 2``: target >= 93% validation accuracy;
- ``hybridtune train --model cnn --epochs 5``: target >= 93%.

With ``--old-defaults`` each is also run at the old fixed defaults (``--lr 0.05 --batch-size 128``), for
comparison. With ``--batch-sizes 32,64,128`` each is also run at each of those batch sizes (the same command
plus ``--batch-size B``, the probe's LR scaled to it), the evidence behind the default batch size (``FIT_DEFAULTS``
in ``hybridtune/pipeline/_fit.py``: a smaller batch trains better in the same epochs).

    python benchmarks/train_defaults.py [--old-defaults] [--batch-sizes 32,64,128]

Writes ``benchmarks/results/train_defaults.json``: per run the validation and test accuracy, the LR chosen and
why, the probe's cost, the training's cost, the wall time of the command, and whether the target is met (and
by how much it is missed); with ``--batch-sizes``, a ``batch_sizes`` table of val and test accuracy per model and
batch size. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: (model, epochs, the validation accuracy the issue asks for)
TARGETS = (("resnet", 2, 0.93), ("cnn", 5, 0.93))


def run(args: list[str], cache: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "hybridtune", "train", *args, "--json", str(out)]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "HYBRIDTUNE_CACHE": cache, "COLUMNS": "200"},
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr}")
        data = json.loads(out.read_text())
    probe = data.get("probe") or {}
    return {"command": "hybridtune train " + " ".join(args), "val_acc": data["val_acc"],
            "test_acc": data["test_accuracy"], "lr": data["lr"], "lr_source": data["lr_source"],
            "lr_reason": data["lr_reason"], "momentum": data["config"]["momentum"],
            "batch_size": data["config"]["batch_size"], "status": data["status"],
            "probe_examples": data["probe_cost"]["examples"], "probe_seconds": data["probe_cost"]["seconds"],
            "probe_cached": probe.get("cached"), "train_examples": data["cost"]["examples"],
            "train_seconds": data["cost"]["seconds"], "wall_seconds": wall}


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        sizes = ()
    if not sizes or any(b < 1 for b in sizes):
        raise argparse.ArgumentTypeError(f"must be positive whole numbers separated by commas, e.g. 32,64,128, but "
                                         f"got {text!r}")
    return sizes


def _summary(model: str, epochs: int, target: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard error (SD / sqrt(n)) of the validation and test accuracy over the seeds."""
    import statistics

    def mean_se(xs: list[float]) -> tuple[float, float]:
        return statistics.fmean(xs), (statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else float("nan"))

    val, val_se = mean_se([r["val_acc"] for r in runs])
    test, test_se = mean_se([r["test_acc"] for r in runs])
    return {"model": model, "epochs": epochs, "seeds": [r["seed"] for r in runs], "target": target,
            "val_mean": val, "val_se": val_se, "test_mean": test, "test_se": test_se,
            "seeds_meeting_target": sum(r["val_acc"] >= target for r in runs)}


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        seeds = ()
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"must be whole numbers >= 0 separated by commas, e.g. 0,1,2, but got {text!r}")
    return seeds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old-defaults", action="store_true", help="also run --lr 0.05 --batch-size 128")
    ap.add_argument("--batch-sizes", type=_batch_sizes, metavar="B,B,...",
                    help="also run each target command at these batch sizes (e.g. 32,64,128): val and test accuracy")
    ap.add_argument("--seeds", type=_seeds, metavar="S,S,...",
                    help="also run each target command at these seeds (its own probe each): mean and standard error")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_defaults.json"))
    args = ap.parse_args(argv)

    import torch

    started = dt.datetime.now().isoformat(timespec="seconds")
    rows = []
    for model, epochs, target in TARGETS:
        variants = [[]] + ([["--lr", "0.05", "--batch-size", "128"]] if args.old_defaults else [])
        for extra in variants:
            with tempfile.TemporaryDirectory() as cache:  # an empty cache: the probe runs and is paid for
                row = run(["--model", model, "--epochs", str(epochs), *extra], cache)
            row.update(target=target, met=row["val_acc"] is not None and row["val_acc"] >= target,
                       short_by=max(0.0, target - (row["val_acc"] or 0.0)), defaults=not extra)
            rows.append(row)
            print(f"{row['command']}: val {100 * row['val_acc']:.2f}% (target {100 * target:.0f}%, "
                  f"{'met' if row['met'] else 'MISSED by %.2f points' % (100 * row['short_by'])}), test "
                  f"{100 * row['test_acc']:.2f}%, lr {row['lr']:.4g} ({row['lr_source']}), probe "
                  f"{row['probe_examples']} examples {row['probe_seconds']:.1f}s, train {row['train_examples']} "
                  f"examples {row['train_seconds']:.1f}s, wall {row['wall_seconds']:.1f}s", flush=True)
    sweep = []
    for model, epochs, _ in TARGETS if args.batch_sizes else ():
        # one cache per model: the probe runs once at its own batch size; each run scales its LR to the batch
        with tempfile.TemporaryDirectory() as cache:
            for bs in args.batch_sizes:
                row = run(["--model", model, "--epochs", str(epochs), "--batch-size", str(bs)], cache)
                sweep.append({"model": model, "epochs": epochs, **row})
                print(f"{row['command']}: val {100 * row['val_acc']:.2f}%, test {100 * row['test_acc']:.2f}%, "
                      f"lr {row['lr']:.4g}, train {row['train_seconds']:.1f}s", flush=True)
    by_seed = []
    for model, epochs, target in TARGETS if args.seeds else ():
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as cache:  # the probe is seeded too: each seed probes afresh
                row = run(["--model", model, "--epochs", str(epochs), "--seed", str(seed)], cache)
            by_seed.append({"model": model, "epochs": epochs, "seed": seed, "target": target, **row})
            print(f"{row['command']}: val {100 * row['val_acc']:.2f}%, test {100 * row['test_acc']:.2f}%, "
                  f"lr {row['lr']:.4g}", flush=True)
    payload = {"benchmark": "train_defaults", "started": started,
               "finished": dt.datetime.now().isoformat(timespec="seconds"),
               "command": " ".join(["python", *sys.argv]),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                           "torch_threads": torch.get_num_threads()},
               "all_targets_met": all(r["met"] for r in rows if r["defaults"]), "rows": rows}
    if sweep:
        payload["batch_sizes"] = [{k: r[k] for k in ("model", "epochs", "batch_size", "val_acc", "test_acc", "lr",
                                                     "command")} for r in sweep]
        payload["batch_size_runs"] = sweep
    if by_seed:
        payload["seed_runs"] = by_seed
        payload["over_seeds"] = [_summary(model, epochs, target, [r for r in by_seed if r["model"] == model])
                                 for model, epochs, target in TARGETS]
        for s in payload["over_seeds"]:
            print(f"{s['model']} {s['epochs']} epochs over seeds {s['seeds']}: val {100 * s['val_mean']:.2f} "
                  f"+- {100 * s['val_se']:.2f}%, test {100 * s['test_mean']:.2f} +- {100 * s['test_se']:.2f}%")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {out}")
    if not payload["all_targets_met"]:
        missed = [r["command"] for r in rows if r["defaults"] and not r["met"]]
        print(f"target missed: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
