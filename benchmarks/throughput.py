"""Trainer throughput against a minimal hand-written PyTorch loop (issue 2).

Same model (same initial weights), same data (mnist5k, in memory on the device), same batch size,
same optimizer (SGD with momentum, constant LR), same number of steps, no evaluation on either side.
The two are run interleaved, repeat after repeat, in one process, and compared by the median
examples per second, because this machine is noisy: the ratio is the number to read.

    .venv/bin/python benchmarks/throughput.py                 # CPU (or the GPU when there is one)
    .venv/bin/python benchmarks/throughput.py --device cpu --repeats 7 --epochs 2

Target: trainer / hand loop >= 0.97 for both resnet and cnn (the median of the per-repeat paired ratios).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.nn import functional as F

import hybridtune as ht


def hand_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, epochs: int,
              lr: float, seed: int, device: torch.device) -> tuple[int, float]:
    """The loop a careful engineer writes by hand: index permutation, forward, loss, backward, step."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    seen = 0
    model.train()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(device)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += batch_size
    _sync(device)
    return seen, time.perf_counter() - t0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", default="resnet,cnn")
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "throughput.json"))
    args = ap.parse_args()

    rows = []
    for model_name in args.models.split(","):
        task = ht.Task(model=model_name, data=args.dataset, device=args.device)
        device = task.torch_device
        # the trainer uses bf16 autocast on CUDA; the hand loop should be equally good there
        cfg = ht.TrainConfig(optimizer="momentum", lr=0.01, momentum=0.9, batch_size=args.batch_size,
                             epochs=args.epochs, schedule="constant", eval_every=0, seed=0, amp=False)
        hand, ours = [], []
        # one warm-up of each (allocator, kernels), then interleaved timed repeats
        # the two alternate which goes first, so neither always inherits a warm (or a busy) machine
        for rep in range(args.repeats + 1):
            sides = ["hand", "ours"] if rep % 2 else ["ours", "hand"]
            for side in sides:
                if side == "hand":
                    m = task.build_model(seed=0)
                    n, secs = hand_loop(m, task.data.train.x, task.data.train.y, batch_size=args.batch_size,
                                        epochs=args.epochs, lr=0.01, seed=rep, device=device)
                else:
                    m2 = task.build_model(seed=0)
                    _sync(device)
                    r = ht.train(task, cfg.replace(seed=rep), model=m2)
                    _sync(device)
            assert r.cost.examples == n, (r.cost.examples, n)
            if rep:
                hand.append(n / secs)
                ours.append(r.cost.examples / r.cost.seconds)
        row = {"model": model_name, "dataset": args.dataset, "device": str(device), "batch_size": args.batch_size,
               "epochs": args.epochs, "repeats": args.repeats,
               "hand_examples_per_s": statistics.median(hand), "trainer_examples_per_s": statistics.median(ours),
               # paired: each repeat's two runs are adjacent in time, so their ratio cancels slow drift
               "ratio_median": statistics.median(o / h for o, h in zip(ours, hand)),
               "ratio_of_medians": statistics.median(ours) / statistics.median(hand),
               "ratio_per_repeat": [o / h for o, h in zip(ours, hand)]}
        rows.append(row)
        print(f"{model_name:8s} {device}: hand {row['hand_examples_per_s']:9.0f} ex/s | trainer "
              f"{row['trainer_examples_per_s']:9.0f} ex/s | ratio {row['ratio_median']:.3f}")
    payload = {"benchmark": "throughput", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"platform": platform.platform(), "processor": platform.processor(),
                           "torch": torch.__version__, "threads": torch.get_num_threads(),
                           "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
               "command": "python benchmarks/throughput.py " + " ".join(
                   f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
               "target": ">= 0.97", "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
