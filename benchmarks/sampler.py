"""The prior-guided sampler on synthetic objectives with known optima (issue 24): does a good prior pay at once,
and does a wrong one cost little?

Two functions, minimized, each with float, log-float, int and categorical parameters:

- ``branin4`` (4-D): Branin's ``x1`` (a float in [-5, 10]) and ``x2`` (an int in 0..15), plus a learning rate
  (log float in [1e-5, 1], best at 3e-3) and an activation (categorical, best ``gelu``);
- ``hartmann8`` (8-D): Hartmann-6 with its 3rd coordinate a log float (``10**(3 (x3 - 1))`` in [1e-3, 1]) and its
  6th an int (``k / 20``, k in 0..20), plus two categorical terms (an optimizer, best ``adam``; a norm, best
  ``layer``).

The optimum of each (its int coordinate on the grid) is found numerically once. Four kinds of prior, on every
parameter: ``good`` (at the optimum, confidence 0.8; the best choice), ``medium`` (a factor of 3 off on a log
scale, 15% of the range on a linear one, confidence 0.5; the second-best choice), ``wrong10x`` (a factor of 10
off, a third of the range, confidence 0.8; a wrong choice) and ``adversarial`` (the far end of each range,
confidence 1; the worst choice).

Samplers: Optuna's ``RandomSampler`` and ``TPESampler`` (defaults, seeded), ``PriorSampler`` with its default
(keyed random) base and with a ``TPESampler`` base. OptunaHub's ``user_prior_cmaes`` is not run:
``optunahub.load_module`` fetches it from the network, which the benchmark machine has none of. None of these
samplers knows the budget, so each (function, prior, sampler, seed) is one 100-trial study, read at 10, 20, 50 and
100 trials. Reported: the median simple regret (best value so far minus the optimum) over the seeds, and its
interquartile range.

    python benchmarks/sampler.py                          # 20 seeds (0-19), 100 trials
    python benchmarks/sampler.py --seeds 2 --trials 10    # a smoke run
    python benchmarks/sampler.py --first-seed 100 --out /tmp/tune.json   # the seeds the constants were tuned on

Nothing was tuned on the reported seeds (0-19). The sampler's log-scale constants come from the synthetic bowls
of ``tests/study/test_prior_sampler.py`` (seeds 0-23); the ones this issue added for linear and categorical priors
(``LINEAR_CONFIDENT``, ``LINEAR_MAX``, ``LINEAR_INCUMBENT``, ``KEEP_INCUMBENT`` in ``hybridtune/samplers/_prior.py``)
were set before any run and checked, unchanged, on seeds 100-119 of this benchmark (every target met there too).

Writes ``benchmarks/results/sampler.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import now, stamp, write_json  # noqa: E402

from hybridtune.samplers import ParamPrior, PriorSampler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = (10, 20, 50, 100)
PRIOR_KINDS = ("good", "medium", "wrong10x", "adversarial")
SAMPLERS = ("random", "tpe", "prior", "prior+tpe")


@dataclass(frozen=True)
class Param:
    """One parameter: its kind (``float``, ``log``, ``int``, ``cat``), range or choices, the optimum's value and
    the choices from best to worst."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    choices: tuple[str, ...] = ()
    best: Any = None

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "cat":
            return trial.suggest_categorical(self.name, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")

    def prior(self, kind: str) -> ParamPrior:
        """This parameter's prior of ``kind`` (see the module docstring)."""
        if self.kind == "cat":
            rank = {"good": 0, "medium": 1, "wrong10x": len(self.choices) - 2, "adversarial": -1}[kind]
            return ParamPrior(self.choices[rank], {"good": 0.8, "medium": 0.5, "wrong10x": 0.8,
                                                    "adversarial": 1.0}[kind])
        confidence = {"good": 0.8, "medium": 0.5, "wrong10x": 0.8, "adversarial": 1.0}[kind]
        if self.kind == "log":
            far = self.low if math.log(self.best / self.low) > math.log(self.high / self.best) else self.high
            factor = {"good": 1.0, "medium": 3.0, "wrong10x": 10.0}.get(kind)
            if factor is None:
                return ParamPrior(far, confidence)
            up = self.best * factor <= self.high
            return ParamPrior(self.best * factor if up else self.best / factor, confidence)
        far = self.low if self.best - self.low > self.high - self.best else self.high
        share = {"good": 0.0, "medium": 0.15, "wrong10x": 1 / 3}.get(kind)
        if share is None:
            return ParamPrior(far, confidence)
        centre = self.best + math.copysign(share * (self.high - self.low), far - self.best)
        return ParamPrior(round(centre) if self.kind == "int" else centre, confidence)


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    value: Callable[[dict[str, Any]], float]
    optimum: float

    def objective(self, trial: optuna.Trial) -> float:
        return self.value({p.name: p.suggest(trial) for p in self.params})

    def priors(self, kind: str) -> dict[str, ParamPrior]:
        return {p.name: p.prior(kind) for p in self.params}


# ----------------------------------------------------------------------------------------------
# branin4


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ACTIVATIONS = ("gelu", "silu", "relu", "tanh")  # best first
ACTIVATION_COST = {"gelu": 0.0, "silu": 2.0, "relu": 4.0, "tanh": 8.0}


def _branin4_value(p: dict[str, Any]) -> float:
    return (branin(p["x1"], p["x2"]) + 5 * math.log10(p["lr"] / 3e-3) ** 2 + ACTIVATION_COST[p["act"]])


def _branin_optimum() -> tuple[float, int, float]:
    """The best Branin value with ``x2`` an int: a fine grid over ``x1`` for each ``x2``, then refined."""
    from scipy.optimize import minimize_scalar

    best = (math.inf, 0.0, 0)
    for x2 in range(16):
        grid = np.linspace(-5, 10, 3001)
        x1 = float(grid[np.argmin([branin(x, x2) for x in grid])])
        r = minimize_scalar(lambda x: branin(x, x2), bounds=(max(-5, x1 - 0.01), min(10, x1 + 0.01)),
                            method="bounded", options={"xatol": 1e-10})
        if r.fun < best[0]:
            best = (float(r.fun), float(r.x), x2)
    return best[1], best[2], best[0]


# ----------------------------------------------------------------------------------------------
# hartmann8


_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
               [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
OPTIMIZERS = ("adam", "sgd", "rmsprop")
OPTIMIZER_COST = {"adam": 0.0, "sgd": 0.4, "rmsprop": 0.8}
NORMS = ("layer", "batch", "none")
NORM_COST = {"layer": 0.0, "batch": 0.2, "none": 0.6}


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (x - _P) ** 2, axis=1))))


def _hartmann_x(p: dict[str, Any]) -> np.ndarray:
    return np.array([p["h1"], p["h2"], 1 + math.log10(p["h3"]) / 3, p["h4"], p["h5"], p["h6"] / 20])


def _hartmann8_value(p: dict[str, Any]) -> float:
    return hartmann6(_hartmann_x(p)) + OPTIMIZER_COST[p["opt"]] + NORM_COST[p["norm"]]


def _hartmann_optimum() -> tuple[np.ndarray, int, float]:
    """The best Hartmann-6 value with its 6th coordinate on the grid ``k / 20``: refined from the known optimum."""
    from scipy.optimize import minimize

    best = (math.inf, np.zeros(5), 0)
    x_star = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652])
    for k in range(11, 16):
        r = minimize(lambda z: hartmann6(np.append(z, k / 20)), x_star, bounds=[(0, 1)] * 5, method="L-BFGS-B",
                     options={"ftol": 1e-14, "gtol": 1e-10})
        if r.fun < best[0]:
            best = (float(r.fun), r.x, k)
    return best[1], best[2], best[0]


def functions() -> dict[str, Function]:
    x1, x2, f_b = _branin_optimum()
    branin4 = Function("branin4", (
        Param("x1", "float", -5, 10, best=x1), Param("x2", "int", 0, 15, best=x2),
        Param("lr", "log", 1e-5, 1.0, best=3e-3), Param("act", "cat", choices=ACTIVATIONS, best="gelu")),
        _branin4_value, f_b)
    h, k, f_h = _hartmann_optimum()
    hartmann8 = Function("hartmann8", (
        Param("h1", "float", best=float(h[0])), Param("h2", "float", best=float(h[1])),
        Param("h3", "log", 1e-3, 1.0, best=float(10 ** (3 * (h[2] - 1)))), Param("h4", "float", best=float(h[3])),
        Param("h5", "float", best=float(h[4])), Param("h6", "int", 0, 20, best=k),
        Param("opt", "cat", choices=OPTIMIZERS, best="adam"), Param("norm", "cat", choices=NORMS, best="layer")),
        _hartmann8_value, f_h)
    return {f.name: f for f in (branin4, hartmann8)}


# ----------------------------------------------------------------------------------------------
# Running


def make_sampler(name: str, priors: dict[str, ParamPrior], seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "prior":
        return PriorSampler(priors, seed=seed)
    return PriorSampler(priors, base_sampler=optuna.samplers.TPESampler(seed=seed), seed=seed)


def regrets(fn: Function, sampler: optuna.samplers.BaseSampler, trials: int) -> list[float]:
    """The simple regret after each trial of one study."""
    study = optuna.create_study(sampler=sampler)
    study.optimize(fn.objective, n_trials=trials)
    best = np.minimum.accumulate([t.value for t in study.trials])
    return [max(0.0, float(v) - fn.optimum) for v in best]


def summarise(curves: list[list[float]], budgets: tuple[int, ...]) -> dict[str, dict[str, float]]:
    out = {}
    for b in budgets:
        at = np.array([c[b - 1] for c in curves])
        q1, med, q3 = np.percentile(at, [25, 50, 75])
        out[str(b)] = {"median": float(med), "q1": float(q1), "q3": float(q3)}
    return out


def targets(summary: dict[str, Any], budgets: tuple[int, ...]) -> list[dict[str, Any]]:
    """The issue's three targets, each with its numbers and whether it was met."""
    rows = []
    for fname, by_prior in summary.items():
        for sampler in ("prior", "prior+tpe"):
            for b in (10, 20):
                if b in budgets:
                    mine, tpe = by_prior["good"][sampler][str(b)]["median"], by_prior["good"]["tpe"][str(b)]["median"]
                    rows.append({"target": "good priors beat TPE", "function": fname, "sampler": sampler,
                                 "trials": b, "regret": mine, "against": tpe, "met": mine < tpe})
            if 50 in budgets:
                mine, tpe = (by_prior["wrong10x"][sampler]["50"]["median"], by_prior["wrong10x"]["tpe"]["50"]["median"])
                rows.append({"target": "priors wrong by 10x within 2x of TPE", "function": fname, "sampler": sampler,
                             "trials": 50, "regret": mine, "against": tpe, "met": mine <= 2 * tpe})
            if 100 in budgets:
                mine = by_prior["adversarial"][sampler]["100"]["median"]
                rnd = by_prior["adversarial"]["random"]["100"]["median"]
                rows.append({"target": "adversarial priors no worse than random", "function": fname,
                             "sampler": sampler, "trials": 100, "regret": mine, "against": rnd, "met": mine <= rnd})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    ap.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0; 100 for tuning)")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--functions", nargs="+", default=None)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sampler.json"))
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started, t0 = now(), time.process_time()
    fns = functions()
    names = args.functions or list(fns)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    budgets = tuple(b for b in BUDGETS if b <= args.trials)
    summary: dict[str, Any] = {}
    for fname in names:
        fn = fns[fname]
        summary[fname] = {}
        # random search and TPE know nothing of the priors: one set of runs serves every kind of prior
        plain = {s: summarise([regrets(fn, make_sampler(s, {}, seed), args.trials) for seed in seeds], budgets)
                 for s in ("random", "tpe")}
        for kind in PRIOR_KINDS:
            row = dict(plain)
            for s in ("prior", "prior+tpe"):
                row[s] = summarise([regrets(fn, make_sampler(s, fn.priors(kind), seed), args.trials)
                                    for seed in seeds], budgets)
            summary[fname][kind] = row
            print(f"{fname:10s} {kind:12s} " + "  ".join(
                f"{s}@{b}={row[s][str(b)]['median']:.3g}" for s in SAMPLERS for b in budgets[:1] + budgets[-1:]),
                flush=True)
    result = {
        **stamp("sampler (issue 24)", started),
        "cpu_seconds": round(time.process_time() - t0, 1),
        "optuna": optuna.__version__,
        "seeds": seeds,
        "trials": args.trials,
        "budgets": list(budgets),
        "reading": "one study of the full length per (function, prior, sampler, seed), read at each budget: none of "
                   "the samplers knows the budget, so a shorter study would have drawn the same first trials",
        "skipped": {"user_prior_cmaes": "OptunaHub loads it from the network (optunahub.load_module), which the "
                                        "benchmark machine cannot reach"},
        "functions": {f: {"optimum": fns[f].optimum,
                          "params": {p.name: {"kind": p.kind, "range": [p.low, p.high] if p.kind != "cat" else None,
                                              "choices": list(p.choices) or None, "best": p.best}
                                     for p in fns[f].params},
                          "priors": {k: {n: {"centre": pr.centre, "confidence": pr.confidence, "scale": pr.scale}
                                         for n, pr in fns[f].priors(k).items()} for k in PRIOR_KINDS}}
                      for f in names},
        "regret": summary,
        "targets": targets(summary, budgets),
    }
    write_json(args.out, result)
    met = sum(r["met"] for r in result["targets"])
    print(f"targets met: {met} of {len(result['targets'])}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
