"""``hybridtune study``, ``hybridtune report`` and ``hybridtune dashboard``: thin layers over
:func:`hybridtune.run_study`, :func:`hybridtune.load_result` / :func:`hybridtune.write_report` and
``optuna_dashboard.run_server``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._main import (ProgressBars, add_output_options, add_task_options, console, fmt, nonneg_float, positive_float,
                   positive_int, quiet_optuna, write_json)
from .._core._errors import ConfigError

#: Task options a spec may set; the CLI's flags win when given.
_TASK_DEFAULTS = {"model": "resnet", "data": "mnist5k", "optimizer": "momentum", "device": "auto"}


def add_commands(sub: Any) -> None:
    _add_study(sub)
    _add_worker(sub)
    _add_report(sub)
    _add_dashboard(sub)


def _baselines(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in ("grid", "random", "none")]
    if not parts or bad:
        raise argparse.ArgumentTypeError(f"must be grid, random, none or a comma list such as grid,random, "
                                         f"but got {text!r}")
    return tuple(p for p in parts if p != "none")


def _storage_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", metavar="URL",
                   help="Optuna storage URL (default: sqlite:///runs/hybridtune.db), e.g. "
                        "postgresql://user:password@host/db")


def _heartbeat_options(p: Any) -> None:
    p.add_argument("--heartbeat-interval", type=positive_int, metavar="SECONDS",
                   help="each running trial's process records a heartbeat this often (default: 60)")
    p.add_argument("--grace-period", type=positive_int, metavar="SECONDS",
                   help="a trial without a heartbeat for this long belonged to a killed process: it is failed "
                        "and run again (default: 180)")


def _open(args: argparse.Namespace, *, must_exist: bool = False) -> tuple[str, Any]:
    from .._core._storage import open_storage, resolve_storage_url

    url = resolve_storage_url(args.storage)
    storage = open_storage(url, must_exist=must_exist, heartbeat_interval=getattr(args, "heartbeat_interval", None),
                           grace_period=getattr(args, "grace_period", None))
    return url, storage


# ----------------------------------------------------------------------------------------------
# hybridtune study


def _add_study(sub: Any) -> None:
    p = sub.add_parser(
        "study", help="the main job: probes -> priors -> search -> grid baseline -> comparison and report",
        description="Run (or resume) a hybrid study: cheap probes give range-test priors, an Optuna search "
                    "runs inside them with pruning, a grid search runs as the baseline, and both are compared "
                    "cost-fairly. Re-running the same command resumes.")
    add_task_options(p)
    # None = "not given": a spec's value, then the built-in default, is used (see _merge)
    p.set_defaults(model=None, dataset=None, optimizer=None, device=None, seed=None)
    g = p.add_argument_group("study")
    g.add_argument("--spec", metavar="TOML", help="a study spec, e.g. studies/default.toml; flags override it")
    g.add_argument("--name", help="the study's name (default: <model>-<dataset>, -quick with --quick)")
    _storage_option(g)
    _heartbeat_options(g)
    g.add_argument("--threads", type=positive_int, metavar="N",
                   help="CPU threads for torch in this process (default: torch's own choice)")
    g.add_argument("--trials", type=positive_int, help="search trials, pruned ones included (default: 20)")
    g.add_argument("--epochs", type=positive_int, help="1cycle epochs per trial and grid cell (default: 4)")
    g.add_argument("--sampler", choices=("random", "tpe"), help="the search's sampler (default: random)")
    g.add_argument("--pruner", choices=("asha", "median", "hyperband", "none"),
                   help="the search's pruner (default: asha = SuccessiveHalvingPruner)")
    g.add_argument("--baseline", type=_baselines, metavar="grid|random|none",
                   help="baselines, comma separated (default: grid); random = the same search over wide "
                        "bounds without priors")
    g.add_argument("--tolerance", type=nonneg_float, metavar="POINTS",
                   help="accuracy points within which a study matches the grid's best (default: 0.5)")
    g.add_argument("--probe-batch-size", type=positive_int, metavar="N",
                   help="the probes' batch size, the LR rule's reference (default: 128)")
    g.add_argument("--quick", action="store_true", default=None,
                   help="smoke size (2 epochs, 6 trials, a 4-cell grid): every phase in about 3 minutes")
    g.add_argument("--no-test", dest="test", action="store_false", default=None,
                   help="skip retraining the best configurations for their test accuracy")
    g.add_argument("--out", metavar="PATH", help="the HTML report (default: runs/<name>/report.html)")
    g.add_argument("--proxy-width", type=positive_float, metavar="W",
                   help="seed 000's scaled-down tuning: run the probes and the search on the model at W x its "
                        "width (e.g. 0.25), then verify the best configuration on the full-size model and report "
                        "what the transfer saved and lost (study <name>-proxy<W>)")
    add_output_options(p)
    p.set_defaults(handler=_run_study)


def _merge(args: argparse.Namespace) -> tuple[dict[str, Any], Any, bool]:
    """Built-in defaults <- the spec <- the flags given. Returns (task kwargs, StudyConfig, quick)."""
    from ._main import parse_model_args
    from ..study._spec import load_spec
    from ..study._study import StudyConfig

    task_kw: dict[str, Any] = dict(_TASK_DEFAULTS)
    study_kw: dict[str, Any] = {}
    quick = False
    if args.spec:
        spec = load_spec(args.spec)
        task_kw.update(spec.task)
        study_kw.update(spec.study)
        quick = spec.quick
    for key, field in (("model", "model"), ("dataset", "data"), ("optimizer", "optimizer"), ("device", "device")):
        if getattr(args, key) is not None:
            task_kw[field] = getattr(args, key)
    if args.model_arg:
        task_kw["model_kwargs"] = {**task_kw.get("model_kwargs", {}), **parse_model_args(args.model_arg)}
    flags = {"name": args.name, "trials": args.trials, "epochs": args.epochs, "sampler": args.sampler,
             "pruner": args.pruner, "baselines": args.baseline, "tolerance": args.tolerance, "seed": args.seed,
             "probe_batch_size": args.probe_batch_size, "test": args.test}
    study_kw.update({k: v for k, v in flags.items() if v is not None})
    if args.quick:
        quick = True
    config = StudyConfig.quick(**study_kw) if quick else StudyConfig(**study_kw)
    return task_kw, config, quick


def _print_result(con: Any, result: Any) -> None:
    from rich.table import Table

    from ..report._report import summary_rows

    from rich import box

    rows = [{k: v for k, v in r.items() if k != "epochs"} for r in summary_rows(result)]
    table = Table(title=f"study {result.name}: cost-fair comparison", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 0), pad_edge=False)
    for col in (rows[0] if rows else {}):
        table.add_column(col, justify="left" if col == "study" else "right", no_wrap=True)
    for r in rows:
        table.add_row(*r.values())
    con.print(table)
    c = result.comparison
    con.print("trials: finished (completed/pruned/diverged); test: the best configuration retrained once, "
              "scored on the test split")
    if c.grid_best_value is not None:
        con.print(f"match at: training examples (probes included) when a study first came within {c.tolerance:g} "
                  f"points of the grid's best {100 * c.grid_best_value:.2f}% (trials it took); ratio: those "
                  f"examples / the grid's total")
    p = result.priors
    if p is not None:
        mom = "" if p.momentum is None else f", momentum {p.momentum:g}"
        con.print(f"priors: LR band [{p.lr_min:.3g}, {p.lr_max:.3g}] at batch size {p.batch_size}{mom}; "
                  f"probes cost {p.cost.examples:,} examples, {p.cost.seconds:.1f}s")
    for role, o in result.outcomes.items():
        if o.best_hyperparams:
            hp = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                           for k, v in o.best_hyperparams.items() if v is not None)
            con.print(f"best {role} (trial {o.best_trial}): {hp}")


def _run_study(args: argparse.Namespace) -> int:
    import time

    from ..report._report import write_report
    from .._core._storage import redact
    from ..study._study import default_name, run_study
    from ..task._task import Task

    quiet_optuna(args)
    con = console(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    task_kw, config, quick = _merge(args)
    url, storage = _open(args)  # a bad URL or an unreachable database fails here, before any work
    task = Task(**task_kw)
    name = config.name or default_name(task, config)
    config = config.replace(name=name)
    out = Path(args.out) if args.out else Path("runs") / name / "report.html"
    con.print(f"[bold]study[/] {name}: {task.model_name} on {task.data.name} "
              f"({len(task.data.train)} train / {len(task.data.val)} val / {len(task.data.test)} test), "
              f"{task.optimizer}, device {task.device}; {config.trials} trials x {config.epochs} epochs, "
              f"{config.sampler} + {config.pruner}, baselines {', '.join(config.baselines) or 'none'}"
              f"{' (quick)' if quick else ''}")
    con.print(f"storage {redact(url)}; workers join with: hybridtune worker --name {name}"
              + (f" --storage '{redact(url)}'" if args.storage else ""), soft_wrap=True)
    t0 = time.perf_counter()
    if args.proxy_width is not None:
        return _run_proxy(args, con, task, config, storage, out, t0)
    with ProgressBars(con) as bars:
        result = run_study(task, config, storage=storage, progress=bars)
    report = write_report(result, out, storage=storage)
    _print_result(con, result)
    con.print(f"report {report}  ({time.perf_counter() - t0:.0f}s)")
    con.print("dashboard: hybridtune dashboard" + (f" --storage '{redact(url)}'" if args.storage else ""))
    if args.json:
        write_json(args.json, {"command": "study", **result.to_dict(), "report": str(report)})
        con.print(f"wrote {args.json}")
    return 0


def _run_proxy(args: argparse.Namespace, con: Any, task: Any, config: Any, storage: Any, out: Path,
               t0: float) -> int:
    import time

    from ..pipeline._proxy import proxy_study
    from ..report._report import write_report

    with ProgressBars(con) as bars:
        r = proxy_study(task, config, proxy_width=args.proxy_width, storage=storage, progress=bars)
    report = write_report(r.proxy, out.with_name(f"report-proxy{args.proxy_width:g}.html"), storage=storage)
    _print_result(con, r.proxy)
    lost = "not measured (no full-size study of this name in the storage)" if r.lost_points is None else \
        f"{r.lost_points:+.2f} points against the full-size study's best {100 * r.full_study_best:.2f}%"
    con.print(f"[bold]proxy[/] width {r.proxy_width:g} (full {r.full_width:g}): best config {r.best_config}")
    con.print(f"  at full size: val {fmt(r.full_val_acc)}, test {fmt(r.full_test_acc)} ({r.status}); "
              f"at proxy size it scored {fmt(r.proxy_val_acc)}")
    con.print(f"  saved: the search took {r.search_seconds:.0f}s at proxy size, about "
              f"{r.search_seconds_at_full_size:.0f}s at full size ({r.full_seconds_per_example / max(r.proxy_seconds_per_example, 1e-12):.1f}x "
              f"per example); {r.saved_seconds:.0f}s saved after {r.verify_seconds:.0f}s of verification")
    con.print(f"  lost: {lost}")
    con.print(f"report {report}  ({time.perf_counter() - t0:.0f}s)")
    if args.json:
        write_json(args.json, {"command": "study", "proxy": r.to_dict(), "report": str(report)})
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# hybridtune worker


def _add_worker(sub: Any) -> None:
    p = sub.add_parser(
        "worker", help="join a running study from another process or machine (PostgreSQL storage)",
        description="Join a study that `hybridtune study` coordinates on a shared database (PostgreSQL): take "
                    "trials from its search, grid and random queues until they are empty, on one device. The "
                    "worker reads the priors from the study and never probes. Run one per GPU or machine.")
    p.add_argument("--name", required=True, help="the study's name (as `hybridtune study` printed it)")
    p.add_argument("--storage", required=True, metavar="URL",
                   help="the study's database, shared by every process: postgresql+psycopg://user:password@host/db")
    p.add_argument("--device", default="auto", help="this worker's one device: cuda:N, cpu, mps, auto (default)")
    p.add_argument("--trials", type=positive_int, metavar="K", help="run at most K trials, then stop")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="CPU threads for torch in this worker (default: torch's own choice)")
    p.add_argument("--wait", type=nonneg_float, default=600.0, metavar="SECONDS",
                   help="how long to wait for the coordinator to prepare the study (default: 600)")
    _heartbeat_options(p)
    add_output_options(p)
    p.set_defaults(handler=_run_worker)


def _run_worker(args: argparse.Namespace) -> int:
    import time

    import torch

    from .._core._storage import redact
    from ..study._study import run_worker

    quiet_optuna(args)
    con = console(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    url, storage = _open(args)
    con.print(f"[bold]worker[/] joining {args.name!r} on {redact(url)}, device {args.device}"
              + (f", at most {args.trials} trials" if args.trials else ""), soft_wrap=True)
    t0 = time.perf_counter()
    with ProgressBars(con) as bars:
        r = run_worker(args.name, storage=storage, device=args.device, trials=args.trials,
                       wait_seconds=args.wait, progress=bars)
    done = ", ".join(f"{n} {role}" for role, n in r.trials.items()) or "none (the queues were empty)"
    con.print(f"worker {r.worker} on {r.device}: ran {done} in {time.perf_counter() - t0:.0f}s")
    if args.json:
        write_json(args.json, {"command": "worker", **r.to_dict(), "seconds": time.perf_counter() - t0})
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# hybridtune report


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="rebuild a study's report from storage (no training)",
                       description="Rebuild the comparison, the HTML report and the dashboard note and figures "
                                   "of a study from its storage alone.")
    p.add_argument("--name", help="the study (default: the only one in the storage)")
    _storage_option(p)
    p.add_argument("--tolerance", type=nonneg_float, metavar="POINTS",
                   help="accuracy points for matching the grid (default: the study's own)")
    p.add_argument("--out", metavar="PATH", help="the HTML report (default: runs/<name>/report.html)")
    add_output_options(p)
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from ..report._report import save_to_dashboard, write_report
    from .._core._storage import open_storage, study_names
    from ..study._study import load_result

    quiet_optuna(args)
    con = console(args)
    storage = open_storage(args.storage, must_exist=True)
    name = args.name
    if name is None:
        searches = sorted(n for n in study_names(storage)
                          if not n.endswith(("-grid", "-random")))
        if len(searches) != 1:
            raise ConfigError(f"--name must be given when the storage holds {len(searches)} studies, but got none "
                              f"(studies: {', '.join(searches) or 'none'}).")
        name = searches[0]
    result = load_result(name, storage=storage, tolerance=args.tolerance)
    save_to_dashboard(result, storage=storage)
    out = Path(args.out) if args.out else Path("runs") / name / "report.html"
    report = write_report(result, out, storage=storage)
    _print_result(con, result)
    con.print(f"report {report}")
    if args.json:
        write_json(args.json, {"command": "report", **result.to_dict(), "report": str(report)})
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# hybridtune dashboard


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number in 1..65535, but got {text!r}") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 1..65535, but got {v}")
    return v


def _add_dashboard(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="serve optuna-dashboard on the storage, on 127.0.0.1",
                       description="Start optuna-dashboard on the study storage, bound to 127.0.0.1 only. "
                                   "Each study shows its note (the comparison) and figures under Custom plots.")
    _storage_option(p)
    p.add_argument("--port", type=_port, default=8080, help="(default: 8080)")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=_run_dashboard)


def _run_dashboard(args: argparse.Namespace) -> int:
    import socket

    from optuna_dashboard import run_server

    from .._core._storage import open_storage, redact, resolve_storage_url, study_names

    quiet_optuna(args)
    con = console(args)
    url = resolve_storage_url(args.storage)
    storage = open_storage(url, must_exist=True)
    host = "127.0.0.1"  # never exposed beyond this machine
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, args.port))
        except OSError:
            raise ConfigError(f"--port must be free on {host}, but got {args.port}, which is in use.") from None
    names = study_names(storage)
    con.print(f"optuna-dashboard on {redact(url)} ({len(names)} studies) at http://{host}:{args.port}/ "
              f"(Ctrl-C stops it)", soft_wrap=True)
    try:
        run_server(storage, host=host, port=args.port)
    except KeyboardInterrupt:
        con.print("dashboard stopped")
    return 0
