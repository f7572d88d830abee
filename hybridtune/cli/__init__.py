"""The command line: a table of commands, each one parse -> one API call -> print."""

from ._main import entry_point, main

__all__ = ["entry_point", "main"]
