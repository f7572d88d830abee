"""The default study at 20 trials (issue 20): is the chosen configuration a sampled trial or one of the range
test's suggestions? And what did the search cost?

For each seed, the search of ``hybridtune study --model resnet`` (ResNet-8 on mnist5k, 20 trials, the defaults;
no baselines and no test retrains: the choice is all this measures) runs twice, on the multi-fidelity ladder
(``--fidelity ladder``, the default) and as before it (``--fidelity pruner``, ASHA over full-length trials).
The chosen trial's origin is followed down the ladder's promotions to the first rung: a range-test
suggestion, one of the probes' momentum runs, or a draw of the sampler.

    python benchmarks/default_choice.py            # seeds 0, 1, 2 -> benchmarks/results/default_choice.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]


def origin(trials: dict[int, Any], t: Any) -> str:
    """Where a trial's values came from, down the ladder's promotions."""
    from hybridtune.study import keys

    while keys.PROMOTED_FROM in t.user_attrs:
        t = trials[int(t.user_attrs[keys.PROMOTED_FROM])]
    return str(t.user_attrs.get(keys.SOURCE) or "sampler")


def run(seed: int, fidelity: str, storage: str) -> dict[str, Any]:
    import hybridtune as ht

    task = ht.Task(model="resnet", data="mnist5k", device="cpu")
    t0 = time.perf_counter()
    r = ht.tune(task, name=f"default-choice-{fidelity}-seed{seed}", seed=seed, fidelity=fidelity, test=False,
                dashboard=False, storage=storage)
    wall = time.perf_counter() - t0
    study = r.studies["search"]
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    best = trials[r.result.search.best_trial]
    return {"seed": seed, "fidelity": fidelity, "best_trial": best.number, "best_value": best.value,
            "origin": origin(trials, best), "best_config": r.best_config,
            "search_examples": r.result.search.cost.examples, "probe_examples": r.priors.cost.examples,
            "n_trials": r.result.search.n_trials, "wall_seconds": wall,
            "ladder": [dict(row) for row in r.result.ladder]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--fidelities", default="ladder,pruner")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "default_choice.json"))
    p.add_argument("--storage", default=f"sqlite:///{ROOT / 'benchmarks' / 'results' / 'default_choice.db'}")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    started = now()
    rows: list[dict[str, Any]] = []
    # runs already written (another call's seeds) are kept beside this call's
    out = Path(args.out)
    prior = [r for r in (json.loads(out.read_text())["runs"] if out.is_file() else [])
             if str(r["seed"]) not in args.seeds.split(",")]
    for seed in (int(s) for s in args.seeds.split(",")):
        for fidelity in args.fidelities.split(","):
            rows.append(run(seed, fidelity, args.storage))
            print(rows[-1]["seed"], fidelity, rows[-1]["origin"], f"{rows[-1]['best_value']:.4f}",
                  rows[-1]["search_examples"], f"{rows[-1]['wall_seconds']:.0f}s", flush=True)
            write_json(args.out, {**stamp("default_choice", started), "runs": prior + rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
