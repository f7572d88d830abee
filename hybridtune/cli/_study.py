"""``hybridtune study``, ``worker``, ``report``, ``export`` and ``dashboard``: thin layers over
:func:`hybridtune.run_study` (with :meth:`hybridtune.StudySpec.build` for the spec and flags),
:func:`hybridtune.run_worker`, :func:`hybridtune.rebuild_report`, :func:`hybridtune.export_study` and
``optuna_dashboard.run_server``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._core import ConfigError, open_storage, redact
from ..study import (BUDGET_EPOCHS, BUDGET_STEPS, FIDELITIES, PRUNER_REGISTRY, SAMPLER_REGISTRY, SPACES, StudyConfig, StudySpec,
                     load_spec)
from ._common import (EXIT_FOUND_NOTHING, BaseCommand, ProgressBars, add_output_options, add_task_options,
                      choices_help, console, fmt, library_default, nonneg_float, num, parse_model_args,
                      positive_float, positive_int, quiet_optuna, write_json)


def _baselines(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in ("grid", "random", "none")]
    if not parts or bad:
        raise argparse.ArgumentTypeError(f"must be grid, random, none or a comma list such as grid,random, "
                                         f"but got {text!r}")
    return tuple(p for p in parts if p != "none")


def _storage_option(p: Any) -> None:
    from .._core import DEFAULT_STORAGE

    p.add_argument("--storage", metavar="URL",
                   help=f"Optuna storage URL (default: {DEFAULT_STORAGE}), e.g. postgresql://user:password@host/db")


def _heartbeat_options(p: Any) -> None:
    from .._core import GRACE_SECONDS, HEARTBEAT_SECONDS

    p.add_argument("--heartbeat-interval", type=positive_int, metavar="SECONDS",
                   help=f"each running trial's process records a heartbeat this often (default: {HEARTBEAT_SECONDS})")
    p.add_argument("--grace-period", type=positive_int, metavar="SECONDS",
                   help="a trial without a heartbeat for this long belonged to a killed process: it is failed "
                        f"and run again (default: {GRACE_SECONDS})")


def _storage_retry_option(p: Any) -> None:
    from .._core import STORAGE_RETRY_SECONDS

    p.add_argument("--storage-retry", type=nonneg_float, metavar="SECONDS",
                   help="a database that is not up yet or goes away (a server restart, a network drop) is "
                        f"waited for this long before the command gives up with exit code 4 (default: "
                        f"{STORAGE_RETRY_SECONDS}; 0: at once)")


def _open(args: argparse.Namespace) -> tuple[str, Any]:
    """The storage's URL (for printing, password hidden by :func:`redact`) and the storage, opened once."""
    from .._core import resolve_storage_url

    url = resolve_storage_url(args.storage)
    storage = open_storage(url, heartbeat_interval=getattr(args, "heartbeat_interval", None),
                           grace_period=getattr(args, "grace_period", None),
                           retry_seconds=getattr(args, "storage_retry", None))
    return url, storage


def _report_path(out: str | None, name: str) -> Path:
    return Path(out) if out else Path("runs") / name / "report.html"


# ----------------------------------------------------------------------------------------------
# hybridtune study


class StudyCommand(BaseCommand):
    help = "the main job: probes -> priors -> search -> grid baseline -> comparison and report"
    description = ("Run (or resume) a hybrid study: cheap probes give range-test priors, an Optuna search runs "
                   "inside them with pruning, a grid search runs as the baseline, and both are compared "
                   "cost-fairly. Re-running the same command resumes.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        d, q = StudyConfig(), StudyConfig.quick()
        add_task_options(p)
        # None = "not given": the spec's value, then the library's default, is used (StudySpec.build)
        p.set_defaults(model=None, dataset=None, optimizer=None, device=None, seed=None, kind=None, direction=None)
        g = p.add_argument_group("study")
        g.add_argument("--spec", metavar="TOML", help="a study spec, e.g. studies/default.toml; flags override it")
        g.add_argument("--name", help="the study's name (default: <model>-<dataset>, -quick with --quick)")
        _storage_option(g)
        _storage_retry_option(g)
        _heartbeat_options(g)
        g.add_argument("--threads", type=positive_int, metavar="N",
                       help="CPU threads for torch in this process (default: torch's own choice)")
        g.add_argument("--trials", type=positive_int, help=f"search trials, pruned ones included (default: {d.trials})")
        lo, hi = BUDGET_EPOCHS
        g.add_argument("--epochs", type=positive_int,
                       help=f"1cycle epochs per trial and grid cell (default: chosen from the task, enough for "
                            f"{BUDGET_STEPS} optimizer steps at the smallest searched batch size, {lo} to {hi}; "
                            f"a resumed study keeps its own)")
        samplers = choices_help([(s.name, s.description) for s in SAMPLER_REGISTRY.values()], d.sampler)
        g.add_argument("--sampler", choices=tuple(SAMPLER_REGISTRY),
                       help=f"the search's sampler: {', '.join(samplers)}")
        g.add_argument("--space", choices=SPACES,
                       help=f"narrow: the 1cycle peak LR from the hard band [lr_max, 10 x lr_max]; prior: from wide "
                            f"bounds, guided by the priors as evidence that the trials' results can override "
                            f"(default: {d.space})")
        pruners = choices_help([(p.name, p.description) for p in PRUNER_REGISTRY.values()], d.pruner)
        g.add_argument("--pruner", choices=tuple(PRUNER_REGISTRY),
                       help=f"the random baseline's pruner, and the search's with --fidelity pruner: {', '.join(pruners)}")
        g.add_argument("--fidelity", choices=FIDELITIES,
                       help="how the search spends less on losers: ladder (successive halving over complete 1cycle "
                            "schedules of E/4, E/2 and E epochs, each rung's best trained again, longer) or pruner "
                            "(full-length trials that --pruner may stop early); default: ladder for a new study, "
                            "what a resumed study was made with")
        g.add_argument("--length-cap", type=positive_int, metavar="EPOCHS",
                       help="on the ladder, the most epochs its length ladder may train the best configuration for "
                            "when it was still improving clearly at --epochs (2E, 4E, ... while the budget pays; "
                            "default with --budget: 4 x --epochs; with --trials: none unless given)")
        g.add_argument("--baseline", type=_baselines, metavar="grid|random|none",
                       help=f"baselines, comma separated (default: {','.join(d.baselines) or 'none'}); random = "
                            "the same search over wide bounds without priors")
        g.add_argument("--budget", type=positive_float, metavar="F",
                       help="give the search F x the grid's cost in training examples, its probes included (e.g. "
                            "0.1), and the random baseline the same; the search stops before its next trial "
                            "could overrun (instead of --trials)")
        g.add_argument("--budget-examples", type=positive_int, metavar="N",
                       help="the same budget as a number of training examples")
        g.add_argument("--test-seeds", type=positive_int, metavar="K",
                       help=f"retrain each study's chosen configuration on K seeds (the same for every study) for "
                            f"its test accuracy, mean +- standard error (default: {d.test_seeds})")
        g.add_argument("--match-z", type=nonneg_float, metavar="Z",
                       help=f"a study matches the grid once its best validation accuracy is within Z standard "
                            f"errors of the grid's best (default: {num(d.match_z)})")
        g.add_argument("--tolerance", type=nonneg_float, metavar="POINTS",
                       help="match within this many accuracy points instead (default: the standard-error rule)")
        g.add_argument("--probe-batch-size", type=positive_int, metavar="N",
                       help=f"the probes' batch size, the LR rule's reference (default: {d.probe_batch_size})")
        g.add_argument("--quick", action="store_true", default=None,
                       help=f"smoke size ({q.epochs} epochs, {q.trials} trials, a 4-cell grid): every phase in about "
                            "3 minutes")
        g.add_argument("--no-test", dest="test", action="store_false", default=None,
                       help="skip retraining the best configurations for their test accuracy")
        g.add_argument("--out", metavar="PATH", help="the HTML report (default: runs/<name>/report.html); the "
                                                     "chosen recipe best.json and weights best.pt go in its folder")
        g.add_argument("--proxy-width", type=positive_float, metavar="W",
                       help="scaled-down tuning: run the probes and the search on the model at W x its "
                            "width (e.g. 0.25), then verify the best configuration on the full-size model and "
                            "report what the transfer saved and lost (study <name>-proxy<W>)")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        return _run_study(args)


def build_study(args: argparse.Namespace) -> tuple[dict[str, Any], StudyConfig]:
    """The study's task keyword arguments and config from the flags: :meth:`StudySpec.build` with the flags
    given (``None`` = not given) laid over the spec (or over the built-in defaults when there is none)."""
    spec = load_spec(args.spec) if args.spec else StudySpec.default()
    return spec.build(model=args.model, data=args.dataset, optimizer=args.optimizer, device=args.device,
                      kind=args.kind, direction=args.direction, model_kwargs=parse_model_args(args.model_arg),
                      name=args.name, trials=args.trials, epochs=args.epochs, sampler=args.sampler, space=args.space,
                      pruner=args.pruner, fidelity=args.fidelity, length_cap=args.length_cap, baselines=args.baseline,
                      budget=args.budget, budget_examples=args.budget_examples, test_seeds=args.test_seeds,
                      match_z=args.match_z, tolerance=args.tolerance, seed=args.seed, probe_batch_size=args.probe_batch_size,
                      test=args.test, quick=args.quick)


def _print_result(con: Any, result: Any) -> None:
    from rich import box
    from rich.table import Table

    from ..pipeline import explain_lines, summary_rows

    # the terminal's table leaves out the examples, epochs and seconds (cost/grid says it; the report has them)
    rows = [{k: v for k, v in r.items() if k not in ("examples", "epochs", "seconds")} for r in summary_rows(result)]
    table = Table(title=f"study {result.name}: cost-fair comparison", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, 0), pad_edge=False)
    for col in (rows[0] if rows else {}):
        table.add_column(col, justify="left" if col == "study" else "right", no_wrap=True)
    for r in rows:
        table.add_row(*r.values())
    con.print(table)
    for line in explain_lines(result):
        con.print(line, soft_wrap=True)
    p = result.priors
    if p is not None:
        mom = "" if p.momentum is None else f", momentum {p.momentum:g}"
        con.print(f"priors: LR band [{p.lr_min:.3g}, {p.lr_max:.3g}] at batch size {p.batch_size}{mom}; "
                  f"probes cost {p.cost.examples:,} examples, {p.cost.seconds:.1f}s")
    for role, o in result.outcomes.items():
        if o.best_config:
            hp = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                           for k, v in o.best_config.items() if v is not None)
            con.print(f"best {role} (trial {o.best_trial}): {hp}")
    a = result.artefacts
    if a:
        con.print(f"chosen recipe {a['recipe']}, weights {a['checkpoint']} (trial {a['trial']}; load with "
                  f"hybridtune.load_checkpoint, train longer with hybridtune train --recipe)", soft_wrap=True)
    for w in result.warnings:
        con.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    if result.verdict:
        con.print(f"[bold]verdict:[/] {result.verdict}", soft_wrap=True)
    elif result.no_verdict:
        con.print(result.no_verdict, soft_wrap=True)


def _exit_code(con: Any, result: Any) -> int:
    """0, or :data:`EXIT_FOUND_NOTHING` (3) with a last warning when the search found nothing."""
    if not result.found_nothing:
        return 0
    con.print(f"[bold red]the study found nothing[/] (exit code {EXIT_FOUND_NOTHING}): no configuration is "
              f"presented as its best; see the warning above", soft_wrap=True)
    return EXIT_FOUND_NOTHING


def _size(config: StudyConfig) -> str:
    if config.budget is not None:
        return f"trials within {config.budget:g} of the grid's cost"
    if config.budget_examples is not None:
        return f"trials within {config.budget_examples:,} examples"
    return f"{config.trials} trials"


def _run_study(args: argparse.Namespace) -> int:
    import time

    from ..pipeline import resolve_config, run_study
    from ..task import Task

    quiet_optuna(args)
    con = console(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    task_kw, config = build_study(args)
    url, storage = _open(args)  # a bad URL or an unreachable database fails here, before any work
    task = Task(**task_kw)
    # resolved once, here: the name and the epochs (stored or the rule's) for the header; run_study runs it as given
    config = resolve_config(task, config, storage=storage)
    name = str(config.name)
    out = _report_path(args.out, name)
    con.print(f"[bold]study[/] {name}: {task.model_name} on {task.data.name} "
              f"({len(task.data.train)} train / {len(task.data.val)} val / {len(task.data.test)} test), "
              f"{task.optimizer}, device {task.device}; {_size(config)} x {config.epochs} epochs, "
              f"{config.sampler} + {'ladder of complete 1cycle runs' if config.fidelity == 'ladder' else config.pruner}, baselines {', '.join(config.baselines) or 'none'}"
              f"{' (quick)' if config.preset == 'quick' else ''}")
    con.print(f"storage {redact(url)}; workers join with: hybridtune worker --name {name}"
              + (f" --storage '{redact(url)}'" if args.storage else ""), soft_wrap=True)
    t0 = time.perf_counter()
    if args.proxy_width is not None:
        return _run_proxy(args, con, task, config, storage, out, t0)
    with ProgressBars(con) as bars:
        result = run_study(task, config, storage=storage, progress=bars, report=out)
    report = result.report
    _print_result(con, result)
    con.print(f"report {report}  ({time.perf_counter() - t0:.0f}s)")
    con.print("dashboard: hybridtune dashboard" + (f" --storage '{redact(url)}'" if args.storage else ""))
    if args.json:
        write_json(args.json, {"command": "study", **result.to_dict(), "report": str(report)})
        con.print(f"wrote {args.json}")
    return _exit_code(con, result)


def _run_proxy(args: argparse.Namespace, con: Any, task: Any, config: Any, storage: Any, out: Path,
               t0: float) -> int:
    import time

    from ..pipeline import proxy_study

    with ProgressBars(con) as bars:
        r = proxy_study(task, config, proxy_width=args.proxy_width, storage=storage, progress=bars,
                        report=out.with_name(f"report-proxy{args.proxy_width:g}.html"))
    report = r.proxy.report
    _print_result(con, r.proxy)
    lost = "not measured (no full-size study of this name in the storage)" if r.lost_points is None else \
        f"{r.lost_points:+.2f} points against the full-size study's best {100 * r.full_study_best:.2f}%"
    con.print(f"[bold]proxy[/] width {r.proxy_width:g} (full {r.full_width:g}): best config {r.best_config}")
    con.print(f"  at full size: val {fmt(r.full_val_acc)}, test {fmt(r.full_test_accuracy)} ({r.status}); "
              f"at proxy size it scored {fmt(r.proxy_val_acc)}")
    con.print(f"  saved: the search took {r.search_seconds:.0f}s at proxy size, about "
              f"{r.search_seconds_at_full_size:.0f}s at full size ({r.speedup:.1f}x "
              f"per example); {r.saved_seconds:.0f}s saved after {r.verify_seconds:.0f}s of verification")
    con.print(f"  lost: {lost}")
    con.print(f"report {report}  ({time.perf_counter() - t0:.0f}s)")
    if args.json:
        write_json(args.json, {"command": "study", "proxy": r.to_dict(), "report": str(report)})
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# hybridtune worker


class WorkerCommand(BaseCommand):
    help = "join a running study from another process or machine (PostgreSQL storage)"
    description = ("Join a study that `hybridtune study` coordinates on a shared database (PostgreSQL): take "
                   "trials from its search, grid and random queues until they are empty, on one device. The "
                   "worker reads the priors from the study and never probes. Run one per GPU or machine.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from ..study import run_worker

        wait = library_default(run_worker, "wait_seconds")
        p.add_argument("--name", required=True, help="the study's name (as `hybridtune study` printed it)")
        p.add_argument("--storage", required=True, metavar="URL",
                       help="the study's database, shared by every process: postgresql+psycopg://user:password@host/db")
        p.add_argument("--device", default=library_default(run_worker, "device"),
                       help="this worker's one device: cuda:N, cpu, mps, auto (default)")
        p.add_argument("--trials", type=positive_int, metavar="K", help="run at most K trials, then stop")
        p.add_argument("--threads", type=positive_int, metavar="N",
                       help="CPU threads for torch in this worker (default: torch's own choice)")
        p.add_argument("--wait", type=nonneg_float, default=wait, metavar="SECONDS",
                       help=f"how long to wait for the coordinator to prepare the study (default: {num(wait)})")
        _storage_retry_option(p)
        _heartbeat_options(p)
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        import time

        import torch

        from ..study import run_worker

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


class ReportCommand(BaseCommand):
    help = "rebuild a study's report from storage (no training)"
    description = ("Rebuild the comparison, the HTML report and the dashboard note and figures of a study from "
                   "its storage alone.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", help="the study (default: the only one in the storage)")
        _storage_option(p)
        _storage_retry_option(p)
        p.add_argument("--tolerance", type=nonneg_float, metavar="POINTS",
                       help="accuracy points for matching the grid (default: the study's own)")
        p.add_argument("--out", metavar="PATH", help="the HTML report (default: runs/<name>/report.html)")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..pipeline import rebuild_report

        con, storage, name = _named_study(args)
        result = rebuild_report(name, storage=storage, tolerance=args.tolerance, report=_report_path(args.out, name))
        report = result.report
        _print_result(con, result)
        con.print(f"report {report}")
        if args.json:
            write_json(args.json, {"command": "report", **result.to_dict(), "report": str(report)})
            con.print(f"wrote {args.json}")
        return _exit_code(con, result)


def _named_study(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """The console, the (existing) storage and the study a read-only command works on."""
    quiet_optuna(args)
    con = console(args)
    storage = open_storage(args.storage, must_exist=True, retry_seconds=getattr(args, "storage_retry", None))
    return con, storage, args.name or _only_study(storage)


def _only_study(storage: Any) -> str:
    """The one search study in ``storage`` (its baselines, ``-grid`` and ``-random``, and studies hybridtune did
    not make aside)."""
    from ..study import search_studies

    searches = search_studies(storage)
    if len(searches) != 1:
        raise ConfigError(f"--name must be given when the storage holds {len(searches)} studies, but got none "
                          f"(studies: {', '.join(searches) or 'none'}).")
    return searches[0]


# ----------------------------------------------------------------------------------------------
# hybridtune doctor


class DoctorCommand(BaseCommand):
    help = "list a study's stuck trials, missing grid cells and incomplete test retrains; --repair fixes stuck ones"
    description = ("Check a stored study: trials left RUNNING by a process that is gone (no heartbeat for the grace "
                   "period), grid cells without a completed trial, best configurations not retrained on every test "
                   "seed. --repair fails the stuck trials and queues them again; re-running `hybridtune study` runs "
                   "what is missing. Exit code 0 when nothing is wrong (after repair), 5 otherwise.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", help="the study (default: the only one in the storage)")
        _storage_option(p)
        _storage_retry_option(p)
        _heartbeat_options(p)
        p.add_argument("--repair", action="store_true", help="fail the stuck trials and queue them again")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..pipeline import diagnose_study
        from ._common import EXIT_UNHEALTHY

        quiet_optuna(args)
        con = console(args)
        storage = open_storage(args.storage, must_exist=True, heartbeat_interval=args.heartbeat_interval,
                               grace_period=args.grace_period, retry_seconds=args.storage_retry)
        name = args.name or _only_study(storage)
        d = diagnose_study(name, storage=storage, repair=args.repair)
        repaired = set(d.repaired)
        for s in d.stuck:
            con.print(f"stuck: {s}" + ("; failed and queued again" if s in repaired else ""), soft_wrap=True)
        for cell in d.missing_cells:
            values = ", ".join(f"{k} {v}" for k, v in cell.items() if k != "queued")
            con.print(f"missing grid cell: {values}" + (" (queued)" if cell["queued"] else ""), soft_wrap=True)
        for t in d.incomplete_tests:
            con.print(f"incomplete test retrain: {t}", soft_wrap=True)
        left = [s for s in d.stuck if s not in repaired]
        if d.healthy:
            con.print(f"study {name}: " + ("repaired; nothing else wrong" if repaired else "nothing wrong"))
        else:
            hints = (["run `hybridtune doctor --repair` to fail and re-queue the stuck trials"] if left else []) + \
                (["re-run `hybridtune study` for the missing cells and retrains"] if d.missing_cells or
                 d.incomplete_tests else [])
            con.print(f"study {name}: {len(left)} stuck, {len(d.missing_cells)} missing cells, "
                      f"{len(d.incomplete_tests)} incomplete retrains; {'; '.join(hints)}", soft_wrap=True)
        if args.json:
            write_json(args.json, {"command": "doctor", **d.to_dict()})
        return 0 if d.healthy else EXIT_UNHEALTHY


# ----------------------------------------------------------------------------------------------
# hybridtune export


class ExportCommand(BaseCommand):
    help = "write a study's chosen recipe (best.json) and weights (best.pt) again, from storage"
    description = ("Write the chosen recipe of a study (best.json) from its storage, and its weights (best.pt) by "
                   "retraining the stored best configuration once, as the study's test retrain did.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from ..pipeline import export_study

        p.add_argument("--name", help="the study (default: the only one in the storage)")
        _storage_option(p)
        p.add_argument("--out", metavar="DIR", help="the folder (default: runs/<name>/)")
        p.add_argument("--device", default=library_default(export_study, "device"),
                       help="where to retrain: auto (CUDA, then MPS, then CPU), cpu, cuda:N, mps (default: "
                            "%(default)s)")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..pipeline import export_study

        con, storage, name = _named_study(args)
        con.print(f"[bold]export[/] {name}: the recipe from storage; the weights by retraining its best "
                  f"configuration once (the stored study keeps no weights)")
        with ProgressBars(con) as bars:
            r = export_study(name, storage=storage, out=args.out, device=args.device, progress=bars)
        con.print(f"trial {r.trial} retrained in {r.seconds:.0f}s: val {fmt(r.val_accuracy)}, test "
                  f"{fmt(r.test_accuracy)}")
        con.print(f"wrote {r.recipe_path} and {r.checkpoint_path}")
        if args.json:
            write_json(args.json, {"command": "export", **r.to_dict()})
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


class DashboardCommand(BaseCommand):
    help = "serve optuna-dashboard on the storage, on 127.0.0.1"
    description = ("Start optuna-dashboard on the study storage, bound to 127.0.0.1 only. Each study shows its "
                   "note (the comparison) and figures under Custom plots.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        _storage_option(p)
        p.add_argument("--port", type=_port, default=8080, help="(default: %(default)s)")
        add_output_options(p, json_output=False)

    def take_action(self, args: argparse.Namespace) -> int:
        import socket

        from optuna_dashboard import run_server

        from .._core import resolve_storage_url, study_names

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
