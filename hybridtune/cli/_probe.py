"""``hybridtune lr-find`` and ``hybridtune probe``: the range test and the range-test priors on the terminal.

A thin layer over :func:`hybridtune.lr_range_test` and :func:`hybridtune.find_priors`: parse flags, call
the library with a progress callback that drives a rich progress bar, render tables, write JSON and HTML.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._core import ConfigError
from ..probes import find_priors
from ._common import (EXIT_USAGE, BaseCommand, ProgressBars, add_output_options, add_task_options, check_file_path,
                      choices_help, console, fmt, library_default, make_task, nonneg_float, num, positive_float,
                      positive_int, write_json)


def _default(name: str) -> Any:
    return library_default(find_priors, name)


def _momenta_text() -> str:
    *most, last = [num(m) for m in _default("momenta")]
    return f"{', '.join(most)} and {last}" if most else last


class LrFindCommand(BaseCommand):
    help = "LR range test: suggestions and an LR band, as a table, JSON and a figure"
    description = (f"Run an LR range test (Smith; exponential sweep {num(_default('start_lr'))} -> "
                   f"{num(_default('end_lr'))} over about one epoch, at least 100 steps) and print the suggested "
                   "learning rates and hybridtune's band [lr_min, lr_max]. The model, optimizer and RNG are left untouched. --momentum adds Smith's short momentum "
                   "runs (= probe).")
    #: probe always runs the momentum runs; lr-find only with --momentum
    with_momentum = False

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        _add_probe_options(p, momentum_flag=not self.with_momentum)

    def take_action(self, args: argparse.Namespace) -> int:
        return _run_lr_find(args, with_momentum=self.with_momentum or args.momentum_flag)


class ProbeCommand(LrFindCommand):
    help = "range-test priors: the range test plus short momentum runs"
    description = (f"Run the cheap probes (an LR range test, then short 1cycle runs at momentum "
                   f"{_momenta_text()}, or beta1 for Adam) and print the priors the search is built from.")
    with_momentum = True


def _add_probe_options(p: argparse.ArgumentParser, *, momentum_flag: bool) -> None:
    default = _default
    add_task_options(p)
    g = p.add_argument_group("range test")
    g.add_argument("--start-lr", type=positive_float, default=default("start_lr"),
                   help=f"first LR of the sweep (default: {num(default('start_lr'))})")
    g.add_argument("--end-lr", type=positive_float, default=default("end_lr"),
                   help=f"last LR of the sweep (default: {num(default('end_lr'))})")
    g.add_argument("--mode", default=default("mode"),
                   help=" or ".join(choices_help([("exp", "log-spaced"), ("linear", "")], default("mode"))))
    g.add_argument("--steps", type=positive_int,
                   help="steps of the sweep (default: about one epoch, at least 100)")
    g.add_argument("--batch-size", type=positive_int, default=default("batch_size"),
                   help=f"(default: {default('batch_size')})")
    g.add_argument("--weight-decay", type=nonneg_float, default=default("weight_decay"),
                   help=f"held fixed in the probes (default: {num(default('weight_decay'))})")
    g.add_argument("--val-every", type=positive_int,
                   help="Smith's validation mode: validation loss on a fixed subset every N steps")
    g = p.add_argument_group("momentum runs")
    if momentum_flag:
        g.add_argument("--momentum", dest="momentum_flag", action="store_true",
                       help="also run the short momentum runs and print the priors (= hybridtune probe)")
    g.add_argument("--momentum-epochs", type=positive_int, default=default("momentum_epochs"),
                   help=f"epochs per momentum run (default: {default('momentum_epochs')})")
    momenta = ",".join(num(m) for m in default("momenta"))
    g.add_argument("--momenta", default=momenta,
                   help=f"comma-separated momenta (or Adam beta1) to try (default: {momenta})")
    p.add_argument("--plot", metavar="PATH.html", help="write the figure(s) as an HTML file")
    add_output_options(p)
    p.set_defaults(momentum_flag=False)


def _parse_momenta(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--momenta must be comma-separated numbers, but got {text!r}.") from None


def _run_lr_find(args: argparse.Namespace, *, with_momentum: bool) -> int:
    from ..probes import lr_range_test
    from ..pipeline import range_test_page

    con = console(args)
    momenta = _parse_momenta(args.momenta)
    check_file_path("--plot", args.plot)
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
    _print_range_test(con, result, priors.cost if priors is not None else result.cost)
    if priors is not None:
        _print_priors(con, priors, args.momentum_epochs)
    if args.plot:
        range_test_page(result, args.plot, priors=priors)
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
        return EXIT_USAGE
    return 0


#: What each suggestion rule is, for the table
_RULES = {"steepest": "steepest fall of the loss against log10(LR)",
          "valley": "fastai's valley: halfway along the longest decreasing run",
          "min_div10": "a tenth of the LR at the loss minimum (the LR finder's rule)",
          "hybridtune": "hybridtune's lr_max (1cycle peak, top of the search)"}


def _print_range_test(con: Any, result: Any, cost: Any) -> None:
    from rich.table import Table

    table = Table(title=f"LR range test ({result.mode} sweep {result.start_lr:g} -> {result.end_lr:g}, "
                        f"{len(result.lrs)} steps)")
    for col, justify in (("rule", "left"), ("learning rate", "right"), ("what it is", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    if result.band is not None:
        table.add_row("[bold]band[/]", f"[bold]{result.band.lr_min:.3g} - {result.band.lr_max:.3g}[/]",
                      "hybridtune's \\[lr_min, lr_max]; lr_min = lr_max / 10 (Smith's 1cycle)")
    for name, lr in result.suggestions.items():
        table.add_row(name, f"{lr:.3g}", _RULES.get(name, ""))
    con.print(table)
    con.print(f"stopped: {result.stopped}")
    if result.band is not None:
        con.print(f"why: {result.band.reasoning}")
    con.print(f"cost: {cost.examples} examples, {cost.steps} steps, {cost.seconds:.1f}s"
              + (f", {cost.eval_examples} eval examples" if cost.eval_examples else ""))


def _print_priors(con: Any, priors: Any, momentum_epochs: int) -> None:
    from rich.table import Table

    runs = Table(title=f"short momentum runs at lr {priors.lr_max:.3g} ({momentum_epochs} epoch(s), 1cycle)")
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
