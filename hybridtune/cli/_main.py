"""The ``hybridtune`` command line: a table of commands over the public API (optuna's ``cli.py``).

Each command (:class:`BaseCommand`) parses its flags, calls one library function and renders the result
(rich tables, progress bars). Errors of the :class:`HybridTuneError` family become one line on stderr and
exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .._core import HybridTuneError, StorageError, StorageUnreachable, exception_chain, is_query_canceled
from ._common import EXIT_STORAGE_LOST, EXIT_USAGE, BaseCommand, Parser
from ._diagnostics import LandscapeCommand, ProcedureCommand, SweepCommand
from ._probe import LrFindCommand, ProbeCommand
from ._study import DashboardCommand, DoctorCommand, ExportCommand, ReportCommand, StudyCommand, WorkerCommand
from ._train import ListCommand, TrainCommand

#: Every command, in the order ``hybridtune --help`` lists them.
_COMMANDS: dict[str, type[BaseCommand]] = {
    "train": TrainCommand,
    "list": ListCommand,
    "sweep": SweepCommand,
    "landscape": LandscapeCommand,
    "procedure": ProcedureCommand,
    "lr-find": LrFindCommand,
    "probe": ProbeCommand,
    "study": StudyCommand,
    "worker": WorkerCommand,
    "report": ReportCommand,
    "doctor": DoctorCommand,
    "export": ExportCommand,
    "dashboard": DashboardCommand,
}


def build_parser() -> Parser:
    from .. import __version__

    parser = Parser(prog="hybridtune",
                    description="Choose training hyper-parameters for PyTorch models: range-test priors, "
                                "an Optuna search inside them, and a cost-fair comparison with grid search.")
    parser.add_argument("--version", action="version", version=f"hybridtune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, command_class in _COMMANDS.items():
        command = command_class()
        p = sub.add_parser(name, help=command.help, description=command.description)
        command.add_arguments(p)
        p.set_defaults(handler=command.take_action)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler preempting a job, ``kill``): stops like Ctrl-C, so the running trial is marked."""


class _Signals:
    """The process's SIGTERM and SIGINT handlers while a command runs: each raises its interrupt (SIGTERM
    :class:`Terminated`, SIGINT ``KeyboardInterrupt``, as Python's own handler does) and remembers it, so an
    error that the interrupt caused but does not carry (see :func:`main`) still ends as the interrupt."""

    def __init__(self) -> None:
        self.received: KeyboardInterrupt | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        import signal

        self.received = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        raise self.received


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input, 3 a study that found nothing, 4 the database
    went away for longer than ``--storage-retry``, 5 ``doctor`` found something wrong, 1 unexpected failure,
    130 interrupted by Ctrl-C, 143 stopped by SIGTERM)."""
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        logging.getLogger("optuna").setLevel(logging.ERROR)
        # Ctrl-C can land while SQLAlchemy resets a pooled connection; it logs that with a traceback, which
        # is noise after our one line ("interrupted; ... re-run to resume"). --debug shows it.
        logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    in_main = threading.current_thread() is threading.main_thread()
    signals = _Signals()
    previous: dict[int, Any] = {}
    if in_main:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, signals)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where Ctrl-C is ignored (nohup)
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, signals)
    lines = _Lines(f"hybridtune {args.command}: ")
    for name in _LINE_LOGGERS:
        logging.getLogger(name).addHandler(lines)
        logging.getLogger(name).propagate = False
    try:
        return int(args.handler(args) or 0)
    except StorageUnreachable as exc:
        if debug:
            raise
        print(f"hybridtune {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_STORAGE_LOST
    except HybridTuneError as exc:
        if debug:
            raise
        print(f"hybridtune {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        return _interrupted(args.command, exc)
    except Exception as exc:
        # Ctrl-C or SIGTERM while Optuna records a trial (its _run_trial reads a name its ``finally`` never set
        # when the interrupt lands inside ``tell``): the interrupt is still the reason
        interrupt = _cause(exc, KeyboardInterrupt)
        # psycopg cancels the statement that the signal interrupted; the QueryCanceled (SQLSTATE 57014) that
        # Optuna then raises, wrapped, may be all that comes back up. Without a signal it is a statement
        # timeout or an administrator's cancel: a real error
        if interrupt is None and signals.received is not None and is_query_canceled(exc):
            interrupt = signals.received
        if interrupt is not None and not debug:
            return _interrupted(args.command, interrupt)
        # Optuna may hit a second error while it handles the storage's give-up or a full disk (it reads the
        # trial back in an ``except`` block): the storage's error is still the reason
        lost = _cause(exc, StorageUnreachable) or _cause(exc, StorageError)
        if lost is None or debug:
            raise
        print(f"hybridtune {args.command}: error: {lost}", file=sys.stderr)
        return EXIT_STORAGE_LOST if isinstance(lost, StorageUnreachable) else EXIT_USAGE
    finally:
        for name in _LINE_LOGGERS:
            logging.getLogger(name).removeHandler(lines)
            logging.getLogger(name).propagate = True
        for signum, handler in previous.items():
            signal.signal(signum, handler)


#: Loggers whose records are lines for the user, printed as ``hybridtune COMMAND: message``: the storage's
#: wait for a database that went away, the coordinator's wait for other processes' trials.
_LINE_LOGGERS = ("hybridtune.storage", "hybridtune.wait")


class _Lines(logging.Handler):
    """Prints a record as one line on the current ``sys.stderr`` (rich's progress bars redirect it, so the
    line lands above them)."""

    def __init__(self, prefix: str) -> None:
        super().__init__(logging.INFO)
        self.prefix = prefix

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            print(self.prefix + record.getMessage(), file=sys.stderr, flush=True)


def _interrupted(command: str, exc: BaseException) -> int:
    """The one line and the exit code of Ctrl-C (130) or SIGTERM (143)."""
    resume = {"study": "; the running trial is marked failed: re-run the same command to resume",
              "worker": "; its running trial is marked failed and will run again"}.get(command, "")
    what = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
    print(f"hybridtune {command}: {what}{resume}", file=sys.stderr)
    return 143 if isinstance(exc, Terminated) else 130


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of type ``kind`` in its chain of causes and contexts."""
    return next((e for e in exception_chain(exc) if isinstance(e, kind)), None)


def entry_point() -> NoReturn:
    sys.exit(main())
