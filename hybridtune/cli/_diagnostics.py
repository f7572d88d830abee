"""``hybridtune sweep``, ``landscape`` and ``procedure``: the diagnostics (the optimizer x LR sweep, the 7-step
procedure) on the terminal."""

from __future__ import annotations

import argparse
from typing import Any

from .._core import ConfigError
from ..diagnostics import landscape, log_lrs, procedure, sweep
from ._common import (BaseCommand, ProgressBars, add_output_options, add_task_options, console, fmt, library_default,
                      make_task, nonneg_float, num, positive_float, positive_int, quiet_optuna, write_json)

#: Where ``landscape`` departs from the library's default run (:func:`hybridtune.landscape` with no config):
#: the same LR for every optimizer family, and weight decay on the weights as ``train`` has it.
LANDSCAPE_PRESET: dict[str, Any] = {"epochs": 5, "lr": 0.05, "weight_decay": 5e-4}


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated numbers, but got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"must name at least one number, but got {text!r}")
    return values


def _lr_grid(text: str) -> list[float]:
    """``LOW:HIGH:N`` (log-spaced) or a comma-separated list."""
    if ":" in text:
        try:
            low, high, n = text.split(":")
            return list(log_lrs(float(low), float(high), int(n)))
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be LOW:HIGH:N, e.g. 1e-6:100:48, but got {text!r}") from None
    return _float_list(text)


# ----------------------------------------------------------------------------------------------
# sweep


class SweepCommand(BaseCommand):
    help = "the optimizer x learning-rate sweep: the valley plot"
    description = ("Train from the same initial weights for every optimizer x LR until a target train accuracy "
                   "(or a budget); plot time to target against LR, report each optimizer's successful band, the "
                   "fastest configuration, and whether each optimizer's range-test suggestion falls inside its "
                   "band. Runs as an Optuna grid study: --storage makes it resumable.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        def default(name: str) -> Any:
            return library_default(sweep, name)

        add_task_options(p, model="cnn")
        g = p.add_argument_group("sweep")
        optimizers = ",".join(default("optimizers"))
        g.add_argument("--optimizers", default=optimizers,
                       help=f"comma-separated optimizer families (default: {optimizers})")
        grid = ":".join(num(library_default(log_lrs, k)) for k in ("low", "high", "n"))
        g.add_argument("--lrs", type=_lr_grid, default=grid,
                       help=f"LOW:HIGH:N log-spaced, or a comma-separated list (default: {grid})")
        g.add_argument("--target", type=positive_float, default=default("target"),
                       help=f"train accuracy to reach (default: {num(default('target'))})")
        g.add_argument("--max-epochs", type=positive_int, default=default("max_epochs"),
                       help=f"epoch budget per run (default: {default('max_epochs')})")
        g.add_argument("--max-seconds", type=positive_float, default=default("max_seconds"),
                       help=f"time budget per run (default: {num(default('max_seconds'))})")
        g.add_argument("--batch-size", type=positive_int, default=default("batch_size"),
                       help=f"(default: {default('batch_size')})")
        g.add_argument("--momentum", type=float, default=default("momentum"),
                       help=f"for momentum (default: {num(default('momentum'))})")
        g.add_argument("--widths", type=_float_list, default=[],
                       help="model widths for the sweep's size plot, e.g. 1,2,4 (each optimizer's fastest LR)")
        g.add_argument("--no-range-test", action="store_true", help="skip the range-test check")
        g.add_argument("--storage", help="Optuna storage URL (default: in-memory; give one to resume or share)")
        g.add_argument("--name", help="study name (default: sweep-<model>-<dataset>)")
        g.add_argument("--plot", metavar="PATH", help="write the valley plot (and size plot) as HTML")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..pipeline import sweep_page

        con = console(args)
        quiet_optuna(args)
        task = make_task(args)
        optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
        lrs = args.lrs
        con.print(f"[bold]sweep[/] {task.model_name} on {task.data.name}: {len(optimizers)} optimizers x "
                  f"{len(lrs)} LRs to {args.target:.0%} train accuracy, device {task.device}")
        with ProgressBars(con) as report:
            result = sweep(task, optimizers=optimizers, lrs=lrs, target=args.target, max_epochs=args.max_epochs,
                           max_seconds=args.max_seconds, batch_size=args.batch_size, momentum=args.momentum,
                           widths=args.widths, range_test=not args.no_range_test, storage=args.storage,
                           name=args.name, seed=args.seed, progress=report)
        _print_sweep(con, result)
        if args.plot:
            page = sweep_page(result, args.plot, title=f"Sweep: {task.model_name} on {task.data.name}")
            con.print(f"wrote {page}")
        if args.json:
            write_json(args.json, {"command": "sweep", "task": task.describe(), **result.to_dict()})
            con.print(f"wrote {args.json}")
        return 0


def _print_sweep(con: Any, result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"successful band per optimizer (target {result.target:.0%} train accuracy)")
    for col in ("optimizer", "band low", "band high", "successes", "fastest lr", "seconds", "examples",
                "range test lr", "inside band"):
        table.add_column(col, justify="right")
    for b in result.bands:
        inside = "-" if b.range_test_inside is None else ("yes" if b.range_test_inside else "[red]no[/]")
        table.add_row(b.optimizer, fmt(b.lr_low, ".3g"), fmt(b.lr_high, ".3g"), f"{b.n_success}/{b.n_runs}",
                      fmt(b.fastest_lr, ".3g"), fmt(b.fastest_seconds, ".2f"), fmt(b.fastest_examples),
                      fmt(b.range_test_lr, ".3g"), inside)
    con.print(table)
    f = result.fastest
    if f:
        con.print(f"fastest: {f.optimizer} at lr {f.lr:.3g}: {f.examples_to_target} examples, "
                  f"{f.seconds_to_target:.2f}s ({f.epochs_to_target} epochs)")
    else:
        con.print("[red]no run reached the target[/]")
    for r in result.width_runs:
        con.print(f"  width {r.width:g} {r.optimizer} lr {r.lr:.3g}: "
                  f"{fmt(r.seconds_to_target, '.2f')}s to target ({r.status})")
    con.print(f"cost: {result.cost.examples} examples, {result.cost.seconds:.1f}s")


# ----------------------------------------------------------------------------------------------
# landscape


class LandscapeCommand(BaseCommand):
    help = "the weight-space line searches (the procedure's steps 1 and 7)"
    description = ("Loss and accuracy along a random, filter-normalised direction from the initial weights, and "
                   "along the segment from the initial to the trained weights, extended beyond both ends.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from ..train import TrainConfig

        def default(name: str) -> Any:
            return library_default(landscape, name)

        add_task_options(p)
        g = p.add_argument_group("landscape")
        g.add_argument("--epochs", type=positive_int, default=LANDSCAPE_PRESET["epochs"],
                       help=f"training between the ends (default: {LANDSCAPE_PRESET['epochs']})")
        g.add_argument("--lr", type=positive_float, default=LANDSCAPE_PRESET["lr"],
                       help=f"peak LR of the 1cycle run (default: {num(LANDSCAPE_PRESET['lr'])})")
        g.add_argument("--batch-size", type=positive_int, default=library_default(TrainConfig, "batch_size"))
        g.add_argument("--weight-decay", type=nonneg_float, default=LANDSCAPE_PRESET["weight_decay"])
        g.add_argument("--points", type=positive_int, default=default("points"),
                       help=f"points per line (default: {default('points')})")
        g.add_argument("--span", type=positive_float, default=default("span"),
                       help=f"random direction alpha range (default: {num(default('span'))})")
        g.add_argument("--extend", type=nonneg_float, default=default("extend"),
                       help=f"segment extension (default: {num(default('extend'))})")
        g.add_argument("--plot", metavar="PATH", help="write the figure as HTML")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..pipeline import landscape_page
        from ..train import TrainConfig

        con = console(args)
        task = make_task(args)
        cfg = TrainConfig(optimizer=task.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                          weight_decay=args.weight_decay, schedule="onecycle", seed=args.seed)
        with con.status("training and scoring the lines ..."):
            result = landscape(task, cfg, points=args.points, span=args.span, extend=args.extend, seed=args.seed)
        for curve in (result.random_direction, result.segment):
            con.print(f"[bold]{curve.kind}[/]")
            for a, tl, ta, vl in zip(curve.alphas, curve.train_loss, curve.train_acc, curve.val_loss):
                con.print(f"  alpha {a:+.2f}: train loss {tl:.4f} acc {ta:.3f} | val loss {vl:.4f}")
        con.print(f"cost: {result.cost.examples} examples, {result.cost.eval_examples} eval examples, "
                  f"{result.cost.seconds:.1f}s")
        if args.plot:
            page = landscape_page(result, args.plot, title=f"Landscape: {task.model_name} on {task.data.name}")
            con.print(f"wrote {page}")
        if args.json:
            write_json(args.json, {"command": "landscape", "task": task.describe(), **result.to_dict()})
            con.print(f"wrote {args.json}")
        return 0


# ----------------------------------------------------------------------------------------------
# procedure


class ProcedureCommand(BaseCommand):
    help = "the 7-step procedure: LR and momentum ramps, three checks, red flags"
    description = ("Raise the LR every epoch, then the momentum; train the chosen constant setting; check power "
                   "decay, a cyclical LR and Adam against it (each with a verdict); look for red flags that "
                   "point at bugs. One HTML report.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        def default(name: str) -> Any:
            return library_default(procedure, name)

        add_task_options(p)
        g = p.add_argument_group("procedure")
        g.add_argument("--epochs", type=positive_int, default=default("epochs"),
                       help=f"M: epochs of the baseline and each check (default: {default('epochs')})")
        g.add_argument("--batch-size", type=positive_int, default=default("batch_size"))
        g.add_argument("--lr-start", type=positive_float, help="first LR of the ramp (default: by optimizer family)")
        g.add_argument("--lr-factor", type=positive_float, default=default("lr_factor"),
                       help=f"LR factor per epoch (default: {default('lr_factor'):.3g})")
        g.add_argument("--ramp-epochs", type=positive_int, default=default("ramp_epochs"),
                       help=f"epochs of the LR ramp (default: {default('ramp_epochs')})")
        g.add_argument("--momentum-epochs", type=positive_int, default=default("momentum_epochs"),
                       help=f"epochs of the momentum ramp (default: {default('momentum_epochs')})")
        g.add_argument("--report", metavar="PATH", help="HTML report (default: runs/procedure-<model>-<dataset>.html)")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..pipeline import procedure_page

        con = console(args)
        task = make_task(args)
        con.print(f"[bold]procedure[/] {task.model_name} on {task.data.name} with {task.optimizer}, "
                  f"device {task.device}")
        with ProgressBars(con) as report:
            r = procedure(task, epochs=args.epochs, batch_size=args.batch_size, lr_start=args.lr_start,
                          lr_factor=args.lr_factor, ramp_epochs=args.ramp_epochs,
                          momentum_epochs=args.momentum_epochs, seed=args.seed, progress=report)
        _print_procedure(con, r)
        path = args.report or f"runs/procedure-{task.model_name}-{task.data.name}.html".replace(":", "_")
        page = procedure_page(r, path, title=f"Procedure: {task.model_name} on {task.data.name}")
        con.print(f"wrote {page}")
        if args.json:
            write_json(args.json, {"command": "procedure", "task": task.describe(), "report": path, **r.to_dict()})
            con.print(f"wrote {args.json}")
        return 0


def _print_procedure(con: Any, r: Any) -> None:
    from rich.table import Table

    con.print(f"step 2, LR: {r.lr:.3g} ({r.lr_ramp.reasoning})")
    if r.momentum_ramp is not None:
        con.print(f"step 3, momentum: {r.momentum:.3g} ({r.momentum_ramp.reasoning})")
    con.print(f"baseline (constant): best val accuracy {fmt(r.baseline.best_val_acc)}")
    for c in r.checks:
        con.print(f"  {c.verdict}")
    table = Table(title="red flags")
    for col in ("check", "flag", "finding"):
        table.add_column(col)
    for f in r.red_flags:
        table.add_row(f.name, "[red]RED FLAG[/]" if f.triggered else "ok", f.message)
    con.print(table)
    con.print(f"cost: {r.cost.examples} examples, {r.cost.seconds:.1f}s")
