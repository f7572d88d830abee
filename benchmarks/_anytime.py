"""Issue 20, part 5: the search against its peers at several budgets (``hybrid_vs_grid.py --budgets ...``).

For each (task, seed):

1. **The grid runs once.** The study at the grid's budget (0.1 when it is among the budgets, else the first)
   runs with the grid baseline, as ``hybridtune study --baseline grid[,random] --budget 0.1`` would. Its
   budget record gives the grid's cost in training examples G (``grid_examples``, known before the grid runs)
   and its epochs E.
2. **Every other budget b** is its own study, without the grid, sized by ``budget_examples = round(b x G)``
   (what ``budget=b`` with the grid would give: ``study_budget`` rounds the same way) and ``epochs = E``. The
   grid's retrained test accuracy is the same at every budget: it is one study.
3. **The peers** (``_peers.py``) get each study's budget in examples B, run no probes, and train E epochs.
   Their choices are retrained on the study's test seeds (``StudyConfig.test_seed_list``): every number in a
   (task, seed) is paired.

Every study is kept in SQLite, the TPE studies in their own file, PriorBand's state in a folder, and each
peer's finished result (its choice retrained) in a JSON cache: an interrupted benchmark resumes.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import _peers
from _common import mean_se, now, stamp, write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("search", "random", "tpe_hyperband", "priorband", "search_pruner")
#: the methods issue 20's ranks are over (search_pruner, the search before the ladder, is ranked besides)
RANKED = ("search", "random", "tpe_hyperband", "priorband")
#: the smoke run's task and study settings: a tiny MLP on sklearn's digits, 2 epochs, 2 test seeds
SMOKE_TASK = {"model": "mlp", "data": "digits", "device": "cpu", "optimizer": "momentum"}
SMOKE_STUDY = {"epochs": 2, "test_seeds": 2, "probe_batch_size": 32}


def _build(task_name: str, seed: int, *, smoke: bool, tasks: dict[str, Any], **study: Any) -> \
        tuple[dict[str, Any], Any]:
    import hybridtune as ht

    if smoke:
        return dict(SMOKE_TASK), ht.StudyConfig(seed=seed, **{**SMOKE_STUDY, **study})
    spec_file, optimizer = tasks[task_name]
    return ht.load_spec(ROOT / "studies" / spec_file).build(optimizer=optimizer, seed=seed, **study)


def _test(outcome: dict[str, Any]) -> dict[str, Any] | None:
    return outcome["test_accuracy"]


def _grid_cost(task: Any, config: Any, storage: str) -> tuple[int, int]:
    """The grid's cost in training examples G and the epochs E, known before the grid runs (what
    ``study_budget`` computes): E from the config (the budget rule's when unset), G = cells x E x examples."""
    import hybridtune as ht
    from hybridtune.study import grid_examples

    resolved = ht.resolve_config(task, config, storage=storage)
    grid = ht.grid_space(task, quick=False, overrides=resolved.grid)
    epochs = int(resolved.epochs)
    return grid_examples(grid, n_train=len(task.data.train), epochs=epochs), epochs


def run_task_seed(task_name: str, seed: int, *, budgets: list[float], methods: list[str], storage: str,
                  tpe_storage: str, neps_root: Path, cache: Path, test_seeds: int | None, smoke: bool,
                  tasks: dict[str, Any], grid_from: dict[tuple[str, int], dict[str, Any]] | None = None) \
        -> list[dict[str, Any]]:
    """Every budget's rows of one (task, seed): the grid's study first, then the others (see the module's
    docstring). One row per (budget, method), plus the grid's row (budget ``None``).

    ``grid_from``: the grid's retrained test accuracy per (task, seed) from an earlier run of the same grid on
    the same test seeds (issue 13's ``hybrid_vs_grid.json``): the grid is not run again, and every budget is
    sized by ``budget_examples = round(b x G)`` with G computed as ``study_budget`` does.
    ``search_pruner`` among ``methods``: the search as it was before the ladder (``fidelity="pruner"``, every
    trial full length, ASHA), in a study of its own at the same budget."""
    import hybridtune as ht

    grid_budget = None if grid_from else (0.1 if 0.1 in budgets else budgets[0])
    order = ([grid_budget] if grid_budget is not None else []) + [b for b in budgets if b != grid_budget]
    extra = {"test_seeds": test_seeds} if test_seeds else {}
    rows: list[dict[str, Any]] = []
    grid_examples = epochs = None
    if grid_from:
        task_kw, config = _build(task_name, seed, smoke=smoke, tasks=tasks, baselines=("none",),
                                 name=f"peers-{task_name}-seed{seed}", **extra)
        grid_examples, epochs = _grid_cost(ht.Task(**task_kw), config, storage)
        g = grid_from[(task_name, seed)]
        rows.append({"task": task_name, "seed": seed, "budget": None, "method": "grid", "study": g.get("study"),
                     "test_accuracy": g["test_accuracy"], "examples": g["examples"], "cost_ratio_to_grid": 1.0,
                     "n_evaluations": g["n_trials"], "chosen": g["best_config"], "best_value": g["best_value"],
                     "from": g["from"]})
    for b in order:
        name = f"peers-{task_name}-seed{seed}-b{b:g}"
        baselines = (("grid",) if b == grid_budget else ()) + (("random",) if "random" in methods else ())
        size = {"budget": b} if b == grid_budget else {"budget_examples": int(round(b * grid_examples)),
                                                         "epochs": epochs}
        task_kw, config = _build(task_name, seed, smoke=smoke, tasks=tasks, baselines=baselines or ("none",),
                                 name=name, fidelity="ladder", **size, **extra)
        config = config.replace(dashboard=False, artefacts=False)
        task = ht.Task(**task_kw)
        t0 = time.perf_counter()
        d = ht.run_study(task, config, storage=storage).to_dict()
        wall = time.perf_counter() - t0
        studies = {"search": d, "random": d}
        if "search_pruner" in methods:  # the search before the ladder, at the same budget, no baselines
            _, pconfig = _build(task_name, seed, smoke=smoke, tasks=tasks, baselines=("none",),
                                name=f"{name}-pruner", fidelity="pruner", **size, **extra)
            if b == grid_budget:  # the grid's study is sized by its fraction; this one by the same examples
                pconfig = pconfig.replace(budget=None, budget_examples=int(d["budget"]["examples"]),
                                          epochs=int(d["config"]["epochs"]))
            pconfig = pconfig.replace(dashboard=False, artefacts=False)
            studies["search_pruner"] = ht.run_study(ht.Task(**task_kw), pconfig, storage=storage).to_dict()
        if b == grid_budget:
            grid_examples, epochs = int(d["budget"]["grid_examples"]), int(d["config"]["epochs"])
            g = d["grid"]
            rows.append({"task": task_name, "seed": seed, "budget": None, "method": "grid", "study": name,
                         "test_accuracy": _test(g), "examples": g["cost"]["examples"], "cost_ratio_to_grid": 1.0,
                         "n_evaluations": g["n_trials"], "chosen": g["best_config"], "best_value": g["best_value"]})
        budget_examples = int(d["budget"]["examples"])
        seeds = config.test_seed_list  # the seeds the study retrained its own choices on: paired
        for method in ("search", "search_pruner", "random"):
            if method not in methods:
                continue
            sd = studies[method]
            o = sd["random" if method == "random" else "search"]
            rows.append({"task": task_name, "seed": seed, "budget": b, "method": method, "study": o["study"],
                         "test_accuracy": _test(o), "examples": o["cost"]["examples"],
                         "cost_ratio_to_grid": o["cost"]["examples"] / grid_examples,
                         "budget_examples": budget_examples,
                         "n_evaluations": o["n_trials"], "n_pruned": o["n_pruned"], "chosen": o["best_config"],
                         "best_value": o["best_value"], "wall_seconds_study": wall,
                         "best_trial": o["best_trial"],
                         "best_source": next((p.get("source") for p in o["history"]
                                              if p["number"] == o["best_trial"]), None),
                         "ladder": sd.get("ladder") if method == "search" else None,
                         "probe_examples": (o.get("probe_cost") or {}).get("examples")})
        # the peers: the random baseline's wide space (the same call run_study makes for it)
        wide = ht.wide_space(task.optimizer, tuple(d["space"]["batch_sizes"]), weight_decay=config.weight_decay)
        for method in ("tpe_hyperband", "priorband"):
            if method in methods:
                rows.append(_peer_row(method, task, task_kw, wide, name=name, task_name=task_name, seed=seed, b=b,
                                      epochs=epochs, budget_examples=budget_examples, grid_examples=grid_examples,
                                      seeds=seeds, tpe_storage=tpe_storage, neps_root=neps_root, cache=cache))
    return rows


def grid_records(path: str | Path, task_names: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """The grid's rows from issue 13's ``hybrid_vs_grid.json`` (same grid, seeds and test seeds), by (task, seed)."""
    d = json.loads(Path(path).read_text())
    out = {}
    for r in d["runs"]:
        if r["task"] in task_names:
            g = r["grid"]
            out[(r["task"], int(r["seed"]))] = {
                "study": r["study"] + "-grid", "test_accuracy": g["test_accuracy"], "examples": g["examples"],
                "n_trials": g["n_trials"], "best_config": g["best_config"], "best_value": g["best_value"],
                "from": f"{path} ({d.get('started', '?')})"}
    return out


def _peer_row(method: str, task: Any, task_kw: dict[str, Any], wide: Any, *, name: str, task_name: str, seed: int,
              b: float, epochs: int, budget_examples: int, grid_examples: int, seeds: tuple[int, ...],
              tpe_storage: str, neps_root: Path, cache: Path) -> dict[str, Any]:
    path = cache / f"{name}-{method}.json"
    if path.exists():  # finished and retrained before: resume
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    if method == "tpe_hyperband":
        r = _peers.run_tpe_hyperband(task, wide, epochs=epochs, seed=seed, budget_examples=budget_examples,
                                     storage=tpe_storage, name=f"{name}-{method}")
    else:
        r = _peers.run_priorband(task_kw, wide, epochs=epochs, seed=seed, budget_examples=budget_examples,
                                 root=neps_root / name)
    test = _peers.retrain(task, r.chosen, epochs=epochs, seeds=seeds)
    row = {"task": task_name, "seed": seed, "budget": b, "method": method, "study": f"{name}-{method}",
           "test_accuracy": None if test is None else {k: v for k, v in test.items() if k != "runs"},
           "test_runs": None if test is None else test["runs"],
           "examples": r.examples, "cost_ratio_to_grid": r.examples / grid_examples, "budget_examples": budget_examples,
           "n_evaluations": r.n_evaluations, "chosen": r.chosen, "best_value": r.chosen_val,
           "chosen_epochs": r.chosen_epochs, "note": r.note, "history": r.history,
           "wall_seconds_peer": time.perf_counter() - t0}
    if r.note is None or r.chosen is not None:  # a peer that could not run is tried again next time
        cache.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(row, default=float))
    return row


# ----------------------------------------------------------------------------------------------
# Summary


def _acc(r: dict[str, Any]) -> float | None:
    t = r.get("test_accuracy")
    return None if not t else t["mean"]


def ranks(values: dict[str, float | None]) -> dict[str, float]:
    """Rank 1 = the highest; ties share their average rank; a method that ran and chose nothing ranks last.

    Example:
        >>> ranks({"a": 0.9, "b": 0.95, "c": 0.9, "d": None})
        {'a': 2.5, 'b': 1.0, 'c': 2.5, 'd': 4.0}
    """
    ordered = sorted(values, key=lambda m: -math.inf if values[m] is None else values[m], reverse=True)
    out: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and values[ordered[j + 1]] == values[ordered[i]]:
            j += 1
        for m in ordered[i:j + 1]:
            out[m] = (i + j) / 2 + 1
        i = j + 1
    return {m: out[m] for m in values}


def summarize(rows: list[dict[str, Any]], methods: list[str], budgets: list[float]) -> dict[str, Any]:
    """Per budget, each method's mean rank over the (task, seed) pairs that ran every method; per (task,
    budget), each method's retrained test accuracy (mean +- SE over seeds), the grid's, and the search's
    paired difference with the grid (the SE over seeds of the per-seed differences)."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    grid = {(r["task"], r["seed"]): _acc(r) for r in rows if r["method"] == "grid"}
    by = {(r["task"], r["seed"], r["budget"], r["method"]): r for r in rows if r["method"] != "grid"}
    pairs = sorted({(t, s) for t, s, _, _ in by})
    def mean_ranks(among: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for b in budgets:
            per: dict[str, list[float]] = {m: [] for m in among}
            n = 0
            for t, s in pairs:
                # a pair where a method is missing or could not run at all (no evaluation) is left out
                if not all((t, s, b, m) in by and by[(t, s, b, m)]["n_evaluations"] for m in among):
                    continue
                rk = ranks({m: _acc(by[(t, s, b, m)]) for m in among})
                for m in among:
                    per[m].append(rk[m])
                n += 1
            out[f"{b:g}"] = {"n_pairs": n, "mean_rank": {m: statistics.fmean(v) if v else None for m, v in per.items()}}
        return out

    rank_out = mean_ranks([m for m in methods if m in RANKED])
    rank_all = mean_ranks(list(methods)) if "search_pruner" in methods else None
    task_out: dict[str, Any] = {}
    for t in tasks:
        seeds = sorted({s for tt, s in pairs if tt == t})
        g = [grid[(t, s)] for s in seeds if grid.get((t, s)) is not None]
        per_budget: dict[str, Any] = {"grid": mean_se(g)}
        for b in budgets:
            cell: dict[str, Any] = {}
            for m in methods:
                cell[m] = mean_se([a for s in seeds if (r := by.get((t, s, b, m))) and (a := _acc(r)) is not None])
                cost = [r["cost_ratio_to_grid"] for s in seeds if (r := by.get((t, s, b, m)))]
                cell[m]["cost_ratio_to_grid_max"] = max(cost) if cost else None
            for m in ("search", "search_pruner"):
                if m not in methods:
                    continue
                diffs = [a - grid[(t, s)] for s in seeds if (r := by.get((t, s, b, m)))
                         and (a := _acc(r)) is not None and grid.get((t, s)) is not None]
                cell[f"{m}_minus_grid"] = mean_se(diffs)
            if "search_pruner" in methods:  # the ladder against the search before it, paired
                diffs = [a - p for s in seeds if (r := by.get((t, s, b, "search"))) and (q := by.get(
                    (t, s, b, "search_pruner"))) and (a := _acc(r)) is not None and (p := _acc(q)) is not None]
                cell["ladder_minus_pruner"] = mean_se(diffs)
            per_budget[f"{b:g}"] = cell
        task_out[t] = per_budget
    return {"mean_rank_by_budget": rank_out, "mean_rank_with_search_pruner": rank_all, "by_task": task_out}


# ----------------------------------------------------------------------------------------------
# The anytime figure (plotly: the benchmark's own figure, not the library's report)


def figure(summary: dict[str, Any], methods: list[str], budgets: list[float]) -> Any:
    """Retrained test accuracy against budget (fraction of the grid's cost), one line per method with its
    SE band over seeds, one panel per task; the grid (cost 1.0) as a dashed line."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    tasks = list(summary["by_task"])
    fig = make_subplots(rows=1, cols=max(1, len(tasks)), subplot_titles=tasks, shared_yaxes=False)
    colours = dict(zip(methods, qualitative.Plotly))
    for col, t in enumerate(tasks, start=1):
        cells = summary["by_task"][t]
        for m in methods:
            xs, ys, ses = [], [], []
            for b in budgets:
                v = cells[f"{b:g}"].get(m) or {"mean": None}
                if v["mean"] is not None:
                    xs.append(b)
                    ys.append(100 * v["mean"])
                    ses.append(100 * (v["se"] or 0.0))
            if not xs:
                continue
            c = colours[m]
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=[y + s for y, s in zip(ys, ses)] +
                                     [y - s for y, s in zip(ys, ses)][::-1], fill="toself", line={"width": 0},
                                     fillcolor=c, opacity=0.2, hoverinfo="skip", showlegend=False,
                                     legendgroup=m), row=1, col=col)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=m, line={"color": c}, legendgroup=m,
                                     showlegend=col == 1, error_y=None), row=1, col=col)
        g = cells["grid"]
        if g["mean"] is not None:
            fig.add_hline(y=100 * g["mean"], line={"dash": "dash", "color": "grey"}, row=1, col=col,
                          annotation_text="grid (cost 1.0)", annotation_position="bottom right")
        fig.update_xaxes(title_text="budget (fraction of the grid's training examples)", row=1, col=col)
    fig.update_yaxes(title_text="retrained test accuracy (%)", row=1, col=1)
    fig.update_layout(title="Anytime: retrained test accuracy vs budget (mean +- SE over seeds)",
                      height=450, width=max(500, 420 * len(tasks)))
    return fig


def main(args: Any, tasks: dict[str, Any]) -> int:
    """Run the benchmark of ``hybrid_vs_grid.py --budgets/--methods/--smoke`` and write its JSON and figure."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budgets, methods = args.budgets, args.methods
    started = now()
    rows: list[dict[str, Any]] = []
    out = Path(args.peers_out)
    grids = grid_records(args.grid_from, args.tasks) if args.grid_from else None
    for task in args.tasks:
        for seed in args.seeds:
            t0 = time.perf_counter()
            new = run_task_seed(task, seed, budgets=budgets, methods=methods, storage=args.storage,
                                tpe_storage=args.tpe_storage, neps_root=Path(args.neps_root), cache=Path(args.cache),
                                test_seeds=args.test_seeds, smoke=args.smoke, tasks=tasks,
                                grid_from=grids)
            rows.extend(new)
            for r in new:
                t = r["test_accuracy"]
                acc = "-" if not t else f"{100 * t['mean']:.2f}+-{100 * (t['se'] or 0):.2f}"
                print(f"{task} seed {seed} budget {r['budget']} {r['method']}: test {acc}, "
                      f"cost {r['cost_ratio_to_grid']:.3f} of the grid, {r['n_evaluations']} evaluations"
                      + (f" ({r['note']})" if r.get("note") else ""), flush=True)
            print(f"{task} seed {seed}: {time.perf_counter() - t0:.0f}s", flush=True)
            summary = summarize(rows, methods, budgets)
            write_json(out, {**stamp("hybrid_vs_grid peers (issue 20)", started), "budgets": budgets,
                             "methods": methods, "held_out_seeds": args.seeds, "smoke": args.smoke,
                             "priorband_prior": "benchmarks/_peers.py textbook_prior", "summary": summary,
                             "runs": rows})
            figure(summary, methods, budgets).write_html(out.with_suffix(".html"), include_plotlyjs=True)
    print(json.dumps(summarize(rows, methods, budgets)["mean_rank_by_budget"], indent=2))
    return 0
