"""``hybridtune lr-find`` and ``hybridtune probe``: the range test and the range-test priors on the terminal.

A thin layer over :func:`hybridtune.lr_range_test` and :func:`hybridtune.find_priors`: parse flags, call
the library with a progress callback that drives a rich progress bar, render tables, write JSON and HTML.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._main import (ProgressBars, add_output_options, add_task_options, console, fmt, make_task, nonneg_float, positive_float,
                   positive_int, write_json)
from .._core._errors import ConfigError


def add_commands(sub: Any) -> None:
    """Register ``lr-find`` and ``probe`` on the ``hybridtune`` subparsers."""
    p = sub.add_parser("lr-find", help="LR range test: suggestions and an LR band, as a table, JSON and a figure",
                       description="Run an LR range test (Smith; exponential sweep 1e-7 -> 10 over about one "
                                   "epoch, at least 100 steps) and print the suggested learning rates and "
                                   "hybridtune's band [lr_min, lr_max]. The model, optimizer and RNG are "
                                   "left untouched. --momentum adds Smith's short momentum runs (= probe).")
    _add_probe_options(p, momentum_flag=True)
    p.set_defaults(handler=_run_lr_find, with_momentum=False)

    p = sub.add_parser("probe", help="range-test priors: the range test plus short momentum runs",
                       description="Run the cheap probes (an LR range test, then short 1cycle runs at momentum "
                                   "0.99, 0.97, 0.95 and 0.9, or beta1 for Adam) and print the priors the "
                                   "search is built from.")
    _add_probe_options(p, momentum_flag=False)
    p.set_defaults(handler=_run_lr_find, with_momentum=True)


def _add_probe_options(p: argparse.ArgumentParser, *, momentum_flag: bool) -> None:
    add_task_options(p)
    g = p.add_argument_group("range test")
    g.add_argument("--start-lr", type=positive_float, default=1e-7, help="first LR of the sweep (default: 1e-7)")
    g.add_argument("--end-lr", type=positive_float, default=10.0, help="last LR of the sweep (default: 10)")
    g.add_argument("--mode", default="exp", help="exp (log-spaced, default) or linear")
    g.add_argument("--steps", type=positive_int,
                   help="steps of the sweep (default: about one epoch, at least 100)")
    g.add_argument("--batch-size", type=positive_int, default=128, help="(default: 128)")
    g.add_argument("--weight-decay", type=nonneg_float, default=0.0, help="held fixed in the probes (default: 0)")
    g.add_argument("--val-every", type=positive_int,
                   help="Smith's validation mode: validation loss on a fixed subset every N steps")
    g = p.add_argument_group("momentum runs")
    if momentum_flag:
        g.add_argument("--momentum", dest="momentum_flag", action="store_true",
                       help="also run the short momentum runs and print the priors (= hybridtune probe)")
    g.add_argument("--momentum-epochs", type=positive_int, default=1, help="epochs per momentum run (default: 1)")
    g.add_argument("--momenta", default="0.99,0.97,0.95,0.9",
                   help="comma-separated momenta (or Adam beta1) to try (default: 0.99,0.97,0.95,0.9)")
    p.add_argument("--plot", metavar="PATH.html", help="write the figure(s) as an HTML file")
    add_output_options(p)


def _parse_momenta(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--momenta must be comma-separated numbers, but got {text!r}.") from None


def _check_plot_path(path: str | None) -> None:
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"--plot must be a file path, but got a directory: {path!r}.")


def _write_html(path: str, figures: list[Any]) -> None:
    from ..report._diagnostic_figures import html_page

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html_page("hybridtune range test", [(fig.layout.title.text or "", fig) for fig in figures]))


def _run_lr_find(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..report._figures import momentum_runs_figure, range_test_figure
    from ..probes._priors import find_priors
    from ..probes._rangetest import lr_range_test

    con = console(args)
    with_momentum = args.with_momentum or getattr(args, "momentum_flag", False)
    momenta = _parse_momenta(args.momenta)
    _check_plot_path(args.plot)
    task = make_task(args)
    con.print(f"[bold]{args.command}[/] {task.model_name} on {task.data.name} ({len(task.data.train)} train) "
              f"with {task.optimizer}, batch {args.batch_size}, device {task.device}")
    with ProgressBars(con) as progress:
        if with_momentum:
            priors = find_priors(task, batch_size=args.batch_size, weight_decay=args.weight_decay,
                                 momentum_epochs=args.momentum_epochs, range_steps=args.steps, momenta=momenta,
                                 seed=args.seed, progress=progress, start_lr=args.start_lr, end_lr=args.end_lr,
                                 mode=args.mode, val_every=args.val_every)
            result = priors.range_test
        else:
            priors = None
            result = lr_range_test(task, start_lr=args.start_lr, end_lr=args.end_lr, mode=args.mode,
                                   steps=args.steps, batch_size=args.batch_size, weight_decay=args.weight_decay,
                                   val_every=args.val_every, seed=args.seed, progress=progress)

    table = Table(title=f"LR range test ({result.mode} sweep {result.start_lr:g} -> {result.end_lr:g}, "
                        f"{len(result.lrs)} steps)")
    for col, justify in (("rule", "left"), ("learning rate", "right"), ("what it is", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    notes = {"steepest": "steepest fall of the loss against log10(LR)",
             "valley": "fastai's valley: halfway along the longest decreasing run",
             "min_div10": "a tenth of the LR at the loss minimum (seed 004)",
             "hybridtune": "hybridtune's lr_max (1cycle peak, top of the search)"}
    if result.band is not None:
        table.add_row("[bold]band[/]", f"[bold]{result.band.lr_min:.3g} - {result.band.lr_max:.3g}[/]",
                      "hybridtune's \\[lr_min, lr_max]; lr_min = lr_max / 10 (Smith's 1cycle)")
    for name, lr in result.suggestions.items():
        table.add_row(name, f"{lr:.3g}", notes.get(name, ""))
    con.print(table)
    con.print(f"stopped: {result.stopped}")
    if result.band is not None:
        con.print(f"why: {result.band.reasoning}")
    c = priors.cost if priors is not None else result.cost
    con.print(f"cost: {c.examples} examples, {c.steps} steps, {c.seconds:.1f}s"
              + (f", {c.eval_examples} eval examples" if c.eval_examples else ""))

    if priors is not None:
        runs = Table(title=f"short momentum runs at lr {priors.lr_max:.3g} ({args.momentum_epochs} epoch(s), 1cycle)")
        for col in ("momentum", "val loss", "val acc", "status"):
            runs.add_column(col, justify="right")
        for r in priors.momentum_runs:
            mark = " *" if r.momentum == priors.momentum else ""
            runs.add_row(f"{r.momentum:g}{mark}", fmt(r.val_loss), fmt(r.val_acc), r.status)
        if priors.momentum_runs:
            con.print(runs)
        pt = Table(title="priors")
        pt.add_column("field")
        pt.add_column("value", justify="right")
        band = priors.momentum_band
        for key, value in (("optimizer", priors.optimizer), ("lr_min", f"{priors.lr_min:.3g}"),
                           ("lr_max", f"{priors.lr_max:.3g}"), ("momentum", fmt(priors.momentum, "g")),
                           ("momentum_band", f"{band[0]:g} - {band[1]:g}" if band else "-"),
                           ("batch_size", str(priors.batch_size)), ("weight_decay", f"{priors.weight_decay:g}"),
                           ("cost", f"{priors.cost.examples} examples, {priors.cost.seconds:.1f}s")):
            pt.add_row(key, value)
        con.print(pt)
        con.print(f"reasoning: {priors.reasoning}")

    if args.plot:
        figures = [range_test_figure(result)]
        if priors is not None and priors.momentum_runs:
            figures.append(momentum_runs_figure(priors.momentum_runs))
        _write_html(args.plot, figures)
        con.print(f"wrote {args.plot}")
    if args.json:
        if priors is not None:
            payload = {"command": args.command, "task": task.describe(), "suggestions": dict(result.suggestions),
                       "stopped": result.stopped, **priors.to_dict()}
        else:
            payload = {"command": args.command, "task": task.describe(), **result.to_dict()}
        write_json(args.json, payload)
        con.print(f"wrote {args.json}")
    if result.band is None:
        print(f"hybridtune {args.command}: error: no learning rate could be suggested: {result.suggestion_error}",
              file=sys.stderr)
        return 2
    return 0
