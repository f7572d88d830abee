"""NePS PriorBand on one hybridtune task, run in NePS's own virtual environment by ``_peers.run_priorband``:

    /work/neps-venv/bin/python benchmarks/_neps_runner.py ARGS.json

``ARGS.json`` holds the task's keyword arguments, the wide space (``SearchSpace.to_dict``), the epochs E, the
seed, the budget in training examples, the prior and where to write. The fidelity is the number of epochs, 1..E;
an evaluation at fidelity e is a *complete* e-epoch 1cycle run of hybridtune's trainer at the configuration,
scored by its last validation accuracy (NePS minimises 1 - accuracy; a diverged run counts at chance). Its cost
is the training examples the run took.

NePS stops on a total cost (``total_cost_to_spend``: no evaluation starts once the cost reached it), not on a
cost that a next evaluation could overrun. Given ``budget - E x n_train + 1``, it starts a new evaluation only
while spent <= budget - E x n_train, so even a full-length one stays within the budget: the rule the TPE peer
and hybridtune's own budget follow. Every finished evaluation is appended to ``history.jsonl`` (a rerun resumes
from NePS's state in the same folder). Writes ``{"history": [...], "neps_version": ..., "note": ...}`` to ``out``.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Any


def pipeline_space(space: dict[str, Any], prior: dict[str, Any], epochs: int) -> Any:
    """The NePS space of the wide space's bounds, the prior at ``prior`` ("medium" confidence, NePS's default
    level), the epochs as the fidelity."""
    import neps

    sizes = [int(b) for b in space["batch_sizes"]]
    attrs: dict[str, Any] = {
        "lr": neps.Float(lower=float(space["lr"][0]), upper=float(space["lr"][1]), log=True,
                         prior=min(max(float(prior["lr"]), space["lr"][0]), space["lr"][1]), prior_confidence="medium"),
        "weight_decay": neps.Float(lower=float(space["weight_decay"][0]), upper=float(space["weight_decay"][1]),
                                   log=True, prior=float(prior["weight_decay"]), prior_confidence="medium"),
        "epochs": neps.IntegerFidelity(lower=1, upper=int(epochs)),
    }
    if len(sizes) > 1:  # NePS refuses a categorical of one choice: a single batch size is passed as it is
        attrs["batch_size"] = neps.Categorical(choices=tuple(sizes), prior=sizes.index(int(prior["batch_size"])),
                                               prior_confidence="medium")
    if space.get("zero_weight_decay", True):
        # the same switch as the wide space's: 0 is an option (choice 0: on, 1: off)
        attrs["use_weight_decay"] = neps.Categorical(choices=(1, 0), prior=0 if prior["use_weight_decay"] else 1,
                                                     prior_confidence="medium")
    if space.get("momentum") is not None:
        lo, hi = (float(v) for v in space["momentum"])
        attrs["momentum"] = neps.Float(lower=lo, upper=hi, prior=min(max(float(prior["momentum"]), lo), hi),
                                       prior_confidence="medium")
    return type("WideSpace", (neps.PipelineSpace,), attrs)()


def main(path: str) -> int:
    import numpy as np
    import torch

    import neps

    import hybridtune as ht
    from hybridtune.space import SearchSpace

    args = json.loads(Path(path).read_text())
    task = ht.Task(**args["task"])
    space = SearchSpace.from_dict(args["space"])
    epochs, seed, budget = int(args["epochs"]), int(args["seed"]), int(args["budget_examples"])
    per_trial = epochs * len(task.data.train)
    chance = float(task.chance)
    root = Path(args["root"])
    log = root.parent / "history.jsonl"
    # NePS makes root: a folder that exists is one to resume
    root.parent.mkdir(parents=True, exist_ok=True)
    if root.exists() and not (root / "optimizer_info.yaml").exists():
        import shutil

        shutil.rmtree(root)  # a start that failed before NePS wrote its state: nothing to resume
        log.unlink(missing_ok=True)

    def evaluate(**params: Any) -> dict[str, Any]:
        e = int(params["epochs"])
        optuna_params = {"lr": params["lr"], "weight_decay": params["weight_decay"],
                         "batch_size": int(params.get("batch_size", space.batch_sizes[0]))}
        if "use_weight_decay" in params:
            optuna_params["use_weight_decay"] = bool(int(params["use_weight_decay"]))
        if "momentum" in params:
            optuna_params["momentum"] = params["momentum"]
        hp = space.hyperparams(optuna_params)
        r = ht.train(task, hp.train_config(optimizer=task.optimizer, epochs=e, seed=seed))
        diverged = r.diverged or r.val_acc is None or not math.isfinite(r.val_acc)
        val = chance if diverged else float(r.val_acc)
        record = {"hyperparams": hp.to_dict(), "schedule_epochs": e, "epochs_run": e,
                  "val_acc": None if diverged else val, "examples": int(r.cost.examples),
                  "outcome": "diverged" if diverged else "completed"}
        with log.open("a") as f:
            f.write(json.dumps(record) + "\n")
        return {"objective_to_minimize": 1.0 - val, "cost": float(r.cost.examples)}

    # NePS draws from the global generators (its seeding captures their state): seed them
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    note = None
    if budget < per_trial:
        note = f"the budget ({budget:,} examples) cannot pay for one full trial ({per_trial:,})"
    else:
        neps.run(evaluate_pipeline=evaluate, pipeline_space=pipeline_space(args["space"], args["prior"], epochs),
                 root_directory=str(root), optimizer="priorband", total_cost_to_spend=budget - per_trial + 1)
    history = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for i, h in enumerate(history):
        h["number"] = i
    Path(args["out"]).write_text(json.dumps({"history": history, "neps_version": neps.__version__
                                             if hasattr(neps, "__version__") else _version(), "note": note}))
    return 0


def _version() -> str:
    from importlib.metadata import version

    return version("neural-pipeline-search")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
