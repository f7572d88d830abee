"""An AutoML pipeline that tunes two different tasks in a loop with hybridtune's Python API.

Task 1 is an image task from the registries (the embedded mnist5k digits, the optimizer x LR sweep's small CNN).
Task 2 is a tabular task defined right here: its own data (tensors) and its own model factory.
Each is tuned with ``hybridtune.tune`` (range-test priors, then a random search with pruning inside
them); the results are collected into one pandas DataFrame and printed.

    python examples/automl_pipeline.py            # a few minutes on two CPU cores
    python examples/automl_pipeline.py --quick    # the smoke size CI runs (well under a minute)
"""

from __future__ import annotations

import argparse
import logging

import pandas as pd
import torch
from torch import nn

import hybridtune as ht


def tabular_data(n: int = 1200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes from a noisy non-linear rule over 16 features."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g)
    score = x[:, 0] * x[:, 1] + torch.sin(2 * x[:, 2]) + 0.5 * x[:, 3] + 0.3 * torch.randn(n, generator=g)
    y = torch.bucketize(score, torch.quantile(score, torch.tensor([1 / 3, 2 / 3])))
    return x, y


def tabular_net(input_shape: tuple[int, ...], num_classes: int, hidden: int = 64) -> nn.Module:
    """A model factory of our own: hybridtune calls it with the input shape and the class count."""
    return nn.Sequential(nn.Linear(input_shape[0], hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke size: tiny data, few trials")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    n_trials, epochs = (3, 2) if args.quick else (12, 4)
    image_data = "synthetic:n=600,shape=1x12x12,classes=4" if args.quick else "mnist5k"
    tasks = {
        "digits-cnn": ht.Task(model="cnn", data=image_data, optimizer="momentum", device=args.device),
        "tabular-mlp": ht.Task(model=tabular_net, data=tabular_data(600 if args.quick else 1200),
                               optimizer="adam", device=args.device),
    }
    rows = []
    for name, task in tasks.items():
        result = ht.tune(task, trials=n_trials, epochs=epochs, name=name, quick=args.quick,
                         probe_batch_size=32 if args.quick else 64)
        trials = result.to_frame()
        cfg = result.best_config or {}
        rows.append({"task": name, "model": task.model_name, "data": task.data.name,
                     "optimizer": task.optimizer, "best_val": result.best_value,
                     "test_acc": result.test_accuracy, "lr": cfg.get("lr"), "momentum": cfg.get("momentum"),
                     "weight_decay": cfg.get("weight_decay"), "batch_size": cfg.get("batch_size"),
                     "trials": len(trials), "pruned": int((trials["state"] == "pruned").sum()),
                     "examples": int(trials["examples"].sum() + result.priors.cost.examples),
                     "seconds": float(trials["seconds"].sum() + result.priors.cost.seconds)})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
