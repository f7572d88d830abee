"""The ``hybridtune`` command line: a thin layer over the public API.

Each command parses flags, calls one library function and renders the result (rich tables, progress
bars). Errors of the :class:`HybridTuneError` family become one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .._core._errors import ConfigError, HybridTuneError

EXIT_USAGE = 2
Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ----------------------------------------------------------------------------------------------
# Shared options and helpers


def add_task_options(p: argparse.ArgumentParser, *, model: str = "resnet", optimizer: str = "momentum") -> None:
    g = p.add_argument_group("task")
    g.add_argument("--model", default=model,
                   help=f"registry name (resnet, resnet20, cnn, mlp, ...), module:function or file.py:function "
                        f"(default: {model})")
    g.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="model option, repeatable, e.g. --model-arg depth=20 --model-arg width=2")
    g.add_argument("--dataset", default="mnist5k",
                   help="mnist5k (embedded, default), digits, synthetic[:n=..,shape=..,classes=..], cifar10:DIR, "
                        "mnist:DIR, fashion-mnist:DIR, module:function or file.py:function")
    g.add_argument("--optimizer", default=optimizer,
                   help="sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, adadelta "
                        f"(default: {optimizer})")
    g.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    g.add_argument("--seed", type=int, default=0, help="the one seed: init, data order (default: 0)")


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def parse_model_args(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise ConfigError(f"--model-arg must be KEY=VALUE, but got {pair!r}.")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = value
    return out


def make_task(args: argparse.Namespace) -> Any:
    from ..task._task import Task

    return Task(model=args.model, data=args.dataset, model_kwargs=parse_model_args(args.model_arg),
                optimizer=args.optimizer, device=args.device)


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write JSON atomically (a temp file renamed over the target), so a crash never leaves half a file."""
    from .._core._json import finite_json

    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"--json must be a file path, but got a directory: {str(target)!r}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(finite_json(payload), fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def quiet_optuna(args: argparse.Namespace) -> None:
    """Optuna logs every trial at INFO, and a failed trial's traceback at WARNING; the CLI shows progress
    bars and its own one-line reasons instead (``--debug`` keeps Optuna's logs)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.DEBUG if getattr(args, "debug", False) else optuna.logging.ERROR)


class ProgressBars:
    """One rich progress bar per phase, fed by the library's ``progress(phase, done, total)``."""

    def __init__(self, con: Any) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn)

        self.progress = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=con, disable=con.quiet)
        self.ids: dict[str, Any] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self.ids:
            self.ids[phase] = self.progress.add_task(phase, total=max(total, 1))
        self.progress.update(self.ids[phase], completed=done, total=max(total, 1))

    def __enter__(self) -> ProgressBars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


def console(args: argparse.Namespace) -> Any:
    from rich.console import Console

    return Console(quiet=getattr(args, "quiet", False), highlight=False)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, but got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, but got {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, but got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, but got {text}")
    return v


def nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, but got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, but got {text}")
    return v


def fmt(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


# ----------------------------------------------------------------------------------------------
# hybridtune train


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train once with the one trainer and print a table",
                       description="Train a model once (the same trainer every phase uses) and print "
                                   "per-epoch loss and accuracy, the final test accuracy and the cost.")
    add_task_options(p)
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=2, help="epochs to train (default: 2)")
    g.add_argument("--steps", type=positive_int, help="a step budget instead of epochs")
    g.add_argument("--lr", type=positive_float, default=0.05, help="learning rate; the peak for onecycle (default: 0.05)")
    g.add_argument("--momentum", type=float, default=0.9, help="momentum, or Adam's beta1 (default: 0.9)")
    g.add_argument("--weight-decay", type=nonneg_float, default=5e-4, help="on >=2-D weights only (default: 5e-4)")
    g.add_argument("--decay-all", action="store_true", help="apply weight decay to every parameter")
    g.add_argument("--batch-size", type=positive_int, default=128, help="(default: 128)")
    g.add_argument("--schedule", default="onecycle",
                   help="constant, onecycle (default), cyclic, power, cosine")
    g.add_argument("--target", type=float, help="stop at this accuracy, e.g. 0.97 (seed 000)")
    g.add_argument("--target-metric", default="train_acc", help="train_acc (default) or val_acc")
    g.add_argument("--max-seconds", type=positive_float, help="wall-clock budget")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    add_output_options(p)
    p.set_defaults(handler=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..train._trainer import TrainConfig, train

    con = console(args)
    config = TrainConfig(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                         weight_decay=args.weight_decay, decay_all=args.decay_all, batch_size=args.batch_size,
                         epochs=args.epochs, steps=args.steps, schedule=args.schedule, target=args.target,
                         target_metric=args.target_metric, max_seconds=args.max_seconds, seed=args.seed,
                         compile=args.compile)
    task = make_task(args)
    con.print(f"[bold]train[/] {task.model_name} on {task.data.name} "
              f"({len(task.data.train)} train / {len(task.data.val)} val / {len(task.data.test)} test) "
              f"with {config.optimizer}, lr {config.lr:g}, {config.schedule}, device {task.device}")
    model = task.build_model(seed=config.seed)
    table = Table(title="epochs")
    for col in ("epoch", "train loss", "train acc", "val loss", "val acc", "lr", "seconds"):
        table.add_column(col, justify="right")

    def on_epoch(e: Any) -> None:
        if not args.quiet:
            con.print(f"  epoch {e.epoch}: train loss {e.train_loss:.4f} acc {e.train_acc:.4f} | "
                      f"val loss {fmt(e.val_loss)} acc {fmt(e.val_acc)} | {e.seconds:.1f}s")

    result = train(task, config, model=model, on_epoch=on_epoch)
    for e in result.epochs:
        table.add_row(str(e.epoch), fmt(e.train_loss), fmt(e.train_acc), fmt(e.val_loss), fmt(e.val_acc),
                      fmt(e.lr, ".3g"), fmt(e.seconds, ".2f"))
    test_loss = test_acc = None
    if result.status != "diverged":
        test_loss, test_acc, _ = task.evaluate(model, task.data.test)
    con.print(table)
    c = result.cost
    con.print(f"status [bold]{result.status}[/] ({result.stop_reason}); test acc {fmt(test_acc)}; "
              f"cost {c.examples} examples, {c.steps} steps, {c.seconds:.1f}s, {c.eval_examples} eval examples")
    if args.json:
        payload = {"command": "train", "task": task.describe(), **result.to_dict(),
                   "test_loss": test_loss, "test_acc": test_acc}
        write_json(args.json, payload)
        con.print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------------------------
# hybridtune list


def _add_list(sub: Any) -> None:
    p = sub.add_parser("list", help="list the registered models, datasets, optimizers and schedules")
    add_output_options(p)
    p.set_defaults(handler=_run_list)


def _run_list(args: argparse.Namespace) -> int:
    from .. import OPTIMIZERS, SCHEDULES, list_datasets, list_models

    payload = {"models": list_models(), "datasets": list_datasets(), "optimizers": list(OPTIMIZERS),
               "schedules": [s for s in SCHEDULES if not s.startswith("range_")]}
    con = console(args)
    for key, values in payload.items():
        con.print(f"[bold]{key}[/]: {', '.join(values)}")
    if args.json:
        write_json(args.json, payload)
    return 0


# ----------------------------------------------------------------------------------------------
# Entry point

#: Commands defined in this module.
COMMANDS: list[Callable[[Any], None]] = [_add_train, _add_list]
#: Modules with more commands; each defines ``add_commands(subparsers)``. Imported only to build the parser.
COMMAND_MODULES: tuple[str, ...] = ("_diagnostics", "_probe", "_study")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="hybridtune",
                     description="Choose training hyper-parameters for PyTorch models: range-test priors, "
                                 "an Optuna search inside them, and a cost-fair comparison with grid search.")
    parser.add_argument("--version", action="version", version=f"hybridtune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in COMMANDS:
        add(sub)
    for module in COMMAND_MODULES:
        importlib.import_module(f"hybridtune.cli.{module}").add_commands(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler preempting a job, ``kill``): stops like Ctrl-C, so the running trial is marked."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input, 1 unexpected failure, 130 interrupted by
    Ctrl-C, 143 stopped by SIGTERM)."""
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        logging.getLogger("optuna").setLevel(logging.ERROR)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return int(args.handler(args) or 0)
    except HybridTuneError as exc:
        if debug:
            raise
        print(f"hybridtune {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        resume = {"study": "; the running trial is marked failed: re-run the same command to resume",
                  "worker": "; its running trial is marked failed and will run again"}.get(args.command, "")
        what = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"hybridtune {args.command}: {what}{resume}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def entry_point() -> NoReturn:
    sys.exit(main())
