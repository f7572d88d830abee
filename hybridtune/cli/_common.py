"""Plumbing shared by every command: the command base class, the shared options, argument types, the
console, progress bars and JSON output.

Command modules import from here; this module imports no command module (the table in ``_main`` does).
Defaults shown in help texts are read from the library at parser-build time, never restated by hand.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from .._core import ConfigError, finite_json, is_positive_int, write_text

EXIT_USAGE = 2
#: ``study`` and ``report``: the study ran (or was read) but found nothing: every trial diverged or failed, or
#: its best is within noise of chance. Scripts can tell it from success (0) and from bad input (2).
EXIT_FOUND_NOTHING = 3
#: ``study``, ``worker``, ``report``, ``doctor``: the database went away and did not come back within
#: ``--storage-retry`` seconds. Re-running the same command resumes once it is back.
EXIT_STORAGE_LOST = 4
#: ``doctor``: the study has stuck trials (not repaired), missing grid cells or incomplete test retrains.
EXIT_UNHEALTHY = 5


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class BaseCommand:
    """One ``hybridtune`` command (optuna's ``_BaseCommand``): its flags, and an action that opens what it
    needs, calls one library function and prints the result. Returns the exit code."""

    help: ClassVar[str]
    description: ClassVar[str | None] = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    def take_action(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------
# The library's own defaults, for help texts


def library_default(func: Callable[..., Any], param: str) -> Any:
    """The default of ``func``'s parameter ``param``, or of a dataclass's field of that name."""
    if isinstance(func, type) and hasattr(func, "__dataclass_fields__"):
        for f in fields(func):
            if f.name == param:
                return f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
    return inspect.signature(func).parameters[param].default


def num(v: float) -> str:
    """A number as a help text shows it, the shorter way: ``1e-7``, ``5e-4``, ``0.05``, ``10``.

    Example:
        >>> [num(v) for v in (1e-7, 5e-4, 0.05, 10.0, 120.0)]
        ['1e-7', '5e-4', '0.05', '10', '120']
    """
    plain, short = (format(v, spec).replace("e-0", "e-").replace("e+0", "e+") for spec in ("g", ".0e"))
    return short if float(short) == v and len(short) < len(plain) else plain


def choices_help(choices: Sequence[tuple[str, str]], default: str) -> list[str]:
    """``(name, note)`` pairs as ``name (note)``, the default marked: ``exp (log-spaced, default)``."""
    out = []
    for name, note in choices:
        notes = [n for n in (note, "default" if name == default else "") if n]
        out.append(f"{name} ({', '.join(notes)})" if notes else name)
    return out


# ----------------------------------------------------------------------------------------------
# Shared options


def add_task_options(p: argparse.ArgumentParser, *, model: str | None = None, optimizer: str | None = None) -> None:
    """The task group; ``model`` and ``optimizer`` override :class:`hybridtune.Task`'s defaults."""
    from ..task import DIRECTIONS, KINDS, OPTIMIZERS, Task
    from ..train import TrainConfig

    model = model or library_default(Task, "model")
    optimizer = optimizer or library_default(Task, "optimizer")
    data = library_default(Task, "data")
    named = [("mnist5k", "embedded"), ("digits", ""), ("synthetic[:n=..,shape=..,classes=..]", ""),
             ("friedman[:n=..]", "regression"), ("tokens[:n=..,length=..]", "token sequences"),
             ("cifar10:DIR", ""), ("mnist:DIR", ""), ("fashion-mnist:DIR", ""), ("module:function or file.py:function", "")]
    datasets = choices_help(named, data)
    if data not in dict(named):
        datasets[-1] += f" (default: {data})"
    seed = library_default(TrainConfig, "seed")
    g = p.add_argument_group("task")
    g.add_argument("--model", default=model,
                   help=f"registry name (resnet, resnet20, cnn, mlp, ...), module:function or file.py:function "
                        f"(default: {model})")
    g.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="model option, repeatable, e.g. --model-arg depth=20 --model-arg width=2")
    g.add_argument("--dataset", default=data, help=", ".join(datasets))
    g.add_argument("--optimizer", default=optimizer, help=f"{', '.join(OPTIMIZERS)} (default: {optimizer})")
    g.add_argument("--device", default=library_default(Task, "device"),
                   help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    g.add_argument("--seed", type=int, default=seed, help=f"the one seed: init, data order (default: {seed})")
    g.add_argument("--kind", type=choice("kind", KINDS), metavar="|".join(KINDS),
                   help="what the task learns (default: read from the targets: integer class ids are "
                        "classification, float targets regression; multilabel is asked for by name)")
    g.add_argument("--direction", type=choice("direction", DIRECTIONS), metavar="|".join(DIRECTIONS),
                   help="which way the metric improves (default: the kind's metric's own: accuracy is "
                        "maximized, RMSE minimized)")


def add_output_options(p: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    if json_output:
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
    from ..task import Task

    return Task(model=args.model, data=args.dataset, model_kwargs=parse_model_args(args.model_arg),
                optimizer=args.optimizer, device=args.device, kind=args.kind, direction=args.direction)


# ----------------------------------------------------------------------------------------------
# Argument types


def choice(what: str, valid: Sequence[str]) -> Callable[[str], str]:
    """An argument type that takes one of ``valid``, refusing anything else with the library's own line
    (``kind must be one of ..., but got 'x'.`` and the closest valid name) while the flags are parsed."""
    from .._core import check_choice

    def parse(text: str) -> str:
        try:
            return check_choice(what, text, valid)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, but got {text!r}") from None
    if not is_positive_int(v):
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


# ----------------------------------------------------------------------------------------------
# Output


def console(args: argparse.Namespace) -> Any:
    """The command's rich console. Written to a file or a pipe (a log, CI) without ``COLUMNS`` set, it is 120
    columns wide instead of rich's 80, so that the comparison table keeps every column whole."""
    import os
    import sys

    from rich.console import Console

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
    return Console(quiet=getattr(args, "quiet", False), highlight=False, width=width)


def fmt(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def quiet_optuna(args: argparse.Namespace) -> None:
    """Optuna logs every trial at INFO, and a failed trial's traceback at WARNING; the CLI shows progress
    bars and its own one-line reasons instead (``--debug`` keeps Optuna's logs)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.DEBUG if getattr(args, "debug", False) else optuna.logging.ERROR)


class ProgressBars:
    """One rich progress bar per phase, fed by the library's ``progress(phase, done, total)``."""

    def __init__(self, con: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def check_file_path(flag: str, path: str | None) -> None:
    """An output path must not be a directory (checked before any work)."""
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"{flag} must be a file path, but got a directory: {path!r}.")


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write JSON atomically (a temp file renamed over the target), so a crash never leaves half a file."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"--json must be a file path, but got a directory: {str(target)!r}.")
    write_text(target, json.dumps(finite_json(payload), indent=2, allow_nan=False) + "\n", what="--json")
