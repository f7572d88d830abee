"""CLI for the seed procedures: ``sweep`` (seed 000), ``landscape`` and ``procedure`` (seed 002)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._main import (ProgressBars, add_output_options, add_task_options, console, fmt, make_task, nonneg_float, positive_float,
                   positive_int, quiet_optuna, write_json)
from .._core._errors import ConfigError


def add_commands(sub: Any) -> None:
    _add_sweep(sub)
    _add_landscape(sub)
    _add_procedure(sub)


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
    from ..diagnostics._sweep import log_lrs

    if ":" in text:
        try:
            low, high, n = text.split(":")
            return list(log_lrs(float(low), float(high), int(n)))
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be LOW:HIGH:N, e.g. 1e-6:100:48, but got {text!r}") from None
    return _float_list(text)


def _write_html(path: str, html: str, con: Any) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(html)
    con.print(f"wrote {p}")


# ----------------------------------------------------------------------------------------------
# sweep


def _add_sweep(sub: Any) -> None:
    p = sub.add_parser("sweep", help="seed 000's optimizer x learning-rate sweep: the valley plot",
                       description="Train from the same initial weights for every optimizer x LR until a "
                                   "target train accuracy (or a budget); plot time to target against LR, "
                                   "report each optimizer's successful band, the fastest configuration, and "
                                   "whether each optimizer's range-test suggestion falls inside its band. "
                                   "Runs as an Optuna grid study: --storage makes it resumable.")
    add_task_options(p, model="cnn")
    g = p.add_argument_group("sweep")
    g.add_argument("--optimizers", default="sgd,momentum,adam,adagrad,adadelta,rmsprop",
                   help="comma-separated optimizer families (default: seed 000's six)")
    g.add_argument("--lrs", type=_lr_grid, default="1e-6:100:48",
                   help="LOW:HIGH:N log-spaced, or a comma-separated list (default: 1e-6:100:48)")
    g.add_argument("--target", type=positive_float, default=0.97, help="train accuracy to reach (default: 0.97)")
    g.add_argument("--max-epochs", type=positive_int, default=20, help="epoch budget per run (default: 20)")
    g.add_argument("--max-seconds", type=positive_float, default=120.0, help="time budget per run (default: 120)")
    g.add_argument("--batch-size", type=positive_int, default=64, help="(default: 64)")
    g.add_argument("--momentum", type=float, default=0.9, help="for momentum (default: 0.9)")
    g.add_argument("--widths", type=_float_list, default=[],
                   help="model widths for seed 000's size plot, e.g. 1,2,4 (each optimizer's fastest LR)")
    g.add_argument("--no-range-test", action="store_true", help="skip the range-test check")
    g.add_argument("--storage", help="Optuna storage URL (default: in-memory; give one to resume or share)")
    g.add_argument("--name", help="study name (default: sweep-<model>-<dataset>)")
    g.add_argument("--plot", metavar="PATH", help="write the valley plot (and size plot) as HTML")
    add_output_options(p)
    p.set_defaults(handler=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..diagnostics._sweep import sweep

    con = console(args)
    quiet_optuna(args)
    task = make_task(args)
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    lrs = args.lrs if isinstance(args.lrs, list) else _lr_grid(args.lrs)
    con.print(f"[bold]sweep[/] {task.model_name} on {task.data.name}: {len(optimizers)} optimizers x "
              f"{len(lrs)} LRs to {args.target:.0%} train accuracy, device {task.device}")
    with ProgressBars(con) as report:
        result = sweep(task, optimizers=optimizers, lrs=lrs, target=args.target, max_epochs=args.max_epochs,
                       max_seconds=args.max_seconds, batch_size=args.batch_size, momentum=args.momentum,
                       widths=args.widths, range_test=not args.no_range_test, storage=args.storage,
                       name=args.name, seed=args.seed, progress=report)
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
    if result.width_runs:
        for r in result.width_runs:
            con.print(f"  width {r.width:g} {r.optimizer} lr {r.lr:.3g}: "
                      f"{fmt(r.seconds_to_target, '.2f')}s to target ({r.status})")
    con.print(f"cost: {result.cost.examples} examples, {result.cost.seconds:.1f}s")
    if args.plot:
        from ..report._diagnostic_figures import html_page, valley_figure, width_figure

        figs = [("The valley", valley_figure(result))]
        if result.width_runs:
            figs.append(("Time against model size", width_figure(result)))
        _write_html(args.plot, html_page(f"Sweep: {task.model_name} on {task.data.name}", figs), con)
    if args.json:
        write_json(args.json, {"command": "sweep", "task": task.describe(), **result.to_dict()})
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# landscape


def _add_landscape(sub: Any) -> None:
    p = sub.add_parser("landscape", help="seed 002's weight-space line searches (steps 1 and 7)",
                       description="Loss and accuracy along a random, filter-normalised direction from the "
                                   "initial weights, and along the segment from the initial to the trained "
                                   "weights, extended beyond both ends.")
    add_task_options(p)
    g = p.add_argument_group("landscape")
    g.add_argument("--epochs", type=positive_int, default=5, help="training between the ends (default: 5)")
    g.add_argument("--lr", type=positive_float, default=0.05, help="peak LR of the 1cycle run (default: 0.05)")
    g.add_argument("--batch-size", type=positive_int, default=128)
    g.add_argument("--weight-decay", type=nonneg_float, default=5e-4)
    g.add_argument("--points", type=positive_int, default=21, help="points per line (default: 21)")
    g.add_argument("--span", type=positive_float, default=1.0, help="random direction alpha range (default: 1)")
    g.add_argument("--extend", type=nonneg_float, default=0.5, help="segment extension (default: 0.5)")
    g.add_argument("--plot", metavar="PATH", help="write the figure as HTML")
    add_output_options(p)
    p.set_defaults(handler=_run_landscape)


def _run_landscape(args: argparse.Namespace) -> int:
    from ..diagnostics._landscape import landscape
    from ..train._trainer import TrainConfig

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
        from ..report._diagnostic_figures import html_page, landscape_figure

        _write_html(args.plot, html_page(f"Landscape: {task.model_name} on {task.data.name}",
                                         [("Line searches", landscape_figure(result))]), con)
    if args.json:
        write_json(args.json, {"command": "landscape", "task": task.describe(), **result.to_dict()})
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# procedure


def _add_procedure(sub: Any) -> None:
    p = sub.add_parser("procedure", help="seed 002's procedure: LR and momentum ramps, three checks, red flags",
                       description="Raise the LR every epoch, then the momentum; train the chosen constant "
                                   "setting; check power decay, a cyclical LR and Adam against it (each with a "
                                   "verdict); look for red flags that point at bugs. One HTML report.")
    add_task_options(p)
    g = p.add_argument_group("procedure")
    g.add_argument("--epochs", type=positive_int, default=5, help="M: epochs of the baseline and each check (default: 5)")
    g.add_argument("--batch-size", type=positive_int, default=128)
    g.add_argument("--lr-start", type=positive_float, help="first LR of the ramp (default: by optimizer family)")
    g.add_argument("--lr-factor", type=positive_float, default=10 ** 0.5, help="LR factor per epoch (default: 3.16)")
    g.add_argument("--ramp-epochs", type=positive_int, default=8, help="epochs of the LR ramp (default: 8)")
    g.add_argument("--momentum-epochs", type=positive_int, default=5, help="epochs of the momentum ramp (default: 5)")
    g.add_argument("--report", metavar="PATH", help="HTML report (default: runs/procedure-<model>-<dataset>.html)")
    add_output_options(p)
    p.set_defaults(handler=_run_procedure)


def _run_procedure(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..diagnostics._procedure import procedure
    from ..report._diagnostic_figures import (checks_figure, html_page, lr_ramp_figure, momentum_ramp_figure, table_html)

    con = console(args)
    task = make_task(args)
    con.print(f"[bold]procedure[/] {task.model_name} on {task.data.name} with {task.optimizer}, device {task.device}")
    with ProgressBars(con) as report:
        r = procedure(task, epochs=args.epochs, batch_size=args.batch_size, lr_start=args.lr_start,
                      lr_factor=args.lr_factor, ramp_epochs=args.ramp_epochs, momentum_epochs=args.momentum_epochs,
                      seed=args.seed, progress=report)
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
    path = args.report or f"runs/procedure-{task.model_name}-{task.data.name}.html".replace(":", "_")
    intro = (f"<p>Chosen: LR {r.lr:.3g} ({r.lr_ramp.reasoning}); momentum {r.momentum:.3g}.</p>"
             "<h2>Verdicts</h2><ul>" + "".join(f"<li>{c.verdict}</li>" for c in r.checks) + "</ul>"
             "<h2>Red flags</h2>" + table_html([{"check": f.name, "flag": "RED FLAG" if f.triggered else "ok",
                                                  "finding": f.message} for f in r.red_flags]))
    figs = [("LR raised every epoch", lr_ramp_figure(r))]
    if r.momentum_ramp is not None:
        figs.append(("Momentum raised every epoch", momentum_ramp_figure(r)))
    figs.append(("Checks", checks_figure(r)))
    _write_html(path, html_page(f"Procedure: {task.model_name} on {task.data.name}", figs, intro_html=intro), con)
    if args.json:
        write_json(args.json, {"command": "procedure", "task": task.describe(), "report": path, **r.to_dict()})
        con.print(f"wrote {args.json}")
    return 0
